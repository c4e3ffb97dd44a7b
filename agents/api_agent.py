"""``ocf:haflow:api``: ``haflow serve`` as a Pacemaker resource, so the API is highly available.

``haflow service enable`` configures it with an ``IPaddr2`` address, colocated and
ordered: when the node running them fails, Pacemaker starts both on a survivor. The
API keeps no state of its own (users, templates and idempotency keys are in the CIB),
so the survivor answers a retried request as the first node would have.

start launches the server in its own session and waits until ``/v1/health`` answers;
monitor asks it again; stop ends it (SIGTERM, then SIGKILL at the deadline).
"""

from __future__ import annotations

import sys

from haflow.agents import ocfcodes
from haflow.agents.framework import Agent, OcfError, run
from haflow.agents.params import Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

RUN_DIR = "/run/haflow"
LOG = "/var/log/pacemaker/haflow-api.log"
POLL_S = 0.2


class ApiAgent(Agent):
    name = "api"
    version = "1.0"
    shortdesc = "haflow's HTTP API (haflow serve)"
    longdesc = ("Runs 'haflow serve' on the node Pacemaker chooses; with an IPaddr2 address "
                "colocated and ordered before it ('haflow service enable'), the API moves to "
                "a survivor when its node fails.")
    params = (
        Param("listen", shortdesc="HOST:PORT to serve on", required=True,
              longdesc="The address and port the API listens on (the IPaddr2's address)."),
        Param("haflow", shortdesc="Command that runs haflow", default="haflow",
              longdesc="The haflow command line (e.g. '/usr/bin/python3 -m "
              "haflow.coordinator.cli'), split like a shell would, without a shell."),
        Param("tls_cert", shortdesc="TLS certificate file", default=""),
        Param("tls_key", shortdesc="TLS key file", default=""),
    )
    timeouts: Mapping[str, int] = {**Agent.timeouts, "start": 60, "stop": 30, "monitor": 20}
    monitor_interval = 10

    # ---- helpers --------------------------------------------------------------------------

    @property
    def pidfile(self) -> str:
        return f"{RUN_DIR}/{self.resource}.pid"

    def _pid(self) -> int | None:
        import os

        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            return None
        if pid <= 0:
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid

    def _address(self) -> tuple[str, int]:
        host, _, port = str(self.values.get("listen", "")).rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)

    def _healthy(self, timeout: float) -> str | None:
        """None when /v1/health answers (200, or 503 while the cluster view is not synced:
        the server runs); else what went wrong."""
        import http.client
        import ssl

        host, port = self._address()
        if self.values.get("tls_cert"):
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request("GET", "/v1/health")
            status = conn.getresponse().status
        except OSError as exc:
            return f"{host}:{port} does not answer ({exc})"
        finally:
            conn.close()
        return None if status in (200, 503) else f"/v1/health answered {status}"

    # ---- actions --------------------------------------------------------------------------

    def validate(self) -> list[str]:
        problems = []
        host, _, port = str(self.values.get("listen", "")).rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            problems.append(f"parameter 'listen': expected HOST:PORT, got "
                            f"{self.values.get('listen')!r}")
        if bool(self.values.get("tls_cert")) != bool(self.values.get("tls_key")):
            problems.append("parameters 'tls_cert' and 'tls_key' go together")
        return problems

    def start(self) -> int:
        import os
        import shlex
        import subprocess
        import time

        self.require_valid()
        if self._pid() is not None and self._healthy(2.0) is None:
            return ocfcodes.SUCCESS
        argv = [*shlex.split(str(self.values["haflow"])), "serve", "--listen",
                str(self.values["listen"])]
        if self.values.get("tls_cert"):
            argv += ["--tls-cert", str(self.values["tls_cert"]), "--tls-key",
                     str(self.values["tls_key"])]
        os.makedirs(RUN_DIR, mode=0o755, exist_ok=True)
        with open(LOG, "ab") as log:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       start_new_session=True, close_fds=True)
        with open(self.pidfile, "w") as f:
            f.write(f"{process.pid}\n")
        deadline = time.monotonic() + self.timeout - 2
        problem = "not started"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise OcfError(ocfcodes.ERR_GENERIC, f"haflow serve exited {process.returncode} "
                               f"(see {LOG})")
            problem = self._healthy(1.0) or ""
            if not problem:
                return ocfcodes.SUCCESS
            time.sleep(POLL_S)
        raise OcfError(ocfcodes.ERR_GENERIC, f"haflow serve did not answer in time: {problem}")

    def monitor(self) -> int:
        if self._pid() is None:
            return ocfcodes.NOT_RUNNING
        problem = self._healthy(min(5.0, self.timeout / 2))
        if problem:
            raise OcfError(ocfcodes.ERR_GENERIC, problem)
        return ocfcodes.SUCCESS

    def stop(self) -> int:
        import contextlib
        import os
        import signal
        import time

        pid = self._pid()
        if pid is not None:
            os.killpg(pid, signal.SIGTERM)  # its session: the server and what it started
            deadline = time.monotonic() + max(1.0, self.timeout - 5)
            while time.monotonic() < deadline and self._pid() is not None:
                time.sleep(POLL_S)
            if self._pid() is not None:
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.pidfile)
        return ocfcodes.SUCCESS


def main() -> int:
    return run(ApiAgent)


if __name__ == "__main__":
    sys.exit(main())
