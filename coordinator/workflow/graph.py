"""Dependency graph helpers: cycles and a deterministic topological order."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence


def find_cycles(after: Mapping[str, Sequence[str]], limit: int | None = None) -> list[list[str]]:
    """Each dependency cycle once, as ``[a, b, ..., a]`` (a depends on b ...), in file order;
    the first ``limit`` of them when given.

    ``after`` maps each step to the steps it runs after; unknown names are ignored.
    """
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(after, white)
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    for start in after:
        if color[start] != white:
            continue
        # iterative DFS: a 5,000-step chain must not hit Python's recursion limit. Each
        # frame keeps its known deps: recomputing them per visit was O(deps²) per step
        stack: list[tuple[str, list[str], int]] = [(start, _known(after, start), 0)]
        path: list[str] = [start]
        color[start] = grey
        while stack:
            node, deps, index = stack[-1]
            if index < len(deps):
                stack[-1] = (node, deps, index + 1)
                dep = deps[index]
                if color[dep] == grey:
                    cycle = [*path[path.index(dep) :], dep]
                    key = frozenset(cycle)
                    if key not in seen:
                        seen.add(key)
                        cycles.append(cycle)
                        if limit is not None and len(cycles) >= limit:
                            return cycles
                elif color[dep] == white:
                    color[dep] = grey
                    stack.append((dep, _known(after, dep), 0))
                    path.append(dep)
            else:
                color[node] = black
                stack.pop()
                path.pop()
    return cycles


def _known(after: Mapping[str, Sequence[str]], node: str) -> list[str]:
    return [d for d in after[node] if d in after]


def topological_order(after: Mapping[str, Sequence[str]]) -> list[str]:
    """Steps with every dependency before its dependents; ties keep file order (Kahn's)."""
    index = {name: i for i, name in enumerate(after)}
    waiting = {name: len({d for d in deps if d in after}) for name, deps in after.items()}
    dependents: dict[str, list[str]] = {name: [] for name in after}
    for name, deps in after.items():
        for dep in {d for d in deps if d in after}:
            dependents[dep].append(name)
    ready = [index[n] for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    names = list(after)
    order: list[str] = []
    while ready:
        name = names[heapq.heappop(ready)]
        order.append(name)
        for nxt in dependents[name]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                heapq.heappush(ready, index[nxt])
    if len(order) != len(names):
        raise ValueError("dependency cycle")
    return order


class Ancestors:
    """ "Does ``step`` run after ``other``, directly or transitively?", for many queries.

    One bitset per step (a Python int), built once in topological order: a
    5,000-step chain whose every step references an early output checks in
    milliseconds instead of walking the chain per reference.
    """

    def __init__(self, after: Mapping[str, Sequence[str]]) -> None:
        self.after = after
        self.index = {name: i for i, name in enumerate(after)}
        self.bits: dict[str, int] | None = None
        try:
            order = topological_order(after)
        except ValueError:
            return  # a cycle (reported elsewhere): answer by walking the graph
        bits: dict[str, int] = {}
        for name in order:
            mask = 0
            for dep in after[name]:
                if dep in self.index:
                    mask |= (1 << self.index[dep]) | bits[dep]
            bits[name] = mask
        self.bits = bits

    def __call__(self, step: str, other: str) -> bool:
        if other not in self.index or step not in self.index:
            return False
        if self.bits is not None:
            return bool(self.bits[step] >> self.index[other] & 1)
        seen: set[str] = set()
        todo = list(self.after[step])
        while todo:
            name = todo.pop()
            if name == other:
                return True
            if name not in seen and name in self.after:
                seen.add(name)
                todo.extend(self.after[name])
        return False
