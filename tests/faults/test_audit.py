"""The fault audit's judgement, on records written by hand (tier0)."""

from __future__ import annotations

from pathlib import Path

import pytest

from haflow.encoding.record import Event
from haflow.lab import records
from haflow.lab.audit import audit

pytestmark = pytest.mark.tier0

AFTER = {"wf": {"a": ["b"], "b": []}}


def write(state: Path, *lines: tuple[float, str, str, str], detail: str = "") -> None:
    for stamp, step, event, log in lines:
        with open(state / log, "a") as handle:
            handle.write(f"{stamp}\tnode1\twf.{step}\twf/{step}/s1\t{event}\t{detail}\n")


def ok(step: str, task: str, node: str = "node1") -> Event:
    return Event(0.0, node, step, task, 0, 0, "ok", "ok")


def test_an_undo_while_a_dependent_has_its_effect_is_an_order_violation(
        tmp_path: Path) -> None:
    write(tmp_path, (1, "a", "do", "records.log"), (2, "b", "do", "records.log"),
          (3, "a", "undo", "records.log"), (4, "b", "undo", "records.log"))
    found = audit(tmp_path, ["wf"], undone=["wf"], dependents=AFTER)
    assert found.order_violations == ["wf: a undone on node1 while b still had its effect"]
    assert not found.ok and "1 order violations" in found.summary()
    (tmp_path / "records.log").unlink()
    write(tmp_path, (1, "a", "do", "records.log"), (2, "b", "do", "records.log"),
          (3, "b", "undo", "records.log"), (4, "a", "undo", "records.log"))
    assert audit(tmp_path, ["wf"], undone=["wf"], dependents=AFTER).ok


def test_a_completed_start_or_stop_missing_from_the_history_is_lost(tmp_path: Path) -> None:
    write(tmp_path, (1, "a", "do", "records.log"), (2, "a", "started", "completed.log"),
          (3, "a", "undo", "records.log"), (4, "a", "stopped", "completed.log"),
          (5, "a", "stopped", "completed.log"))
    assert len(records.completed(tmp_path)) == 3
    found = audit(tmp_path, ["wf"], undone=["wf"],
                  histories={"wf": [ok("a", "start"), ok("a", "stop")]})
    assert found.history_lost == ["wf.a: stop on node1 at 5.0"]
    assert "1 history events lost" in found.summary()
    found = audit(tmp_path, ["wf"], undone=["wf"], histories={"wf": [
        ok("a", "start"), ok("a", "stop"), ok("a", "stop", "node2")]})
    assert len(found.history_lost) == 1, "an event of another node does not count"
    assert audit(tmp_path, ["wf"], undone=["wf"], histories={"wf": [
        ok("a", "start"), ok("a", "stop"), ok("a", "stop")]}).ok


def test_an_action_completed_without_quorum_is_not_expected_in_the_history(
        tmp_path: Path) -> None:
    """A node cut off stops its steps in a CIB of its own, replaced when it rejoins."""
    write(tmp_path, (1, "a", "started", "completed.log"), detail="quorum=1")
    write(tmp_path, (2, "a", "stopped", "completed.log"), detail="quorum=0")
    found = audit(tmp_path, ["wf"], undone=[], histories={"wf": [ok("a", "start")]})
    assert found.history_lost == []
    found = audit(tmp_path, ["wf"], undone=[], histories={"wf": []})
    assert found.history_lost == ["wf.a: start on node1 at 1.0 (quorum=1)"]
