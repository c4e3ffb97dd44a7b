"""Did every workflow survive? Judged from the test agent's records and the cluster.

The records (one line per action, every node appending to one shared file)
are replayed per idempotency key:

- an effect **duplicated**: a ``do`` while the key's effect already existed;
- an undo **skipped**: at the end (after an abort), an effect that still exists;
- a workflow **lost**: one that did not reach the state its policy promises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from haflow.lab import records

CREATES = ("do",)
REMOVES = ("undo", "drift")


@dataclass
class Audit:
    workflows: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    skipped_undos: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.skipped_undos or self.problems)

    def merge(self, other: Audit) -> None:
        self.workflows += other.workflows
        for name in ("lost", "duplicated", "skipped_undos", "problems"):
            getattr(self, name).extend(getattr(other, name))

    def summary(self) -> str:
        return (f"{self.workflows} workflows: {len(self.lost)} lost, {len(self.duplicated)} "
                f"effects duplicated, {len(self.skipped_undos)} undos skipped"
                + (f"; problems: {'; '.join(self.problems)}" if self.problems else ""))


def replay(entries: list[records.Record]) -> tuple[dict[str, bool], list[str], list[str]]:
    """Per key whether its effect exists at the end; duplicated keys; other problems."""
    present: dict[str, bool] = {}
    duplicated: list[str] = []
    problems: list[str] = []
    for entry in sorted(entries, key=lambda r: r.time):
        exists = present.get(entry.key, False)
        if entry.event in CREATES:
            if exists:
                duplicated.append(f"{entry.key} (again on {entry.node})")
            present[entry.key] = True
        elif entry.event in REMOVES:
            present[entry.key] = False
        elif entry.event == "adopt" and not exists:
            problems.append(f"{entry.key}: adopted on {entry.node} an effect never made")
    return present, duplicated, problems


def audit(state_dir: Path, workflows: list[str], undone: list[str],
          states: dict[str, str] | None = None,
          expected: dict[str, str] | None = None) -> Audit:
    """Judge ``workflows`` from the records in ``state_dir``.

    ``undone``: the workflows that were aborted and must have no effect left.
    ``states``/``expected``: the workflows' final states and what their policy
    promises (a difference is a lost workflow).
    """
    entries = [r for r in records.read(state_dir) if r.key.split("/", 1)[0] in workflows]
    present, duplicated, problems = replay(entries)
    result = Audit(workflows=len(workflows), duplicated=duplicated, problems=problems)
    files = set(records.effects(state_dir))
    for key, exists in sorted(present.items()):
        workflow = key.split("/", 1)[0]
        on_disk = key.replace("/", "__") in files
        if exists != on_disk:
            result.problems.append(f"{key}: the records and the effect files disagree")
        if workflow in undone and (exists or on_disk):
            result.skipped_undos.append(key)
    for workflow, want in (expected or {}).items():
        got = (states or {}).get(workflow, "missing")
        if got != want:
            result.lost.append(f"{workflow}: {got}, expected {want}")
    return result
