"""The heartbeat of a running action: a transient node attribute, ``EPOCH PERCENT MESSAGE``.

Written by the agents (agents/progress.py), read by ``haflow status``.
"""

from __future__ import annotations

from haflow.encoding.meta import HEARTBEAT_ATTR_PREFIX
from haflow.encoding.value import from_cib, to_cib

# seconds between heartbeats, unless HAFLOW_HEARTBEAT_INTERVAL says otherwise
DEFAULT_INTERVAL = 5.0


def attribute_name(resource: str) -> str:
    return HEARTBEAT_ATTR_PREFIX + resource


def format_value(now: float, percent: int | None, message: str) -> str:
    pct = "-" if percent is None else str(max(0, min(100, percent)))
    # the message folded to one line, and quoted where Pacemaker's writer would break it
    return f"{int(now)} {pct} {to_cib(' '.join(message.split()))}"


def parse_value(value: str) -> tuple[int, int | None, str]:
    """(epoch seconds, percent or None, message) from an attribute value; ValueError
    when it is not one."""
    stamp, _, rest = value.partition(" ")
    pct, _, message = rest.partition(" ")
    return int(stamp), (None if pct == "-" else int(pct)), from_cib(message)
