"""Stop an action's own work before Pacemaker's deadline, and say so.

Pacemaker kills an agent that outlives ``CRM_meta_timeout`` and records only
"timed out". Stopping a little earlier lets the agent clean up and report what
it was doing. ``_signal`` rather than ``signal``: the latter imports ``enum``,
which costs a third of a bare interpreter's start-up on the monitor path.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found,unused-ignore]
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType


class ActionTimeout(Exception):
    """Raised inside the action when its own deadline passes."""


_deadline: float | None = None


def margin(timeout: float) -> float:
    """How long before Pacemaker's timeout the action's own work stops."""
    return max(0.5, min(5.0, timeout * 0.1))


def arm(timeout: float) -> None:
    """Raise ActionTimeout after ``timeout`` minus the margin."""
    global _deadline
    budget = max(0.1, timeout - margin(timeout))
    _deadline = time.monotonic() + budget

    def fire(signum: int, frame: FrameType | None) -> None:
        raise ActionTimeout(f"gave up after {budget:.1f} s, before Pacemaker's "
                            f"{timeout:.0f} s timeout")

    _signal.signal(_signal.SIGALRM, fire)
    _signal.setitimer(_signal.ITIMER_REAL, budget)


def disarm() -> None:
    global _deadline
    _deadline = None
    _signal.setitimer(_signal.ITIMER_REAL, 0)


def remaining() -> float | None:
    """Seconds left before the action's own deadline (None when unarmed)."""
    if _deadline is None:
        return None
    return max(0.0, _deadline - time.monotonic())
