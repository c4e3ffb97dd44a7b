"""Which step events the agent itself wrote into the workflow's history.

A step's start and stop carry their own history record in the CIB write they
make anyway (the outputs and effect flag; agents/step.py), so an event is in
the history before the action returns, and is not lost with a node that dies
a moment later (the alert agent's spool is node-local). The agent leaves a
node-local note of it here; the alert agent, which Pacemaker runs on the same
node once the action is over, reads the note and does not record the event a
second time. Notes are on tmpfs (``/run``): gone with the node, as the alerts
they answer. A note is ``TASK SECONDS`` (when it was written, in whole seconds since
the epoch): the alert's launcher reads it in the shell, where a file's age costs a
process (install.ALERT_LAUNCHER).
"""

from __future__ import annotations

import posix

from haflow.agents import marker


def directory() -> str:
    # beside the markers' directory, which only root may read: the alert runs as hacluster
    return marker.directory().rstrip("/").rpartition("/")[0] + "/recorded"


def _path(resource: str) -> str:
    return directory() + "/" + resource.replace("/", "_")


def note(resource: str, task: str) -> None:
    """Note that the history has this run of ``task`` of ``resource`` (atomically)."""
    import os
    import time

    os.makedirs(directory(), mode=0o755, exist_ok=True)
    path = _path(resource)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(f"{task} {int(time.time())}\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def by_agent(resource: str, task: str, since: float) -> bool:
    """Whether the agent noted ``task`` of ``resource`` at ``since`` or later (the
    action's own run, not an earlier one)."""
    path = _path(resource)
    try:
        if posix.stat(path).st_mtime < since:
            return False
        with open(path, encoding="utf-8") as handle:
            return handle.read().split()[:1] == [task]
    except OSError:
        return False
