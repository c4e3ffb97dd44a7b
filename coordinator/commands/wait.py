"""``wait``: poll a workflow's status until it reaches a final state, or a timeout."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from haflow.coordinator.exitcodes import ExitCode

if TYPE_CHECKING:
    from haflow.coordinator.cluster.env import Env
    from haflow.coordinator.status import WorkflowStatus

POLL = 1.0  # seconds between two looks at the cluster
FAILED_GRACE = 20.0  # a failed rollback workflow gets this long for the alert to act
# an ended run's checkpoint is written once the DC is idle, within 30 s however busy
# (agents/checkpointer.py); one still pending after this went with its fenced node, and
# waits for the workflow's next checkpoint: the outcome is told without it
CHECKPOINT_GRACE = 60.0


def outcome(wf: WorkflowStatus, failed_since: float | None,
            pending_since: float | None = None) -> ExitCode | None:
    """The exit code of a workflow in a final state; None while it may still change.
    Done or rolled back counts once the outcome is on disk too, a moment after the
    last action (``pending_since``: since when it has been over with its checkpoint
    pending)."""
    from haflow.coordinator.status import WorkflowState

    if wf.awaiting_checkpoint and (
            pending_since is None or time.monotonic() - pending_since <= CHECKPOINT_GRACE):
        return None
    if wf.state == WorkflowState.DONE:
        return ExitCode.OK
    if wf.state == WorkflowState.ROLLED_BACK:
        return ExitCode.ROLLED_BACK
    if wf.state in (WorkflowState.HELD, WorkflowState.BLOCKED):
        return ExitCode.FAILED
    # under rollback the alert agent stops the root in a moment: wait for the rollback
    if wf.state == WorkflowState.FAILED and (
            wf.policy != "rollback" or (failed_since is not None and
                                        time.monotonic() - failed_since > FAILED_GRACE)):
        return ExitCode.FAILED
    return None


def wait(env: Env, workflow: str, timeout: float | None = None,
         seen: Callable[[WorkflowStatus], None] | None = None
         ) -> tuple[WorkflowStatus, ExitCode]:
    """Poll until the workflow is final (or ``timeout`` s: ExitCode.TIMEOUT); ``seen``
    gets every status read meanwhile. Returns the last status and the outcome."""
    from haflow.coordinator.commands.status import statuses
    from haflow.coordinator.status import WorkflowState

    deadline = None if timeout is None else time.monotonic() + timeout
    failed_since: float | None = None
    pending_since: float | None = None
    while True:
        wf = statuses(env, workflow)[0]
        if wf.state == WorkflowState.FAILED:
            failed_since = failed_since or time.monotonic()
        else:
            failed_since = None
        pending_since = (pending_since or time.monotonic()) if wf.awaiting_checkpoint \
            else None
        result = outcome(wf, failed_since, pending_since)
        if seen is not None:
            seen(wf)
        if result is None and deadline is not None and time.monotonic() > deadline:
            result = ExitCode.TIMEOUT
        if result is not None:
            return wf, result
        time.sleep(POLL)
