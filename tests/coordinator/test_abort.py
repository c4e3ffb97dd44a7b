"""``abort``'s clean-up of stuck steps, on crm_mon/CIB XML recorded from a lab.

An abort forgets the failure of a step held after it failed (on-fail=block), or the
rollback would wait on it for good. Which steps that are is decided from the view
before the abort's own change: a step whose undo fails under the abort keeps that
failure on record.
"""

from __future__ import annotations

import subprocess
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from haflow.coordinator.cluster import live_view, livecib
from haflow.coordinator.commands import abort as abort_command
from tests.montools import crm_mon_of

pytestmark = pytest.mark.tier0
DATA = Path(__file__).parents[1] / "live" / "data"
View = tuple[etree._Element, etree._Element]


class Recorder:
    """An Env that records the commands it is asked to run, and runs none."""

    node_name = "node1"
    actor = None

    def __init__(self) -> None:
        self.ran: list[list[str]] = []

    def run(self, argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        self.ran.append(list(argv))
        return subprocess.CompletedProcess(argv, 0, "", "")

    def cleaned(self) -> list[str]:
        return [argv[-1] for argv in self.ran if "--cleanup" in argv]


def held() -> View:
    """t1hold with b's start failed and held (on-fail=block): b is stuck."""
    return (etree.parse(str(DATA / "held.cib.xml")).getroot(),
            etree.parse(str(DATA / "held.mon.xml")).getroot())


def running(tmp_path: Path) -> View:
    """The same workflow with b started fine, and crm_mon's view of that."""
    cib = deepcopy(held()[0])
    for op in cib.iter("lrm_rsc_op"):
        if op.get("id") == "t1hold.b_last_failure_0":
            op.getparent().remove(op)  # type: ignore[union-attr]
        elif op.get("id") == "t1hold.b_last_0":
            op.attrib.update({"rc-code": "0", "exit-reason": "",
                              "transition-magic": "0:0;" + op.get("transition-key", "")})
    for nvpair in list(cib.iter("nvpair")):
        if nvpair.get("name", "").endswith("t1hold.b#start_0"):
            nvpair.getparent().remove(nvpair)  # type: ignore[union-attr]
    return cib, crm_mon_of(cib, tmp_path)


def aborted_with(monkeypatch: pytest.MonkeyPatch, first: View, later: View) -> Recorder:
    """Abort t1hold where the cluster reads ``first``, then ``later`` (the abort's own
    stops have run by then)."""
    reads = [first]

    def read(*_: Any, **__: Any) -> View:
        return reads.pop(0) if reads else later

    monkeypatch.setattr(live_view, "read_live", read)
    monkeypatch.setattr(live_view, "query", lambda *_, **__: read()[0])
    monkeypatch.setattr(abort_command, "require_quorum", lambda *_, **__: {})
    pushed: list[etree._Element] = []
    monkeypatch.setattr(livecib, "push", lambda _env, _old, new, _what: pushed.append(new)
                        or True)
    env = Recorder()
    assert abort_command.abort_many(env, ["t1hold"]) == ["t1hold"]  # type: ignore[arg-type]
    assert len(pushed) == 1
    return env


def test_an_abort_forgets_the_failure_of_a_step_held_before_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = aborted_with(monkeypatch, held(), running(tmp_path))
    assert env.cleaned() == ["t1hold.b"]


def test_an_abort_keeps_the_failure_of_an_undo_that_failed_under_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """b ran fine when the abort was given; its undo failed before the abort command
    looked again (a failed stop, held: on-fail=block). Cleaning that up would make
    Pacemaker forget b runs, and status lose why it is blocked."""
    env = aborted_with(monkeypatch, running(tmp_path), held())
    assert env.cleaned() == []
