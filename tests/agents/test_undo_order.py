"""A step's undo never runs while a step depending on it may still have its effect, and a
step's start and stop carry their own history record (tier0: agents against a CIB file).

The Pacemaker case behind the first: a rollback stops the steps in reverse order, but a
stop whose node is fenced counts as done, so Pacemaker goes on to the steps it depends
on while its effect is still there (flagged in the CIB).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from haflow.agents import ocfcodes
from haflow.encoding import read
from haflow.lab import records
from tests.agents.agentrun import Sandbox, cibadmin, run_agent

pytestmark = pytest.mark.tier0

TEST = "haflow.agents.test_agent"
ROOT_AGENT = "haflow.agents.workflow_agent"
ALERT = "haflow.agents.alert.agent"


def params(state: Path, step: str, **extra: str) -> dict[str, str]:
    return {"workflow": "wf", "step": step, "submission": "s1", "state_dir": str(state),
            **extra}


@pytest.fixture
def ocf_root(tmp_path: Path) -> Path:
    from haflow.agents import install

    root = tmp_path / "ocf"
    install.install(str(root))
    return root


def chain(tmp_path: Path, steps: str = "abc", history: bool = True,
          **extra: dict[str, str]) -> Sandbox:
    """A workflow a -> b -> c (as the compiler orders it: one sequential set)."""
    box = Sandbox(tmp_path / "node")
    box.add_primitive("wf.root", "workflow", params={"workflow": "wf"})
    for step in steps:
        box.add_primitive(f"wf.{step}", "test",
                          params=params(tmp_path / "state", step, **extra.get(step, {})))
    refs = "".join(f'<resource_ref id="wf.{s}"/>' for s in steps)
    cibadmin(box.cib_file, "-C", "-o", "constraints", "-X",
             f'<rsc_order id="wf.root.order.steps" kind="Mandatory"><resource_set '
             f'id="wf.root.order.steps.set">{refs}</resource_set></rsc_order>')
    if history:  # submit writes the set with the workflow's first event
        cibadmin(box.cib_file, "--modify", "--scope", "resources", "-X",
                 '<primitive id="wf.root"><meta_attributes id="wf.root.history"><nvpair '
                 'id="wf.root.history.haflow-event-0" name="haflow-event-0" '
                 'value="(submit) 1.000000 node1 submit 0 0 ok"/></meta_attributes>'
                 '</primitive>')
    return box


def start_all(box: Sandbox, state: Path, steps: str = "abc") -> None:
    for step in steps:
        result = box.run(TEST, "start", params(state, step), f"wf.{step}")
        assert result.rc == 0, result


def stop(box: Sandbox, ocf_root: Path, state: Path, step: str,
         **extra: str) -> int:
    env = box.env(f"wf.{step}", params(state, step, **extra))
    env["OCF_ROOT"] = str(ocf_root)  # where the dependents' agents are found
    result = run_agent(TEST, "stop", env)
    return result.rc


def undone(state: Path) -> list[str]:
    return [r.resource for r in records.read(state) if r.event == "undo"]


def history(box: Sandbox) -> list[tuple[str, str, str]]:
    cib = ET.fromstring(cibadmin(box.cib_file, "-Q"))
    return [(e.step, e.task, e.outcome) for e in read.events(cib, "wf") if e.step != "(submit)"]


def test_an_undo_cut_short_is_finished_before_the_steps_it_depends_on(
        tmp_path: Path, ocf_root: Path) -> None:
    state = tmp_path / "state"
    box = chain(tmp_path)
    start_all(box, state)
    box.set_target_role("wf.root", "Stopped")
    # c's node is fenced in the middle of its undo: Pacemaker counts c as stopped and
    # stops b next, on a survivor (no marker of c there)
    box.forget_markers()
    assert stop(box, ocf_root, state, "b") == 0
    assert undone(state) == ["wf.c", "wf.b"]
    assert records.effects(state) == ["wf__a__s1"]
    assert not box.flagged("wf.c") and not box.flagged("wf.b")
    assert stop(box, ocf_root, state, "a") == 0
    assert undone(state) == ["wf.c", "wf.b", "wf.a"] and records.effects(state) == []


def test_a_dependent_whose_undo_fails_keeps_the_effect_it_depends_on(
        tmp_path: Path, ocf_root: Path) -> None:
    state = tmp_path / "state"
    box = chain(tmp_path, "ab", b={"fail_undo": "true"})
    start_all(box, state, "ab")
    box.set_target_role("wf.root", "Stopped")
    box.forget_markers()
    # a stop that keeps the effect succeeds: a failed stop would be fenced or blocked
    assert stop(box, ocf_root, state, "a") == ocfcodes.SUCCESS
    assert undone(state) == []
    assert sorted(records.effects(state)) == ["wf__a__s1", "wf__b__s1"]
    assert box.effect("wf.a") == "present"


def test_the_sweep_undoes_dependents_first(tmp_path: Path, ocf_root: Path) -> None:
    state = tmp_path / "state"
    box = chain(tmp_path)
    start_all(box, state)
    box.forget_markers()  # every undo cut short: all three still flagged
    box.set_target_role("wf.root", "Stopped")
    env = box.env("wf.root", {"workflow": "wf"})
    env["OCF_ROOT"] = str(ocf_root)
    result = run_agent(ROOT_AGENT, "stop", env)
    assert result.rc == 0, result
    assert undone(state) == ["wf.c", "wf.b", "wf.a"]


def test_start_and_stop_write_their_own_history_record(tmp_path: Path,
                                                       ocf_root: Path) -> None:
    """In the CIB write they make anyway: not spooled on the node, so not lost with it."""
    state = tmp_path / "state"
    box = chain(tmp_path, "ab")
    start_all(box, state, "ab")
    assert history(box) == [("a", "start", "ok"), ("b", "start", "ok")]
    assert stop(box, ocf_root, state, "b") == 0  # a move: only released
    box.set_target_role("wf.root", "Stopped")
    # an undo: b kept its effect when it moved, so a's stop undoes b first
    assert stop(box, ocf_root, state, "a") == 0
    assert history(box)[2:] == [("b", "stop", "ok"), ("b", "stop", "ok"), ("a", "stop", "ok")]
    assert undone(state) == ["wf.b", "wf.a"]
    assert not box.flagged("wf.a")
    assert [r.event for r in records.completed(state)] == ["started", "started", "stopped",
                                                             "stopped", "stopped"]


def test_an_undo_without_a_history_set_still_records_it(tmp_path: Path,
                                                        ocf_root: Path) -> None:
    state = tmp_path / "state"
    box = chain(tmp_path, "a", history=False)
    start_all(box, state, "a")
    box.set_target_role("wf.root", "Stopped")
    assert stop(box, ocf_root, state, "a") == 0
    assert history(box) == [("a", "start", "ok"), ("a", "stop", "ok")]


def test_the_alert_skips_what_the_agent_recorded(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    state = tmp_path / "state"
    box = chain(tmp_path, "a")
    start_all(box, state, "a")
    env = dict(os.environ, CIB_file=str(box.cib_file), HAFLOW_RUN_DIR=str(box.run_dir),
               HAFLOW_ALERT_SPOOL="", CRM_alert_kind="resource", CRM_alert_rsc="wf.a",
               CRM_alert_task="start", CRM_alert_rc="0", CRM_alert_target_rc="0",
               CRM_alert_status="0", CRM_alert_node="node1", CRM_alert_exec_time="100",
               CRM_alert_timestamp_epoch=str(int(time.time())))
    subprocess.run([sys.executable, "-m", ALERT], env=env, check=True, timeout=60)
    assert history(box) == [("a", "start", "ok")]  # the agent noted its start
    env.update(CRM_alert_task="monitor", CRM_alert_interval="10000", CRM_alert_rc="7",
               CRM_alert_timestamp_epoch=str(int(time.time()) + 2))  # after the start's
    subprocess.run([sys.executable, "-m", ALERT], env=env, check=True, timeout=60)
    assert history(box) == [("a", "start", "ok"), ("a", "monitor-10s", "failed")]


def test_a_join_cut_short_is_undone_once_by_the_branches_stopped_at_once(
        tmp_path: Path, ocf_root: Path) -> None:
    """a -> {b, c} -> d: d's undo cut short, b's and c's stops run at once (two nodes): the
    first of them undoes d, the other waits for it, and both branches come after d."""
    import subprocess
    import sys

    state = tmp_path / "state"
    box = Sandbox(tmp_path / "node")
    box.add_primitive("wf.root", "workflow", params={"workflow": "wf"})
    for step in "abcd":
        box.add_primitive(f"wf.{step}", "test", params=params(state, step))
    cibadmin(box.cib_file, "-C", "-o", "constraints", "-X",
             '<rsc_order id="wf.root.order.diamond" kind="Mandatory">'
             '<resource_set id="wf.root.order.diamond.1"><resource_ref id="wf.a"/>'
             '</resource_set><resource_set id="wf.root.order.diamond.2" sequential="false">'
             '<resource_ref id="wf.b"/><resource_ref id="wf.c"/></resource_set>'
             '<resource_set id="wf.root.order.diamond.3"><resource_ref id="wf.d"/>'
             '</resource_set></rsc_order>')
    start_all(box, state, "abcd")
    box.set_target_role("wf.root", "Stopped")
    box.forget_markers()
    stops = []
    for step in "cb":  # c first: it must wait for b, the first of them
        env = box.env(f"wf.{step}", params(state, step))
        env["OCF_ROOT"] = str(ocf_root)
        stops.append(subprocess.Popen([sys.executable, "-m", TEST, "stop"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True))
    assert [p.wait(timeout=60) for p in stops] == [0, 0]
    events = [(r.resource, r.event) for r in records.read(state)
              if r.event.startswith("undo")]
    assert [e for e in events if e[0] == "wf.d"] == [("wf.d", "undo")]
    assert events[0] == ("wf.d", "undo") and sorted(events[1:]) == [("wf.b", "undo"),
                                                                    ("wf.c", "undo")]
