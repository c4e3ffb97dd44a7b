"""Durations as workflow files write them (``90``, ``30s``, ``5min``) and as the CIB does."""

from __future__ import annotations

import re

DURATION_RE = re.compile(r"^([0-9]+)(ms|s|m|min|h)?$")
_UNIT_MS = {"ms": 1, "s": 1000, "": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000}


def parse_ms(value: int | str) -> int:
    """Milliseconds; a bare number is seconds. Raises ValueError on anything else."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"not a duration: {value!r}")
        return value * 1000
    match = DURATION_RE.match(value.strip())
    if not match:
        raise ValueError(f"not a duration: {value!r}")
    return int(match.group(1)) * _UNIT_MS[match.group(2) or ""]


def to_pacemaker(ms: int) -> str:
    """The canonical text for the CIB: whole seconds as ``Ns``, else ``Nms`` (stable bytes)."""
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"
