"""Placement no cluster can satisfy, found before Pacemaker would silently stop a step.

``with`` is transitive (a with b, b with c: all three share a node), so steps
joined by ``with`` form a group; a group may not hold two steps that must be
``apart``, and the nodes its members may use must overlap.
"""

from __future__ import annotations

from collections.abc import Iterator

from haflow.coordinator.codes import Code
from haflow.coordinator.workflow.model import Workflow

# (code, message, step, location key in the step)
Problem = tuple[Code, str, str, str]


class _Groups:
    """Union-find over steps joined by ``with``."""

    def __init__(self, names: list[str]) -> None:
        self.parent = {n: n for n in names}

    def find(self, name: str) -> str:
        while self.parent[name] != name:
            self.parent[name] = self.parent[self.parent[name]]
            name = self.parent[name]
        return name

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def impossible_placement(wf: Workflow) -> Iterator[Problem]:
    steps = wf.steps
    groups = _Groups(list(steps))
    for step in steps.values():
        for other in step.with_:
            if other in steps and other != step.name:
                groups.join(step.name, other)
    for step in steps.values():
        for i, other in enumerate(step.apart):
            if other not in steps or other == step.name:
                continue
            if other in step.with_:
                yield (
                    Code.IMPOSSIBLE_PLACEMENT,
                    f"'{other}' is both 'with' and 'apart' of this step",
                    step.name,
                    f"apart.{i}",
                )
            elif groups.find(other) == groups.find(step.name):
                yield (
                    Code.IMPOSSIBLE_PLACEMENT,
                    f"'{other}' must be apart from this step, but 'with' chains put them "
                    "on the same node",
                    step.name,
                    f"apart.{i}",
                )
        if step.nodes and set(step.nodes) <= set(step.avoid):
            yield (
                Code.IMPOSSIBLE_PLACEMENT,
                "'avoid' excludes every node in 'nodes'",
                step.name,
                "avoid",
            )
    yield from _group_nodes(wf, groups)


def _group_nodes(wf: Workflow, groups: _Groups) -> Iterator[Problem]:
    """Every member of a with-group runs on one node: their node lists must overlap."""
    members: dict[str, list[str]] = {}
    for name in wf.steps:
        members.setdefault(groups.find(name), []).append(name)
    for names in members.values():
        pinned = [wf.steps[n] for n in names if wf.steps[n].nodes]
        if len(names) < 2 or not pinned:
            continue
        allowed = set(pinned[0].nodes)
        for step in pinned[1:]:
            allowed &= set(step.nodes)
        for name in names:
            allowed -= set(wf.steps[name].avoid)
        if allowed:
            continue
        if any(set(s.nodes) <= set(s.avoid) for s in pinned):
            continue  # already reported on the step itself
        # report on the last pinned member: the one that makes the set empty
        culprit = pinned[-1] if len(pinned) > 1 else pinned[0]
        others = ", ".join(sorted(n for n in names if n != culprit.name))
        yield (
            Code.IMPOSSIBLE_PLACEMENT,
            f"runs with {others} (through 'with'), but no node is allowed for all of them "
            "by their 'nodes' and 'avoid'",
            culprit.name,
            "nodes",
        )
