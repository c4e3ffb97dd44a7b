"""Did every workflow survive? Judged from the test agent's records and the cluster.

The records (one line per action, every node appending to one shared file)
are replayed per idempotency key:

- an effect **duplicated**: a ``do`` while the key's effect already existed;
- an undo **skipped**: at the end (after an abort), an effect that still exists;
- a workflow **lost**: one that did not reach the state its policy promises;
- a **history event lost**: a start or stop the agent completed (its
  ``completed.log``) with no such event (step, node, task, ok) in ``haflow
  history``, taken before the workflows are removed. An action completed on a
  node whose partition had no quorum is not counted: a node cut off stops its
  steps on its own, in a CIB of its own that the cluster's replaces when it
  rejoins; the cluster counts those steps stopped by the node's fencing, which
  the history records;
- an **order violation**: an undo that found a step depending on it still with
  its effect (the ``exec`` workflows of the undo-order scenarios record them in
  ``violations.log``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from haflow.encoding.record import OK, Event
from haflow.lab import records

VIOLATIONS = "violations.log"
TASKS = {"started": "start", "stopped": "stop"}
NO_QUORUM = "quorum=0"  # the test agent's detail of an action completed without quorum

CREATES = ("do",)
REMOVES = ("undo", "drift")


@dataclass
class Audit:
    workflows: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    skipped_undos: list[str] = field(default_factory=list)
    history_lost: list[str] = field(default_factory=list)
    order_violations: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    LISTS = ("lost", "duplicated", "skipped_undos", "history_lost", "order_violations",
             "problems")

    @property
    def ok(self) -> bool:
        return not any(getattr(self, name) for name in self.LISTS)

    def merge(self, other: Audit) -> None:
        self.workflows += other.workflows
        for name in self.LISTS:
            getattr(self, name).extend(getattr(other, name))

    def summary(self) -> str:
        details = [f"{name.replace('_', ' ')}: {'; '.join(getattr(self, name))}"
                   for name in ("history_lost", "order_violations", "problems")
                   if getattr(self, name)]
        return (f"{self.workflows} workflows: {len(self.lost)} lost, {len(self.duplicated)} "
                f"effects duplicated, {len(self.skipped_undos)} undos skipped, "
                f"{len(self.history_lost)} history events lost, "
                f"{len(self.order_violations)} order violations"
                + "".join(f"; {d}" for d in details))


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


def history_lost(completed: list[records.Record],
                 histories: dict[str, list[Event]]) -> list[str]:
    """The completed starts and stops (``records.completed``) that the workflows'
    histories lack: counted per workflow, step, node and task."""
    had: dict[tuple[str, str, str, str], int] = {}
    for workflow, events in histories.items():
        for event in events:
            if event.outcome == OK and event.task in TASKS.values():
                key = (workflow, event.step, event.node, event.task)
                had[key] = had.get(key, 0) + 1
    missing: list[str] = []
    for entry in sorted(completed, key=lambda r: r.time):
        workflow, _, step = entry.resource.partition(".")
        if workflow not in histories or entry.event not in TASKS or \
                entry.detail == NO_QUORUM:
            continue
        key = (workflow, step, entry.node, TASKS[entry.event])
        if had.get(key, 0) > 0:
            had[key] -= 1
        else:
            missing.append(f"{entry.resource}: {key[3]} on {entry.node} at {entry.time:.1f}"
                           + (f" ({entry.detail})" if entry.detail else ""))
    return missing


def violations(state_dir: Path, workflows: list[str]) -> list[str]:
    path = state_dir / VIOLATIONS
    lines = path.read_text().splitlines() if path.exists() else []
    return [line for line in lines if line.split(":", 1)[0] in workflows]


def undone_too_early(entries: list[records.Record],
                     dependents: dict[str, dict[str, list[str]]]) -> list[str]:
    """Undos (the records' ``undo``, at the undo's end) of a step while a step depending on
    it (``dependents``: workflow -> step -> the steps after it) still had its effect."""
    present: set[str] = set()
    found: list[str] = []
    for entry in sorted(entries, key=lambda r: r.time):
        workflow, step, submission = [*entry.key.split("/"), "", ""][:3]
        if entry.event in CREATES:
            present.add(entry.key)
        elif entry.event in REMOVES:
            present.discard(entry.key)
            if entry.event != "undo":
                continue
            late = [d for d in dependents.get(workflow, {}).get(step, ())
                    if f"{workflow}/{d}/{submission}" in present]
            found += [f"{workflow}: {step} undone on {entry.node} while {d} still had its "
                      "effect" for d in late]
    return found


def audit(state_dir: Path, workflows: list[str], undone: list[str],
          states: dict[str, str] | None = None,
          expected: dict[str, str] | None = None,
          histories: dict[str, list[Event]] | None = None,
          dependents: dict[str, dict[str, list[str]]] | None = None) -> Audit:
    """Judge ``workflows`` from the records in ``state_dir``.

    ``undone``: the workflows that were aborted and must have no effect left.
    ``states``/``expected``: the workflows' final states and what their policy
    promises (a difference is a lost workflow). ``histories``: each workflow's
    history, read before it was removed. ``dependents``: each workflow's shape (workflow
    -> step -> the steps after it), for undos run before a dependent's (order violations).
    """
    entries = [r for r in records.read(state_dir) if r.key.split("/", 1)[0] in workflows]
    present, duplicated, problems = replay(entries)
    result = Audit(workflows=len(workflows), duplicated=duplicated, problems=problems,
                   order_violations=violations(state_dir, workflows)
                   + undone_too_early(entries, dependents or {}))
    if histories is not None:
        mine = [r for r in records.completed(state_dir) if r.key.split("/", 1)[0] in workflows]
        result.history_lost = history_lost(mine, histories)
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
