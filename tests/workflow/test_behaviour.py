"""What Pacemaker's own scheduler does with the compiled encoding (crm_simulate, offline).

These pin the reasons behind the encoding's choices: abort stops every step
in reverse order and the root last, losing the root's node restarts no step,
a joining node moves nothing, haflow steps are never probed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from haflow.coordinator.cluster import simulate
from haflow.coordinator.workflow.compiler import compile_workflow, merge_into
from haflow.coordinator.workflow.loader import load, loads
from haflow.encoding import read, write
from tests.workflow.cibtools import require

pytestmark = pytest.mark.tier0

GOLDEN = Path(__file__).parent / "golden"

WORKFLOW = """
name: wf
steps:
  a: {agent: test}
  b: {agent: test, after: [a]}
  c: {agent: test, after: [b]}
  d: {agent: test, after: [a], apart: [b]}
  ip: {agent: "ocf:heartbeat:Dummy", after: [a]}
"""
AFTER = {"a": [], "b": ["a"], "c": ["b"], "d": ["a"], "ip": ["a"]}


def _started(nodes: int = 3) -> etree._Element:
    require("crm_simulate")
    cib = merge_into(simulate.skeleton(nodes), compile_workflow(loads(WORKFLOW)))
    sim = simulate.run(cib, keep_output=True)
    assert sim.output is not None
    return sim.output


def _changes(graph: simulate.TransitionGraph) -> list[tuple[str, str | None]]:
    return sorted(
        (a.task, a.resource) for a in graph.actions.values() if a.changes_state and a.resource
    )


def _running_on(cib: etree._Element, resource: str) -> str:
    for state in cib.iterfind("status/node_state"):
        ops = state.xpath(f"lrm/lrm_resources/lrm_resource[@id='{resource}']/lrm_rsc_op")
        if any(op.get("operation") == "start" and op.get("rc-code") == "0" for op in ops):
            return str(state.get("uname"))
    raise AssertionError(f"{resource} runs nowhere")


def test_abort_stops_every_step_in_reverse_order_and_the_root_last() -> None:
    cib = _started()
    write.set_role(cib, "wf", "Stopped")
    graph = simulate.run(cib).graph
    stops = {a.resource: a for a in graph.actions.values() if a.task == "stop" and a.resource}
    assert set(stops) == {"wf.root", "wf.a", "wf.b", "wf.c", "wf.d", "wf.ip"}
    for step, deps in AFTER.items():
        for dep in deps or ["root"]:
            # the dependent's stop comes before (is an ancestor of) its dependency's stop
            for dep_stop in (
                a for a in graph.actions.values() if a.task == "stop" and a.resource == f"wf.{dep}"
            ):
                assert stops[f"wf.{step}"].id in graph.ancestors(dep_stop.id), (step, dep)


def test_losing_a_node_restarts_only_what_ran_there_and_its_dependents() -> None:
    cib = _started()
    node_of = {s: _running_on(cib, f"wf.{s}") for s in AFTER}
    for lost in sorted(set(node_of.values())):
        graph = simulate.run(cib, node_fail=[lost]).graph
        started = {r for task, r in _changes(graph) if task == "start" and r != "wf.root"}
        # what ran there, and (transitively) what runs after it; never the rest
        affected = {s for s, n in node_of.items() if n == lost}
        grew = True
        while grew:
            more = {s for s, deps in AFTER.items() if affected & set(deps)}
            grew = not more <= affected
            affected |= more
        assert started <= {f"wf.{s}" for s in affected}, (lost, started, affected)


def test_a_joining_node_moves_nothing() -> None:
    require("crm_simulate")
    cib = merge_into(simulate.skeleton(4), compile_workflow(loads(WORKFLOW)))
    status = cib.find("status")
    assert status is not None
    node4 = status.find("node_state[@id='4']")
    assert node4 is not None
    status.remove(node4)
    sim = simulate.run(cib, keep_output=True)
    assert sim.output is not None
    graph = simulate.run(sim.output, node_up=["node4"]).graph
    changes = _changes(graph)
    assert changes == [], changes


def test_losing_the_roots_node_restarts_no_step() -> None:
    """The root's orders to the first steps are Optional: it moves alone."""
    cib = _started()
    root_node = _running_on(cib, "wf.root")
    elsewhere = {s for s in AFTER if _running_on(cib, f"wf.{s}") != root_node}
    assert elsewhere, "every step ran on the root's node: nothing to check"
    graph = simulate.run(cib, node_fail=[root_node]).graph
    moved = {r for task, r in _changes(graph) if task in ("start", "stop")}
    assert "wf.root" in moved
    assert not moved & {f"wf.{s}" for s in elsewhere}, moved


def test_a_sweep_set_starts_a_fenced_root_again_on_a_survivor_and_nothing_else() -> None:
    """The alert agent's remedy when the root's node is fenced during a rollback
    (agents/alert/agent.py): its stop was implied by the fencing, so its sweep did not
    run. The sweep set outranks the abort's target-role: the root alone starts on a
    survivor; once the set is gone it stops again (its stop is the sweep)."""
    cib = _started()
    root_node = _running_on(cib, "wf.root")
    write.set_role(cib, "wf", "Stopped")
    sim = simulate.run(cib, node_fail=[root_node], keep_output=True)
    assert ("stop", "wf.root") not in _changes(sim.graph)  # implied by the fencing
    assert sim.output is not None
    root = read.root_of(sim.output, "wf")
    assert root is not None
    sweep = etree.SubElement(root, "meta_attributes", id="wf.root.sweep", score="INFINITY")
    etree.SubElement(sweep, "nvpair", id="wf.root.sweep.target-role", name="target-role",
                     value="Started")
    again = simulate.run(sim.output, keep_output=True)
    assert _changes(again.graph) == [("start", "wf.root")]
    assert again.output is not None and again.executed is not None
    started_on = {n for r, task, n, _ in again.executed if (r, task) == ("wf.root", "start")}
    assert started_on and root_node not in started_on
    write.set_role(again.output, "wf", "Stopped")  # drops the set, as the root's start does
    assert _changes(simulate.run(again.output).graph) == [("stop", "wf.root")]


def test_resuming_an_aborted_workflow_starts_it_again() -> None:
    cib = _started()
    write.set_role(cib, "wf", "Stopped")
    sim = simulate.run(cib, keep_output=True)
    assert sim.output is not None
    write.set_role(sim.output, "wf", None)
    assert read.target_role(sim.output, "wf") is None
    started = {r for task, r in _changes(simulate.run(sim.output).graph) if task == "start"}
    assert started == {"wf.root", *(f"wf.{s}" for s in AFTER)}


def test_haflow_steps_are_never_probed_foreign_ones_are() -> None:
    require("crm_simulate")
    cib = merge_into(simulate.skeleton(3), compile_workflow(loads(WORKFLOW)))
    graph = simulate.run(cib, simulate=False).graph
    probed = {a.resource for a in graph.actions.values() if a.is_probe}
    assert probed == {"wf.ip"}


def test_start_order_respects_dependencies() -> None:
    require("crm_simulate")
    cib = merge_into(simulate.skeleton(3), compile_workflow(loads(WORKFLOW)))
    graph = simulate.run(cib, simulate=False).graph
    deps = {f"wf.{s}": [f"wf.{d}" for d in ds] + ["wf.root"] for s, ds in AFTER.items()}
    assert simulate.starts_respect(graph, deps) == []


@pytest.mark.parametrize("name", ["linear", "chains", "diamond", "fanout-fanin", "pinned"])
def test_golden_start_and_abort_orders(name: str) -> None:
    """Starts follow ``after`` (root first); abort stops dependents before dependencies."""
    require("crm_simulate")
    wf = load(GOLDEN / f"{name}.yaml")
    cib = merge_into(simulate.skeleton(3), compile_workflow(wf))
    deps = {
        f"{wf.name}.{s.name}": [f"{wf.name}.{d}" for d in s.after] + [f"{wf.name}.root"]
        for s in wf.steps.values()
    }
    sim = simulate.run(cib, keep_output=True)
    assert simulate.starts_respect(sim.graph, deps) == []
    assert sim.output is not None
    write.set_role(sim.output, wf.name, "Stopped")
    graph = simulate.run(sim.output).graph
    stops = {a.resource: a.id for a in graph.actions.values() if a.task == "stop"}
    assert set(deps) <= set(stops)
    for step, before in deps.items():
        for dep in before:
            # every instance of the dependency stops after the dependent
            dep_stops = [
                a for a in graph.actions.values() if a.task == "stop" and a.resource == dep
            ]
            assert all(stops[step] in graph.ancestors(a.id) for a in dep_stops), (step, dep)


def test_crm_mon_resource_workflow_shows_exactly_its_steps(tmp_path: Path) -> None:
    require("crm_mon")
    cib = simulate.skeleton(3)
    for name in ("diamond", "linear"):
        cib = merge_into(cib, compile_workflow(load(GOLDEN / f"{name}.yaml")))
    sim = simulate.run(cib, keep_output=True)
    assert sim.output is not None
    path = tmp_path / "cib.xml"
    path.write_bytes(etree.tostring(sim.output))
    result = subprocess.run(
        ["crm_mon", "-1", "--resource=diamond", "--output-as=xml"],
        env={**os.environ, "CIB_file": str(path)},
        capture_output=True,
        check=True,
    )
    shown = {e.get("id") for e in etree.fromstring(result.stdout).iter("resource", "clone")}
    assert shown == {
        "diamond.root",
        "diamond.network",
        "diamond.volume",
        "diamond.image",
        "diamond.vm",
    }


def test_a_node_shutting_down_with_the_root_and_a_first_step_hands_both_over() -> None:
    """Seen in a chaos run: pacemaker stopped on the node running a root and its first
    step. The step migrates (a hand-over, no undo) and the root moved by stop and start:
    root start -> step migrate_to -> migrate_from -> the step's stop on the old node ->
    the root's stop (it stops after its first steps) -> root start, a loop. The
    scheduler's graph was invalid ("Transition failed: terminated"), so the node never
    shut down. The root hands over too, and the graph runs."""
    require("crm_simulate")
    cib = merge_into(simulate.skeleton(3), compile_workflow(loads(WORKFLOW)))
    constraints = cib.find("configuration/constraints")
    assert constraints is not None
    for rid in ("wf.root", "wf.a"):
        etree.SubElement(constraints, "rsc_location", id=f"{rid}.here", rsc=rid,
                         node="node1", score="100")
    started = simulate.run(cib, keep_output=True).output
    assert started is not None
    assert _running_on(started, "wf.root") == _running_on(started, "wf.a") == "node1"
    state = started.find("status/node_state[@uname='node1']")
    assert state is not None
    attrs = etree.SubElement(etree.SubElement(state, "transient_attributes", id="1"),
                             "instance_attributes", id="status-1")
    etree.SubElement(attrs, "nvpair", id="status-1-shutdown", name="shutdown",
                     value="1796532111")
    sim = simulate.run(started, keep_output=True)
    assert sim.executed is not None and ("", "do_shutdown", "node1", 0) in {
        (a.resource or "", a.task, a.node or "", 0) for a in sim.graph.actions.values()}
    for action in sim.graph.actions.values():
        assert action.id not in sim.graph.ancestors(action.id), f"{action.key} waits on itself"
    assert sim.output is not None
    for rid in ("wf.root", "wf.a"):
        assert sorted(a.task for a in sim.graph.actions.values() if a.resource == rid
                      and a.task.startswith("migrate")) == ["migrate_from", "migrate_to"], rid
        assert _active_on(sim.output, rid) not in (None, "node1"), rid


def _active_on(cib: etree._Element, resource: str) -> str | None:
    """The node ``resource`` runs on after a simulated transition: started or migrated
    there (crm_simulate records a migrate_from under its own id) and not stopped since."""
    for state in cib.iterfind("status/node_state"):
        ops = state.xpath(f"lrm/lrm_resources/lrm_resource[@id='{resource}']/lrm_rsc_op")
        ran = any(op.get("operation") in ("start", "migrate_from") and
                  op.get("rc-code") == "0" for op in ops)
        stopped = any(op.get("id") == f"{resource}_last_0" and op.get("operation") == "stop"
                      for op in ops)
        if ran and not stopped:
            return str(state.get("uname"))
    return None


def _action_meta(cib: etree._Element, tmp_path: Path, task: str) -> dict[str, dict[str, str]]:
    """The attributes the scheduler gives each resource's ``task`` action (as its agent
    gets them: CRM_meta_*), from crm_simulate's saved graph."""
    source, saved = tmp_path / f"{task}-cib.xml", tmp_path / f"{task}-graph.xml"
    source.write_bytes(etree.tostring(cib))
    subprocess.run(["crm_simulate", "--xml-file", str(source), "--save-graph", str(saved)],
                   check=True, capture_output=True, timeout=120)
    return {str(op.find("primitive").get("id")): dict(op.find("attributes").attrib)
            for op in etree.parse(str(saved)).iterfind("synapse/action_set/rsc_op")
            if op.get("operation") == task}


def test_the_shared_defaults_reach_haflow_steps_and_only_them(tmp_path: Path) -> None:
    """Stickiness, migration, the 60 s timeout and a stop that blocks rather than fences
    come from haflow's rsc_defaults/op_defaults sets, not from each step."""
    cib = _started()
    started = _action_meta(merge_into(simulate.skeleton(3), compile_workflow(loads(WORKFLOW))),
                           tmp_path, "start")
    assert started["wf.a"]["CRM_meta_timeout"] == "60000"
    assert started["wf.root"]["CRM_meta_timeout"] == "60000"
    write.set_role(cib, "wf", "Stopped")
    stopped = _action_meta(cib, tmp_path, "stop")
    for rid in ("wf.a", "wf.d", "wf.root"):
        assert (stopped[rid]["CRM_meta_timeout"], stopped[rid]["CRM_meta_on_fail"]) == (
            "60000", "block"), rid
    # a foreign agent's stop keeps Pacemaker's default (its own ops say no on-fail)
    assert "CRM_meta_on_fail" not in stopped["wf.ip"]


def test_the_shared_defaults_are_one_set_each_kept_where_they_are() -> None:
    """Every workflow carries them: merged again they replace the ones there, in place,
    so a second workflow (or a replacement) changes nothing of them."""
    once = merge_into(simulate.skeleton(3), compile_workflow(loads(WORKFLOW)))
    etree.SubElement(once.find("configuration/rsc_defaults"), "meta_attributes",
                     id="admins-own")
    twice = merge_into(once, compile_workflow(loads(WORKFLOW.replace("name: wf",
                                                                     "name: other"))))
    assert [s.get("id") for s in twice.find("configuration/rsc_defaults")] == [
        "haflow-defaults", "haflow-step-defaults", "admins-own"]
    assert [s.get("id") for s in twice.find("configuration/op_defaults")] == [
        "haflow-op-defaults", "haflow-stop-defaults"]


def _with_fail_count(cib: etree._Element, resource: str, count: int) -> str:
    """``cib`` with ``count`` failures of ``resource``'s monitor on the node it runs on
    (as the controller records them); that node."""
    node = _running_on(cib, resource)
    state = cib.find(f"status/node_state[@uname='{node}']")
    assert state is not None
    attrs = state.find("transient_attributes/instance_attributes")
    if attrs is None:
        held = etree.SubElement(state, "transient_attributes", id=state.get("id", ""))
        attrs = etree.SubElement(held, "instance_attributes", id=f"status-{state.get('id')}")
    name = f"fail-count-{resource}#monitor_30000"
    etree.SubElement(attrs, "nvpair", id=f"status-{node}-{name}", name=name, value=str(count))
    return node


def test_the_step_defaults_give_haflow_steps_their_retries_and_nothing_else() -> None:
    """A haflow step's migration-threshold (its retries and the first try) comes from
    the shared step defaults unless its retries differ; the root, not a step, keeps
    Pacemaker's INFINITY: three failures move a step and its dependent, not the root."""
    cib = merge_into(simulate.skeleton(3), compile_workflow(loads(
        WORKFLOW.replace("c: {agent: test, after: [b]}",
                         "c: {agent: test, after: [b], retries: 5}"))))
    assert read.migration_threshold(cib, read.primitive(cib, "wf.b")) == 3
    assert read.migration_threshold(cib, read.primitive(cib, "wf.c")) == 6
    assert read.migration_threshold(cib, read.primitive(cib, "wf.root")) == 1_000_000
    assert read.failure_policy(cib, read.primitive(cib, "wf.b")) == "rollback"
    sim = simulate.run(cib, keep_output=True)
    assert sim.output is not None
    failed = {rid: _with_fail_count(sim.output, rid, 3) for rid in ("wf.b", "wf.root")}
    moved = simulate.run(sim.output, keep_output=True)
    assert moved.output is not None
    assert _active_on(moved.output, "wf.b") not in (None, failed["wf.b"])
    assert _active_on(moved.output, "wf.root") == failed["wf.root"]
