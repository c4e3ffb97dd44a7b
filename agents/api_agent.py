"""``ocf:haflow:api``: ``haflow serve`` as a Pacemaker resource, so the API is highly available.

``haflow service enable`` configures it with an ``IPaddr2`` address, colocated and
ordered: when the node running them fails, Pacemaker starts both on a survivor. The
API keeps no state of its own (users, templates and idempotency keys are in the CIB),
so the survivor answers a retried request as the first node would have. Ready: its
``/v1/health`` answers.
"""

from __future__ import annotations

import sys

from haflow.agents.daemon import HAFLOW_PARAM, DaemonAgent
from haflow.agents.framework import run
from haflow.agents.params import Param


class ApiAgent(DaemonAgent):
    name = "api"
    version = "1.0"
    shortdesc = "haflow's HTTP API (haflow serve)"
    longdesc = ("Runs 'haflow serve' on the node Pacemaker chooses; with an IPaddr2 address "
                "colocated and ordered before it ('haflow service enable'), the API moves to "
                "a survivor when its node fails.")
    params = (
        Param("listen", shortdesc="HOST:PORT to serve on", required=True,
              longdesc="The address and port the API listens on (the IPaddr2's address)."),
        HAFLOW_PARAM,
        Param("tls_cert", shortdesc="TLS certificate file", default=""),
        Param("tls_key", shortdesc="TLS key file", default=""),
    )

    def _address(self) -> tuple[str, int]:
        host, _, port = str(self.values.get("listen", "")).rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)

    def validate(self) -> list[str]:
        problems = []
        host, _, port = str(self.values.get("listen", "")).rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            problems.append(f"parameter 'listen': expected HOST:PORT, got "
                            f"{self.values.get('listen')!r}")
        if bool(self.values.get("tls_cert")) != bool(self.values.get("tls_key")):
            problems.append("parameters 'tls_cert' and 'tls_key' go together")
        return problems

    def argv(self) -> list[str]:
        argv = ["serve", "--listen", str(self.values["listen"])]
        if self.values.get("tls_cert"):
            argv += ["--tls-cert", str(self.values["tls_cert"]), "--tls-key",
                     str(self.values["tls_key"])]
        return argv

    def ready(self, timeout: float) -> str | None:
        """/v1/health answers (200, or 503 while the cluster's view is not synced: the
        server runs all the same)."""
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


def main() -> int:
    return run(ApiAgent)


if __name__ == "__main__":
    sys.exit(main())
