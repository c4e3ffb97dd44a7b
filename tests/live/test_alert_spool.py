"""The alert agent's gathered history writes (agents/alert/spool.py), on a CIB file."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from lxml import etree

from haflow.agents.alert import agent as alert_haflow
from haflow.agents.alert import spool as alert_spool
from haflow.encoding import read
from tests.live.test_status_tier0 import alert_env, cib_file

pytestmark = pytest.mark.tier0
__all__ = ["cib_file"]  # the fixture, shared with the status tests


def _epoch(path: Path) -> int:
    return int(etree.parse(str(path)).getroot().get("epoch", "0"))


def _starts(path: Path, workflow: str) -> list[tuple[str, str]]:
    cib = etree.parse(str(path)).getroot()
    return [(e.step, e.task) for e in read.events(cib, workflow)
            if e.time >= 1895672400]


def _event(step: str, stamp: str, **more: str) -> dict[str, str]:
    return {"CRM_alert_rsc": f"t1done.{step}", "CRM_alert_task": "start",
            "CRM_alert_timestamp_epoch": stamp, **more}


def test_events_gather_in_the_spool_and_go_to_the_cib_in_one_change(
        cib_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = tmp_path / "spool"
    monkeypatch.setattr(alert_spool, "start_flusher", lambda path: None)
    before = _epoch(cib_file)
    for step, stamp in (("a", "1895672401"), ("b", "1895672402")):
        alert_haflow.handle(alert_env(HAFLOW_ALERT_SPOOL=str(spool), **_event(step, stamp)))
    assert _starts(cib_file, "t1done") == []  # spooled, not written yet
    assert oct(spool.stat().st_mode & 0o777) == "0o700"
    assert alert_spool.flush(str(spool))
    assert _starts(cib_file, "t1done") == [("a", "start"), ("b", "start")]
    assert _epoch(cib_file) == before + 1  # one configuration change for both
    assert not alert_spool.flush(str(spool))  # nothing left


def test_a_failure_is_written_at_once(cib_file: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alert_spool, "start_flusher", lambda path: None)
    monkeypatch.setattr(alert_haflow, "FAILCOUNT_WAIT", 0.0)
    alert_haflow.handle(alert_env(HAFLOW_ALERT_SPOOL=str(tmp_path / "spool"),
                                  **_event("b", "1895672403", CRM_alert_rc="1")))
    cib = etree.parse(str(cib_file)).getroot()
    assert [(e.step, e.outcome) for e in read.events(cib, "t1done")
            if e.time >= 1895672403] == [("b", "failed")]


def test_the_flusher_writes_within_seconds_and_ends(cib_file: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    alert_haflow.handle(alert_env(HAFLOW_ALERT_SPOOL=str(spool), **_event("a", "1895672404")))
    deadline = time.monotonic() + 15
    while _starts(cib_file, "t1done") != [("a", "start")]:
        assert time.monotonic() < deadline, "the flusher never wrote the event"
        time.sleep(0.2)
    # with nothing more to write it ends: its lock is free again
    while alert_spool.flusher_running(str(spool)):
        assert time.monotonic() < deadline + 10, "the flusher did not end"
        time.sleep(0.2)


def test_a_removed_workflow_does_not_lose_the_others_events(cib_file: Path,
                                                             tmp_path: Path) -> None:
    spool = str(tmp_path)
    for event in (("gone", "1-node1-a", "a 1 node1 start 0 0 ok ok"),
                  ("t1done", "1895672405-000000-node1-a",
                   "a 1895672405.0 node1 start 0 0 ok ok")):
        with open(os.path.join(spool, alert_spool.EVENTS), "a") as fh:
            fh.write("\t".join(event) + "\n")
    assert alert_spool.flush(spool)
    assert _starts(cib_file, "t1done") == [("a", "start")]
    # a modify never creates: the removed workflow's root does not come back
    assert etree.parse(str(cib_file)).getroot().find(".//primitive[@id='gone.root']") is None


def test_a_spool_directory_not_safely_ours_is_not_used(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    assert alert_spool.folder({alert_spool.SPOOL_ENV: str(shared)}) is None
    assert alert_spool.folder({alert_spool.SPOOL_ENV: ""}) is None  # spooling off
    made = alert_spool.folder({alert_spool.SPOOL_ENV: str(tmp_path / "new")})
    assert made == str(tmp_path / "new") and (tmp_path / "new").stat().st_mode & 0o077 == 0


def test_the_flusher_writes_a_lone_event_before_it_waits(
        cib_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step started a moment before its node dies is in the history: the first
    events are written at once, only later ones wait to be gathered."""
    spool = str(tmp_path)
    with open(os.path.join(spool, alert_spool.EVENTS), "a") as fh:
        fh.write("t1done\t1895672406-000000-node1-a\ta 1895672406.0 node1 start 0 0 ok ok\n")
    seen_at_each_wait: list[list[tuple[str, str]]] = []
    # the flusher's own clock only: patching time.sleep itself also caught
    # subprocess's polls while cibadmin ran (a slow cibadmin made ten "waits")
    monkeypatch.setattr(alert_spool, "time", SimpleNamespace(
        monotonic=time.monotonic,
        sleep=lambda seconds: seen_at_each_wait.append(_starts(cib_file, "t1done"))))
    assert alert_spool.flush_loop(spool) == 0
    assert seen_at_each_wait == [[("a", "start")]]  # written, then one wait, then the end
