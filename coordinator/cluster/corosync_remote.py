"""Run the bindings where an Env points: here, or inside a lab node.

Corosync's IPC is per node (abstract unix sockets per network namespace, libqb
shared memory in the node's own /dev/shm), so for a lab node the bindings must
run inside it: the snapshot module is re-run through the Env's nsenter prefix
with this very interpreter, and its JSON parsed back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from haflow.coordinator.cluster.env import Env
from haflow.coordinator.codes import Code
from haflow.coordinator.exitcodes import ExitCode
from haflow.coordinator.reports import HaflowError, Report, error

MODULE = "haflow.coordinator.corosync.snapshot"


def module_argv(env: Env, *args: str) -> list[str]:
    """The command line that runs the snapshot module as ``env``'s node."""
    return [*env.prefix, sys.executable, "-m", MODULE, *args]


def collect(env: Env, *args: str, timeout: float = 30.0) -> dict[str, Any]:
    """The snapshot module's JSON (``--quorum`` for the quorum view) from ``env``'s node."""
    if not env.prefix:
        from haflow.coordinator.corosync import snapshot

        return snapshot.quorum_view() if "--quorum" in args else snapshot.snapshot()
    try:
        result = subprocess.run(module_argv(env, *args), capture_output=True, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise error(Code.TOOL_TIMEOUT, f"corosync did not answer within {timeout:.0f} s on "
                    f"{env.description}") from exc
    try:
        data: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise error(Code.OPERATION_FAILED, f"reading corosync on {env.description} failed "
                    f"(exit {result.returncode}): {result.stderr.strip()[-500:]}") from exc
    if "errors" in data:
        reports = [Report(**{k: v for k, v in r.items() if k != "severity"})
                   for r in data["errors"]]
        raise HaflowError(*reports, exit_code=ExitCode(data.get("exit_code", 1)))
    return data
