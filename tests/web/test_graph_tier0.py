"""The web view's graph: steps and ``after`` edges read from a CIB, laid out by Graphviz."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from haflow.coordinator.codes import Code
from haflow.coordinator.commands import graph
from haflow.coordinator.reports import HaflowError

pytestmark = pytest.mark.tier0
DATA = Path(__file__).resolve().parent.parent / "live" / "data"


def boxes_overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
                or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"])


def test_the_graph_has_every_step_and_every_after_of_the_cib() -> None:
    cib = etree.parse(str(DATA / "done.cib.xml")).getroot()
    got = graph.workflow_graph(cib, "t1done")
    assert [s.name for s in got.steps] == ["a", "b"]
    assert got.edges == [("a", "b")]  # the root's orders are not steps' edges


def test_a_workflow_not_in_the_cib_is_not_found() -> None:
    cib = etree.parse(str(DATA / "done.cib.xml")).getroot()
    with pytest.raises(HaflowError) as caught:
        graph.workflow_graph(cib, "nosuch")
    assert caught.value.reports[0].code == Code.WORKFLOW_NOT_FOUND


def diamond_with_a_group() -> graph.Graph:
    steps = [graph.GraphStep("vm", "ocf:haflow:test"),
             *(graph.GraphStep(f"host{i}", "ocf:haflow:exec", group="deploy") for i in range(3)),
             graph.GraphStep("announce", "ocf:haflow:exec", gate=True)]
    edges = [("vm", f"host{i}") for i in range(3)] + [(f"host{i}", "announce")
                                                     for i in range(3)]
    return graph.Graph("w", steps, edges, {"deploy": "fan-out"})


def test_layout_places_every_step_without_overlap_each_after_below() -> None:
    laid = graph.layout(diamond_with_a_group())
    steps = laid["steps"]
    assert set(steps) == {"vm", "host0", "host1", "host2", "announce"}
    names = sorted(steps)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not boxes_overlap(steps[a], steps[b]), (a, b)
        assert steps[a]["x"] >= 0 and steps[a]["x"] + steps[a]["w"] <= laid["width"] + 0.5
        assert steps[a]["y"] >= 0 and steps[a]["y"] + steps[a]["h"] <= laid["height"] + 0.5
    for edge in laid["edges"]:
        assert steps[edge["from"]]["y"] < steps[edge["to"]]["y"], edge
        assert edge["d"].startswith("M")
    assert {(e["from"], e["to"]) for e in laid["edges"]} == set(diamond_with_a_group().edges)
    assert steps["announce"]["gate"] is True and steps["vm"]["gate"] is False


def test_a_group_box_holds_its_steps_and_no_other() -> None:
    laid = graph.layout(diamond_with_a_group())
    (group,) = laid["groups"]
    assert group["name"] == "deploy" and group["kind"] == "fan-out"
    for name, box in laid["steps"].items():
        inside = (group["x"] <= box["x"] and box["x"] + box["w"] <= group["x"] + group["w"]
                  and group["y"] <= box["y"] and box["y"] + box["h"] <= group["y"] + group["h"])
        assert inside == name.startswith("host"), name


def test_a_layout_is_made_once_per_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    shape = graph.Graph("cached", [graph.GraphStep("x", "a"), graph.GraphStep("y", "a")],
                        [("x", "y")])
    first = graph.layout(shape)
    monkeypatch.setattr(graph, "_run_dot", lambda text: pytest.fail("dot ran again"))
    assert graph.layout(graph.Graph("cached", list(shape.steps), list(shape.edges))) is first


def test_without_graphviz_the_error_names_the_package(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HaflowError) as caught:
        graph.layout(graph.Graph("nodot", [graph.GraphStep("lonely", "a")], []))
    assert caught.value.reports[0].code == Code.GRAPHVIZ_MISSING
    assert "graphviz" in str(caught.value)


def test_names_dot_would_read_as_syntax_are_laid_out() -> None:
    steps = [graph.GraphStep('we"ird', "a", group='g"1'), graph.GraphStep("b-2", "a")]
    laid = graph.layout(graph.Graph("quoted", steps, [('we"ird', "b-2")]))
    assert set(laid["steps"]) == {'we"ird', "b-2"}
    assert laid["groups"][0]["name"] == 'g"1'


def test_fan_out_instances_and_sub_workflow_steps_are_grouped_and_gates_marked() -> None:
    from haflow.coordinator.cluster import simulate
    from haflow.coordinator.workflow.compiler import compile_workflow, merge_into
    from haflow.coordinator.workflow.loader import load

    golden = Path(__file__).resolve().parent.parent / "workflow" / "golden"
    workflow = load(str(golden / "rolling-deploy.yaml"))
    cib = merge_into(simulate.skeleton(1), compile_workflow(workflow))
    got = graph.workflow_graph(cib, workflow.name)
    groups = {s.name: s.group for s in got.steps}
    assert groups["build"] is None and groups["announce"] is None
    assert {n for n, g in groups.items() if g == "database"} == {
        "database-create", "database-migrate", "database-seed"}
    assert {n for n, g in groups.items() if g == "production"} == {
        f"production-{i}" for i in range(4)}
    assert got.groups == {"database": "sub-workflow", "staging": "fan-out",
                          "production": "fan-out"}
    # the approval gate holds every instance of production, and nothing else
    assert {s.name for s in got.steps if s.gate} == {f"production-{i}" for i in range(4)}
    # a join: announce runs after every instance
    assert {a for a, b in got.edges if b == "announce"} == {f"production-{i}"
                                                            for i in range(4)}
    laid = graph.layout(got)
    assert {g["name"]: g["kind"] for g in laid["groups"]} == got.groups
