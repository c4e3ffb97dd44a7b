"""The history record: one event of a workflow, as the value of a meta attribute of its root.

``STEP EPOCH NODE TASK RC STATUS OUTCOME TEXT`` on one line, in the set
``ids.history_set_id(WF)``, named ``meta.EVENT_META_PREFIX + KEY``. Written by
the alert agent (step events, fencings, rollbacks, sweeps) and by the
coordinator (what an admin did, in the same patch as the doing of it); read
by ``haflow history``. Stdlib only and cheap (no dataclasses): the alert
agent runs for every resource event on every node.
"""

from __future__ import annotations

from haflow.encoding.value import from_cib, to_cib

# the "step" of a fencing in a workflow's history
FENCING_STEP = "(fencing)"
OK = "ok"
FAILED = "failed"

_FIELDS = ("time", "node", "step", "task", "rc", "status", "outcome", "text")


class Event:
    """What ran where and when, and how it ended."""

    __slots__ = _FIELDS

    def __init__(self, time: float, node: str, step: str, task: str, rc: int, status: int,
                 outcome: str, text: str) -> None:
        self.time = time
        self.node = node
        self.step = step  # a step name, "root", or FENCING_STEP
        self.task = task  # start, stop, monitor-30s, probe, rollback, or a fencing action
        self.rc = rc
        self.status = status
        self.outcome = outcome  # ok, failed, rollback, or the fencing result
        self.text = text

    def to_dict(self) -> dict[str, float | int | str]:
        return {name: getattr(self, name) for name in _FIELDS}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return "Event(" + ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items()) + ")"


def format_value(event: Event) -> str:
    """The record of ``event`` (its text folded to one line, and quoted where Pacemaker's
    writer would break it: value.py; no node is ``-``)."""
    return (f"{event.step} {event.time:.6f} {event.node or '-'} {event.task} {event.rc} "
            f"{event.status} {event.outcome} {to_cib(' '.join(event.text.split()))}"
            ).rstrip(" ")


def parse_value(value: str) -> Event | None:
    """The event a record holds; None when ``value`` is not one."""
    parts = value.split(" ", 7)
    if len(parts) < 7:
        return None
    try:
        return Event(float(parts[1]), parts[2], parts[0], parts[3], int(parts[4]),
                     int(parts[5]), parts[6], from_cib(parts[7]) if len(parts) > 7 else "")
    except ValueError:
        return None


def key(time: float, node: str, what: str) -> str:
    """An event's key (its id suffix and name suffix): unique per time, node and what."""
    return f"{time:.6f}".replace(".", "-") + f"-{node}-{what}"


def fencing_key(node: str, operation: str) -> str:
    """The key of a fencing: every node's alert writes the same one (the operation's
    reference), so that their writes are one record."""
    return f"fencing-{node}-{operation}"
