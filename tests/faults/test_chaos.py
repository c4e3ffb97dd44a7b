"""``haflow lab chaos``: random faults against running workflows, audited."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from haflow.coordinator.status.model import (
    Failure,
    StepState,
    StepStatus,
    WorkflowState,
    WorkflowStatus,
)
from haflow.lab import faults
from haflow.lab.chaos import FAULTS, ChaosReport, run_chaos
from haflow.lab.layout import LabLayout


def chaos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "haflow.coordinator.cli", "lab", "chaos",
                           *args], capture_output=True, text=True, timeout=600)


@pytest.mark.tier0
def test_chaos_needs_an_existing_lab_and_sane_arguments(tmp_path: Path) -> None:
    missing = chaos("--lab", "nosuchlab", "--lab-root", str(tmp_path), "--output-as", "json")
    assert missing.returncode == 4
    assert json.loads(missing.stdout)["errors"][0]["code"] == "LAB_NOT_FOUND"
    (tmp_path / "here").mkdir()
    bad = chaos("--lab", "here", "--lab-root", str(tmp_path), "--minutes", "0")
    assert bad.returncode == 2 and "--minutes must be positive" in bad.stderr


@pytest.mark.tier2
def test_a_short_chaos_run_loses_nothing(lab3: LabLayout, tmp_path: Path) -> None:
    report = run_chaos(lab3, minutes=0.3, seed=7, base=tmp_path, count=2)
    assert report.faults, "no fault was injected"
    assert all(f.split()[0] in FAULTS or f.startswith("restart") for f in report.faults)
    assert report.audit.ok, report.text()
    assert len(report.recoveries) == len(report.faults)


def _status(name: str, state: WorkflowState, *steps: StepStatus) -> WorkflowStatus:
    return WorkflowStatus(name, state, "rollback", False, None, list(steps))


def _step(name: str, state: StepState, **more: Any) -> StepStatus:
    return StepStatus(name, f"wf_{name}", "test", state, "rollback", **more)


@pytest.mark.tier0
def test_a_wait_that_times_out_says_how_each_workflow_was_left(
        monkeypatch: pytest.MonkeyPatch) -> None:
    failure = Failure("start", "node2", 1, "generic error", "boom", None)
    seen = {"a": _status("a", WorkflowState.DONE, _step("s1", StepState.DONE)),
            "b": _status("b", WorkflowState.RUNNING, _step("s1", StepState.DONE),
                         _step("s2", StepState.FAILED, failure=failure),
                         _step("s3", StepState.STARTING, stuck=True))}
    monkeypatch.setattr(faults, "workflow_statuses", lambda _layout, names: seen)
    with pytest.raises(AssertionError) as timed_out:
        faults.wait_state(LabLayout("x", Path("/nonexistent")), ["a", "b", "c"], "done",
                          timeout=0)
    message = str(timed_out.value)
    assert message.startswith("timed out after 0 s waiting for a, b, c done; last seen: ")
    assert "b running (1 done, 1 failed, 1 starting; s2: start on node2: generic error boom;" \
        " s3: starting, stuck)" in message
    assert "c not in the CIB" in message and "a done" not in message


@pytest.mark.tier0
def test_a_chaos_run_that_did_not_recover_fails_and_says_from_what() -> None:
    report = ChaosReport(11, 30, faults=["crash node2", "flap node1"], recoveries=[21.0],
                         unrecovered="fault 2, flap node1: timed out")
    assert not report.ok and report.to_dict()["ok"] is False
    text = report.text()
    assert "FAILED: not recovered from fault 2, flap node1: timed out" in text
    assert "left in the lab" in text and "OK" not in text
    assert ChaosReport(11, 30).ok


@pytest.mark.tier0
def test_a_fault_whose_tool_gives_up_is_reported_not_raised(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A pcs that did not answer in time ended a 30-minute run with no report at all."""
    from haflow.coordinator.codes import Code
    from haflow.coordinator.reports import error
    from haflow.lab import chaos as module

    def timed_out(*_: Any) -> str:
        raise error(Code.TOOL_TIMEOUT, "pcs did not answer within 60 s on node1")

    for name in ("wait_healthy", "restore", "lab_env", "submit", "wait_state",
                 "workflow_states"):
        monkeypatch.setattr(module, name, lambda *_, **__: None)
    monkeypatch.setattr(module, "FAULTS", {"standby": timed_out})
    report = run_chaos(LabLayout("x", tmp_path), minutes=1, seed=3, base=tmp_path, count=1)
    assert not report.ok and report.recoveries == []
    assert report.unrecovered == \
        "fault 1, standby: error: pcs did not answer within 60 s on node1 [TOOL_TIMEOUT]"


@pytest.mark.tier0
def test_a_crash_mid_undo_waits_for_an_undo_of_its_own_workflows(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """chaos keeps every crash-undo's records in one folder: the second one found the
    first workflow's "undoing" record at once and crashed a node undoing nothing."""
    import random
    import threading
    import time

    from haflow.coordinator.commands import wait as wait_command
    from haflow.coordinator.exitcodes import ExitCode

    log = tmp_path / "records.log"
    log.write_text(f"{time.time() - 60}\tnode2\tchaosundo0.d\tk0\tundoing\t\n")
    crashed: list[str] = []
    monkeypatch.setattr(faults, "abort", lambda *_: None)
    monkeypatch.setattr(faults, "lab_env", lambda *_: None)
    monkeypatch.setattr(faults.Run, "survivor", lambda self, *_: "node1")
    monkeypatch.setattr(faults.Run, "crash_and_wait_fenced",
                        lambda self, node: crashed.append(node))
    monkeypatch.setattr(wait_command, "wait", lambda *_, **__: (None, ExitCode.ROLLED_BACK))
    scenario = faults.Scenario("chaos-undo", "crash mid-undo",
                               faults.crash_mid_undo_keeps_order, expect="rolled back",
                               agent="exec", shape=faults.DIAMOND, count=1)
    run = faults.Run(LabLayout("x", tmp_path), scenario, tmp_path, ["chaosundo1"],
                     random.Random(1))

    def undo_starts() -> None:
        time.sleep(0.5)
        with log.open("a") as records:
            records.write(f"{time.time()}\tnode3\tchaosundo1.d\tk1\tundoing\t\n")

    threading.Thread(target=undo_starts, daemon=True).start()
    faults.crash_mid_undo_keeps_order(run)
    assert crashed == ["node3"]


@pytest.mark.tier0
def test_the_next_fault_waits_for_a_settled_cluster(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A crash while the DC still held a transition (a probe lost to a restarted
    controller) was taken for the shutdown that transition expected: never fenced."""
    from haflow.lab import chaos as module

    for name in ("wait_healthy", "restore", "lab_env", "submit", "wait_state",
                 "workflow_states"):
        monkeypatch.setattr(module, name, lambda *_, **__: None)
    monkeypatch.setattr(module, "FAULTS", {"restart-pacemaker": lambda *_: "restart node1"})

    def held(*_: Any, **__: Any) -> None:
        raise AssertionError("the cluster did not settle within 180 s: DC node3 in "
                             "S_TRANSITION_ENGINE")

    monkeypatch.setattr(module, "wait_idle", held)
    report = run_chaos(LabLayout("x", tmp_path), minutes=1, seed=3, base=tmp_path, count=1)
    assert report.faults == ["restart node1"] and len(report.recoveries) == 1
    assert report.unrecovered == "after fault 1: the cluster did not settle within 180 s: " \
        "DC node3 in S_TRANSITION_ENGINE"
