"""haflow plan against a CIB file: waves, order, what-ifs, the three output formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from haflow.coordinator.cli import main as cli
from haflow.coordinator.cluster import simulate
from haflow.coordinator.exitcodes import ExitCode

pytestmark = pytest.mark.tier0

WORKFLOW = """name: demo
description: a diamond of Dummy steps
failure_policy: rollback
steps:
  a:
    agent: ocf:pacemaker:Dummy
  b:
    agent: ocf:pacemaker:Dummy
    after: [a]
    retries: 1
  c:
    agent: ocf:pacemaker:Dummy
    after: [a]
    failure_policy: hold
  d:
    agent: ocf:pacemaker:Dummy
    after: [b, c]
"""
AFTER = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    workflow, cib = tmp_path / "demo.yaml", tmp_path / "cib.xml"
    workflow.write_text(WORKFLOW)
    cib.write_bytes(etree.tostring(simulate.skeleton(3)))
    return str(workflow), str(cib)


def plan(files: tuple[str, str], capsys: pytest.CaptureFixture[str], *extra: str,
         fmt: str = "json") -> Any:
    code = cli.main(["plan", files[0], "--cib", files[1], "--output-as", fmt, *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out) if fmt == "json" else out


def steps_by_wave(phase: dict[str, Any], task: str) -> list[set[str]]:
    return [{a["step"] for a in wave if a["task"] == task} for wave in phase["waves"]]


def test_waves_follow_the_dependencies(files: tuple[str, str],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    result = plan(files, capsys)
    (phase,) = result["phases"]
    assert steps_by_wave(phase, "start") == [{"root"}, {"a"}, {"b", "c"}, {"d"}]
    orders = [a["order"] for wave in phase["waves"] for a in wave]
    assert orders == sorted(orders) == list(range(1, len(orders) + 1))
    assert all(p["state"] == "running" and p["nodes"] for p in result["placement"].values())
    assert len(result["placement"]["root"]["nodes"]) == 1  # one root, on one node


def test_text_and_dot_name_each_step_with_its_node(files: tuple[str, str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    text = plan(files, capsys, fmt="text")
    assert "wave 3:" in text and "start d on node" in text
    dot = plan(files, capsys, fmt="dot")
    assert dot.startswith('digraph "demo"') and '"d\\nstart on node' in dot and "->" in dot


def test_a_lost_node_moves_its_steps(files: tuple[str, str],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    result = plan(files, capsys, "--node-down", "node2")
    assert [p["title"] for p in result["phases"]][1] == "recovery after node2 is lost"
    for step in AFTER:
        place = result["placement"][step]
        assert place["state"] == "running" and "node2" not in place["nodes"], step


def test_rollback_undoes_every_step_in_reverse_order(files: tuple[str, str],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    result = plan(files, capsys, "--fail", "b")
    failures = [a for p in result["phases"] for w in p["waves"] for a in w if a["fails"]]
    # retries: 1 -> two attempts per node, then the next node: all three nodes tried
    assert {a["node"] for a in failures} == {"node1", "node2", "node3"}
    rollback = result["phases"][-1]
    assert rollback["title"].startswith("rollback")
    stop = {a["step"]: a["order"] for w in rollback["waves"] for a in w if a["task"] == "stop"}
    running = set(stop) - {"root"}
    assert running and "b" not in running  # b failed everywhere: nothing to undo
    for step in running:
        for dep in AFTER[step]:
            if dep in stop:
                assert stop[step] < stop[dep], f"{step} must be undone before {dep}"
        assert stop[step] < stop["root"]
    assert all(p["state"] == "stopped" for p in result["placement"].values())


def test_hold_keeps_the_rest_in_place(files: tuple[str, str],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    result = plan(files, capsys, "--fail", "c")
    place = {s: p["state"] for s, p in result["placement"].items()}
    assert place == {"root": "running", "a": "running", "b": "running", "c": "failed",
                     "d": "stopped"}
    assert not [p for p in result["phases"] if p["title"].startswith("rollback")]


@pytest.mark.parametrize("option", [["--fail", "nosuch"], ["--node-down", "node9"]])
def test_unknown_what_if_targets_are_reported(files: tuple[str, str], option: list[str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["plan", files[0], "--cib", files[1], "--output-as", "json", *option])
    errors = json.loads(capsys.readouterr().out)["errors"]
    assert code == ExitCode.NOT_FOUND
    assert errors[0]["code"] in ("STEP_NOT_FOUND", "NODE_NOT_FOUND")


def test_export_pcs_writes_a_script(files: tuple[str, str], tmp_path: Path) -> None:
    out = tmp_path / "apply.sh"
    assert cli.main(["export", "--pcs", files[0], "-o", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("#!/bin/sh") and "pcs -f \"$cib\" tag create demo" in text


def test_a_workflow_in_the_cib_is_planned_as_its_replacement(
        files: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """Not an id collision: the plan shows what ``submit --replace`` would do."""
    from haflow.coordinator.commands.workflow_cib import with_workflow
    from haflow.coordinator.workflow.loader import loads

    submitted, _ = with_workflow(simulate.skeleton(3), loads(WORKFLOW))
    running = simulate.run(submitted, keep_output=True).output
    assert running is not None
    Path(files[1]).write_bytes(etree.tostring(running))
    same = plan(files, capsys)
    assert any("submit --replace" in note for note in same["notes"])
    assert [a for phase in same["phases"] for wave in phase["waves"] for a in wave] == []
    Path(files[0]).write_text(WORKFLOW + "  e:\n    agent: ocf:pacemaker:Dummy\n"
                              "    after: [d]\n")
    grown = plan(files, capsys)
    changes = {(a["step"], a["task"]) for phase in grown["phases"] for wave in phase["waves"]
               for a in wave}
    assert changes == {("e", "start")}, changes
