"""Property: random fan-outs (with max_parallel) and approval gates compile to CIBs whose
simulated transitions keep every dependency and every max_parallel.

Three transitions, as a real run has them: submitted (gates not approved: what they
hold and everything after it must not start), approved (the rest starts), aborted
(every step stops, in reverse order, at most max_parallel instances at once).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haflow.coordinator.cluster import simulate
from haflow.coordinator.cluster.simulate import Action, TransitionGraph
from haflow.coordinator.workflow.compiler import compile_workflow, merge_into
from haflow.coordinator.workflow.loader import loads
from haflow.coordinator.workflow.model import Workflow
from haflow.encoding import ids, tickets, write
from haflow.encoding.meta import STOPPED
from tests.plan.test_property import crm_verify

pytestmark = pytest.mark.tier0


@st.composite
def files(draw: st.DrawFn) -> dict[str, Any]:
    """A workflow file: a DAG of steps, some fanned out (0-5 items, maybe a max_parallel),
    some behind an approval gate."""
    count = draw(st.integers(min_value=1, max_value=5))
    names = [f"s{i}" for i in range(count)]
    steps: dict[str, Any] = {}
    for index, name in enumerate(names):
        spec: dict[str, Any] = {"agent": "test"}
        after = draw(st.lists(st.sampled_from(names[:index]), unique=True, max_size=2)
                     if index else st.just([]))
        if after:
            spec["after"] = after
        if draw(st.booleans()):
            items = draw(st.integers(min_value=0, max_value=5))
            spec["for_each"] = [f"i{i}" for i in range(items)]
            spec["params"] = {"output": "${item}"}
            lanes = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=3)))
            if lanes is not None:
                spec["max_parallel"] = lanes
        if draw(st.integers(min_value=0, max_value=3)) == 0:
            spec["approval"] = True
        steps[name] = spec
    return {"name": "prop", "steps": steps}


def _starts(graph: TransitionGraph, task: str) -> dict[str, Action]:
    return {str(a.resource): a for a in graph.actions.values()
            if a.task == task and a.resource}


def widest(graph: TransitionGraph, actions: list[Action]) -> int:
    """How many of ``actions`` can run at once: the largest set of them none of which
    waits for another (brute force: a fan-out has at most 5 instances)."""
    before = {a.id: graph.ancestors(a.id) for a in actions}
    for size in range(len(actions), 0, -1):
        for group in itertools.combinations(actions, size):
            if all(x.id not in before[y.id] and y.id not in before[x.id]
                   for x, y in itertools.combinations(group, 2)):
                return size
    return 0


def check_lanes(wf: Workflow, data: dict[str, Any], graph: TransitionGraph,
                task: str) -> None:
    found = _starts(graph, task)
    for name, spec in data["steps"].items():
        limit = spec.get("max_parallel")
        instances = [found[r] for r in (ids.step_id(wf.name, s)
                                         for s in wf.units.get(name, ())) if r in found]
        if limit is not None and instances:
            assert widest(graph, instances) <= limit, (name, task, len(instances), limit)


def check_order(wf: Workflow, graph: TransitionGraph) -> None:
    deps = {ids.step_id(wf.name, s): [ids.step_id(wf.name, d) for d in step.after]
            for s, step in wf.steps.items()}
    assert simulate.starts_respect(graph, deps) == []


def held_by_gates(wf: Workflow) -> set[str]:
    """The steps a gate holds and every step after one of those."""
    held = {s for steps in wf.gates.values() for s in steps}
    return held | {s for s in wf.steps if wf.dependencies(s) & held}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=files(), node_count=st.integers(min_value=1, max_value=3))
def test_fan_outs_and_gates_keep_every_dependency_and_max_parallel(
        data: dict[str, Any], node_count: int) -> None:
    wf = loads(json.dumps(data), "prop.yaml")
    cib = merge_into(simulate.skeleton(node_count), compile_workflow(wf))
    verified = crm_verify(cib)
    assert verified.returncode == 0, verified.stderr
    rid = {s: ids.step_id(wf.name, s) for s in wf.steps}

    submitted = simulate.run(cib, keep_output=True)
    started = set(_starts(submitted.graph, "start"))
    held = held_by_gates(wf)
    assert {rid[s] for s in held} & started == set(), "a gate let a step through"
    assert {rid[s] for s in wf.steps if s not in held} <= started
    check_order(wf, submitted.graph)
    check_lanes(wf, data, submitted.graph, "start")

    assert submitted.output is not None
    approved = submitted.output
    for gate in wf.gates:
        tickets.grant(approved, ids.approval_ticket(wf.name, gate))
    after = simulate.run(approved, keep_output=True)
    assert set(_starts(after.graph, "start")) == {rid[s] for s in held}
    check_order(wf, after.graph)
    check_lanes(wf, data, after.graph, "start")

    assert after.output is not None
    write.set_role(after.output, wf.name, STOPPED)
    aborted = simulate.run(after.output).graph
    stops = _starts(aborted, "stop")
    assert set(rid.values()) <= set(stops)
    check_lanes(wf, data, aborted, "stop")
    for step, spec in wf.steps.items():  # undo in reverse: a step stops before its deps
        for dep in spec.after:
            assert stops[rid[step]].id in aborted.ancestors(stops[rid[dep]].id), (step, dep)
