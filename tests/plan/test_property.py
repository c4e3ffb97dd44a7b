"""Property: any valid DAG compiles to a CIB the scheduler starts in dependency order."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from haflow.coordinator.cluster import simulate
from haflow.coordinator.workflow.compiler import compile_workflow, merge_into
from haflow.coordinator.workflow.model import AgentSpec, Step, Workflow
from haflow.encoding import ids as naming

pytestmark = pytest.mark.tier0

AGENTS = (AgentSpec("ocf", "pacemaker", "Dummy"), AgentSpec("ocf", "haflow", "test"))


@st.composite
def workflows(draw: st.DrawFn) -> Workflow:
    """A DAG: each step may run after any subset of the steps before it."""
    count = draw(st.integers(min_value=1, max_value=8))
    names = [f"s{i}" for i in range(count)]
    steps = {}
    for index, name in enumerate(names):
        after = draw(st.lists(st.sampled_from(names[:index]), unique=True, max_size=3)
                     if index else st.just([]))
        steps[name] = Step(name=name, agent=draw(st.sampled_from(AGENTS)), after=tuple(after))
    return Workflow(name="prop", steps=steps)


def crm_verify(cib: etree._Element) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cib.xml"
        path.write_bytes(etree.tostring(cib))
        return subprocess.run(["crm_verify", "--xml-file", str(path)], capture_output=True,
                              text=True, timeout=60)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workflow=workflows(), node_count=st.integers(min_value=1, max_value=4))
def test_simulated_starts_respect_every_dependency(workflow: Workflow, node_count: int) -> None:
    cib = merge_into(simulate.skeleton(node_count), compile_workflow(workflow))
    verified = crm_verify(cib)
    assert verified.returncode == 0, verified.stderr
    graph = simulate.run(cib).graph
    rid = {name: naming.step_id(workflow.name, name) for name in workflow.steps}
    started = {a.resource for a in graph.actions.values() if a.task == "start"}
    assert set(rid.values()) <= started  # nothing stops a step from starting here
    # direct dependencies (transitive ones follow), and every step after the root
    deps = {rid[s]: [rid[d] for d in step.after] + [naming.root_id(workflow.name)]
            for s, step in workflow.steps.items()}
    assert simulate.starts_respect(graph, deps) == []
