"""Property-based: random valid workflows (DAGs with placement) validate, compile
deterministically, and the result passes crm_verify in a cluster skeleton.

Each example spawns crm_verify, so example counts stay modest.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from haflow.coordinator.reports import HaflowError
from haflow.coordinator.workflow.compiler import compile_workflow
from haflow.coordinator.workflow.loader import loads
from tests.workflow.cibtools import verify_compiled

pytestmark = pytest.mark.tier0

NODES = ["node1", "node2", "node3"]
AGENTS = ["test", "ocf:heartbeat:Dummy"]


@st.composite
def workflows(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(min_value=1, max_value=14))
    names = [f"s{i}" for i in range(count)]
    steps: dict[str, Any] = {}
    for i, name in enumerate(names):
        step: dict[str, Any] = {"agent": draw(st.sampled_from(AGENTS))}
        # edges only point backwards: always a DAG
        after = draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=3)) if i else []
        if after:
            step["after"] = after
        if i and draw(st.booleans()) and draw(st.booleans()):
            step["apart"] = [draw(st.sampled_from(names[:i]))]
        if i and draw(st.integers(0, 3)) == 0:
            step["with"] = [draw(st.sampled_from(names[:i]))]
        if after and draw(st.booleans()):
            # an output reference to a step it runs after
            step["agent"] = "exec"
            step["params"] = {"do": f"echo ${{steps.{draw(st.sampled_from(after))}.out}}"}
        if draw(st.integers(0, 4)) == 0:
            step["nodes"] = draw(st.lists(st.sampled_from(NODES), min_size=1, unique=True))
        if draw(st.integers(0, 4)) == 0:
            step["avoid"] = [draw(st.sampled_from(NODES))]
            if set(step.get("nodes", ())) <= set(step["avoid"]) and "nodes" in step:
                del step["avoid"]
        if draw(st.integers(0, 4)) == 0:
            step["timeout"] = draw(st.sampled_from([5, "90s", "2min", "1500ms"]))
            step["retries"] = draw(st.integers(0, 5))
            step["interval"] = draw(st.sampled_from([0, "10s", "1min"]))
            step["failure_policy"] = draw(st.sampled_from(["hold", "rollback"]))
        steps[name] = step
    return {
        "name": f"wf{draw(st.integers(0, 999))}",
        "failure_policy": draw(st.sampled_from(["hold", "rollback"])),
        "steps": steps,
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workflows())
def test_random_dags_compile_to_cibs_crm_verify_accepts(data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=1)  # JSON is YAML
    try:
        wf = loads(text, "random.yaml")
    except HaflowError as err:
        # random with/apart/nodes can contradict; the validator must say so, nothing else
        assert {r.code for r in err.reports} == {"IMPOSSIBLE_PLACEMENT"}, str(err)
        assume(False)
    compiled = compile_workflow(wf)
    assert compiled.to_xml() == compile_workflow(loads(text, "random.yaml")).to_xml()
    ids = compiled.resource_ids()
    assert len(ids) == len(data["steps"]) + 1
    verify_compiled(compiled)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_cycle_is_always_named(data: st.DataObject) -> None:
    size = data.draw(st.integers(2, 8))
    names = [f"n{i}" for i in range(size)]
    # a ring n0 <- n1 <- ... <- n0, plus noise edges that keep it a ring
    steps = {n: {"agent": "test", "after": [names[i - 1]]} for i, n in enumerate(names)}
    text = json.dumps({"name": "ring", "steps": steps})
    with pytest.raises(HaflowError) as err:
        loads(text)
    cycles = [r for r in err.value.reports if r.code == "CYCLE"]
    assert len(cycles) == 1
    assert set(cycles[0].details["cycle"]) == set(names)
