"""An agent whose resource is a long-running haflow process (the API, the secrets keeper).

start launches it in its own session, records its pid under /run/haflow and waits until
``ready`` says so; monitor checks the pid and ``ready``; stop ends its session
(SIGTERM, then SIGKILL at the deadline).
"""

from __future__ import annotations

from haflow.agents import ocfcodes
from haflow.agents.framework import Agent, OcfError
from haflow.agents.params import Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

RUN_DIR = "/run/haflow"
LOG_DIR = "/var/log/pacemaker"
POLL_S = 0.2
HAFLOW_PARAM = Param(
    "haflow", shortdesc="Command that runs haflow", default="haflow",
    longdesc="The haflow command line (e.g. '/usr/bin/python3 -m haflow.coordinator.cli'), "
    "split like a shell would, without a shell.")


class DaemonAgent(Agent):
    timeouts: Mapping[str, int] = {**Agent.timeouts, "start": 60, "stop": 30, "monitor": 20}
    monitor_interval = 10

    def argv(self) -> list[str]:
        """haflow's arguments (after the ``haflow`` command) that run the process."""
        raise NotImplementedError

    def ready(self, timeout: float) -> str | None:
        """None when the process does its job; else what is wrong."""
        return None

    @property
    def pidfile(self) -> str:
        return f"{RUN_DIR}/{self.resource.split(':')[0]}.pid"

    @property
    def log_file(self) -> str:
        return f"{LOG_DIR}/haflow-{self.name}.log"

    def pid(self) -> int | None:
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

    def start(self) -> int:
        import os
        import shlex
        import subprocess
        import time

        self.require_valid()
        if self.pid() is not None and self.ready(2.0) is None:
            return ocfcodes.SUCCESS
        argv = [*shlex.split(str(self.values.get("haflow") or "haflow")), *self.argv()]
        os.makedirs(RUN_DIR, mode=0o755, exist_ok=True)
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       start_new_session=True, close_fds=True)
        with open(self.pidfile, "w") as f:
            f.write(f"{process.pid}\n")
        deadline = time.monotonic() + self.timeout - 2
        problem = "not started"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise OcfError(ocfcodes.ERR_GENERIC, f"{argv[-1]} exited {process.returncode} "
                               f"(see {self.log_file})")
            problem = self.ready(1.0) or ""
            if not problem:
                return ocfcodes.SUCCESS
            time.sleep(POLL_S)
        raise OcfError(ocfcodes.ERR_GENERIC, f"not ready in time: {problem}")

    def monitor(self) -> int:
        if self.pid() is None:
            return ocfcodes.NOT_RUNNING
        problem = self.ready(min(5.0, self.timeout / 2))
        if problem:
            raise OcfError(ocfcodes.ERR_GENERIC, problem)
        return ocfcodes.SUCCESS

    def stop(self) -> int:
        import contextlib
        import os
        import signal
        import time

        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)  # its session: the process and its children
            deadline = time.monotonic() + max(1.0, self.timeout - 5)
            while time.monotonic() < deadline and self.pid() is not None:
                time.sleep(POLL_S)
            if self.pid() is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.pidfile)
        return ocfcodes.SUCCESS
