"""Reading the ``test`` agent's records: what ran, where, how many effects (the evidence
the fault suite audits)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Record:
    time: float
    node: str
    resource: str
    key: str
    event: str
    detail: str


def read(state_dir: Path, log: str = "records.log") -> list[Record]:
    path = state_dir / log
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        stamp, node, resource, key, event, detail = line.split("\t")
        out.append(Record(float(stamp), node, resource, key, event, detail))
    return out


def completed(state_dir: Path) -> list[Record]:
    """The starts and stops that completed (events ``started``, ``stopped``)."""
    return read(state_dir, "completed.log")


def events(state_dir: Path, resource: str | None = None) -> list[str]:
    return [r.event for r in read(state_dir) if resource in (None, r.resource)]


def effects(state_dir: Path) -> list[str]:
    """Effect files that exist now (one per step that is done)."""
    folder = state_dir / "effects"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def append(state_dir: Path, node: str, resource: str, key: str, event: str,
           detail: str = "") -> None:
    """Add a record as the test agent would (for faults made outside the agent)."""
    line = "\t".join((f"{time.time():.3f}", node, resource, key, event, detail))
    with open(state_dir / "records.log", "a") as handle:
        handle.write(line + "\n")
