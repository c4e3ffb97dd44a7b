"""simulate: crm_simulate runs offline and its graph becomes actions, waves and an order."""

from __future__ import annotations

import pytest
from lxml import etree

from haflow.coordinator.cluster import simulate
from haflow.coordinator.reports import HaflowError

pytestmark = pytest.mark.tier0


def dummy_cib(nodes: int, orders: list[tuple[str, str]], names: list[str]) -> etree._Element:
    cib = simulate.skeleton(nodes)
    resources = cib.find("configuration/resources")
    constraints = cib.find("configuration/constraints")
    assert resources is not None and constraints is not None
    for name in names:
        etree.SubElement(resources, "primitive", id=name, type="Dummy", provider="pacemaker",
                         **{"class": "ocf"})
    for first, then in orders:
        etree.SubElement(constraints, "rsc_order", id=f"o-{first}-{then}", first=first,
                         then=then)
    return cib


def test_a_chain_starts_in_one_wave_per_step() -> None:
    cib = dummy_cib(2, [("W.a", "W.b"), ("W.b", "W.c")], ["W.a", "W.b", "W.c"])
    result = simulate.run(cib)
    waves = result.graph.waves()
    assert [[a.resource for a in wave] for wave in waves] == [["W.a"], ["W.b"], ["W.c"]]
    assert all(a.task == "start" and a.node in ("node1", "node2") for w in waves for a in w)
    # probes happen, but are not waves of their own
    assert any(a.is_probe for a in result.graph.actions.values())
    assert simulate.starts_respect(result.graph, {"W.c": ["W.b", "W.a"], "W.b": ["W.a"]}) == []
    assert "W.a_start_0" in result.dot


def test_independent_steps_share_a_wave_and_unordered_ones_are_flagged() -> None:
    cib = dummy_cib(3, [("W.a", "W.c"), ("W.b", "W.c")], ["W.a", "W.b", "W.c"])
    graph = simulate.run(cib).graph
    assert [sorted(a.resource or "" for a in w) for w in graph.waves()] == [
        ["W.a", "W.b"], ["W.c"]]
    # a and b have no order between them: claiming one is a violation
    assert simulate.starts_respect(graph, {"W.b": ["W.a"]}) == ["W.b may start before W.a"]


def test_the_output_state_runs_everything_and_a_node_loss_moves_it() -> None:
    cib = dummy_cib(2, [("W.a", "W.b")], ["W.a", "W.b"])
    first = simulate.run(cib, keep_output=True)
    assert first.output is not None
    placed = {a.resource: a.node for a in first.graph.actions.values() if a.task == "start"}
    again = simulate.run(first.output)
    assert not [a for a in again.graph.actions.values() if a.changes_state]
    lost = placed["W.a"]
    assert lost is not None
    recovery = simulate.run(first.output, node_fail=[lost]).graph
    starts = [a for a in recovery.actions.values() if a.task == "start"]
    assert starts and all(a.node != lost for a in starts)


def test_a_bad_cib_is_a_report_not_a_traceback() -> None:
    cib = dummy_cib(1, [], ["W.a"])
    cib.set("crm_feature_set", "99.0.0")
    with pytest.raises(HaflowError) as caught:
        simulate.run(cib)
    assert caught.value.reports[0].code in ("SIMULATE_VERSION", "SIMULATE_FAILED")


def test_parse_graph_reads_synapses_inputs_and_intervals() -> None:
    xml = """<transition_graph>
      <synapse id="0"><action_set>
        <rsc_op id="2" operation="monitor" operation_key="W.a_monitor_10000" on_node="n1">
          <primitive id="W.a" class="ocf" provider="pacemaker" type="Dummy"/>
          <attributes CRM_meta_interval="10000"/></rsc_op></action_set>
        <inputs><trigger><rsc_op id="1" operation="start" operation_key="W.a_start_0"
          on_node="n1"/></trigger></inputs></synapse>
      <synapse id="1"><action_set>
        <rsc_op id="1" operation="start" operation_key="W.a_start_0" on_node="n1">
          <primitive id="W.a" class="ocf" provider="pacemaker" type="Dummy"/>
          <attributes/></rsc_op></action_set><inputs/></synapse>
    </transition_graph>"""
    graph = simulate.parse_graph(xml)
    assert graph.actions[2].interval_ms == 10000 and graph.actions[2].inputs == (1,)
    assert [a.id for a in graph.topological()] == [1, 2]
    assert [[a.id for a in w] for w in graph.waves()] == [[1]]
