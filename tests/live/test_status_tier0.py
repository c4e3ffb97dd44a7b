"""Status, history and the alert agent as pure functions, on crm_mon/CIB XML recorded from a lab.

The files in data/ were recorded by the tier1 tests (HAFLOW_RECORD_STATUS=DIR)
on a real 1-node lab; times in them are fixed, so "now" is passed in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from haflow.agents.alert import agent as alert_haflow
from haflow.coordinator import status
from haflow.coordinator.cli.live import list_line, render_history, render_workflow
from haflow.coordinator.cluster import live_view
from haflow.coordinator.commands import history
from haflow.coordinator.status import StepState, WorkflowState
from haflow.coordinator.workflow.compiler import compile_workflow, merge_into
from haflow.coordinator.workflow.loader import loads
from haflow.encoding import read, record
from haflow.encoding.read import resources_of, root_of, target_role
from haflow.encoding.write import set_role
from tests.agents.agentrun import ocf_env, run_agent
from tests.montools import crm_mon_of

pytestmark = pytest.mark.tier0
DATA = Path(__file__).with_name("data")


def recorded(name: str) -> tuple[etree._Element, etree._Element]:
    cib = etree.parse(str(DATA / f"{name}.cib.xml")).getroot()
    mon = etree.parse(str(DATA / f"{name}.mon.xml")).getroot()
    return cib, mon


def newest(cib: etree._Element) -> float:
    """A 'now' just after the recording: the newest last-rc-change in it."""
    return max(float(op.get("last-rc-change", "0")) for op in cib.iter("lrm_rsc_op")) + 1


def only(name: str, workflow: str) -> status.WorkflowStatus:
    cib, mon = recorded(name)
    return status.workflow_status(cib, mon, workflow, now=newest(cib))


def test_done_workflow_has_nodes_times_durations_and_outputs() -> None:
    wf = only("done", "t1done")
    assert wf.state == WorkflowState.DONE and not wf.problems
    a, b = wf.steps
    assert a.state == b.state == StepState.DONE
    assert a.node == "node1" and a.started and a.duration is not None and a.duration >= 0
    assert b.outputs["value"] == "got-" + a.outputs["id"]
    text = render_workflow(wf)
    assert text.startswith("t1done: done, 2/2 done") and "!!" not in text


def test_starting_step_shows_progress_and_its_waiting_dependent() -> None:
    cib, mon = recorded("starting")
    wf = status.workflow_status(cib, mon, "t1slow", now=newest(cib) + 1)
    a, b = wf.steps
    assert a.state == StepState.STARTING and a.progress is not None and not a.stuck
    assert b.state == StepState.WAITING and b.waiting_on == ["a"]
    assert wf.state == WorkflowState.RUNNING


def test_a_heartbeat_older_than_three_intervals_is_stuck() -> None:
    cib, mon = recorded("starting")
    beat = next(n for n in cib.iter("nvpair") if n.get("name", "").startswith("haflow-hb-"))
    stamp = int(str(beat.get("value")).split()[0])
    wf = status.workflow_status(cib, mon, "t1slow", now=stamp + 16)
    a = wf.steps[0]
    assert a.stuck and a.problem and a.heartbeat_age == pytest.approx(16)
    assert "STUCK" in render_workflow(wf) and "STUCK" in list_line(wf)
    assert not status.workflow_status(cib, mon, "t1slow", now=stamp + 14).steps[0].stuck


def test_held_workflow_shows_the_blocked_step_and_its_reason() -> None:
    wf = only("held", "t1hold")
    assert wf.state == WorkflowState.HELD
    a, b = wf.steps
    assert a.state == StepState.DONE and b.state == StepState.BLOCKED
    assert b.failure is not None and b.failure.operation == "start"
    assert "failing on purpose" in b.failure.exit_reason
    text = render_workflow(wf)
    assert "HELD" in text and "BLOCKED" in text and "failing on purpose" in text


def test_rolled_back_after_an_abort_and_automatically() -> None:
    wf = only("rolled-back", "t1chain")
    assert wf.state == WorkflowState.ROLLED_BACK and wf.aborted
    assert {s.state for s in wf.steps} == {StepState.UNDONE}
    auto = only("auto-rolled-back", "t1auto")
    assert auto.state == WorkflowState.ROLLED_BACK
    failed = auto.steps[1]
    assert failed.failure is not None and failed.fail_count
    assert failed.retry_on == []  # INFINITY on the only node


def test_json_and_xml_renderings_agree() -> None:
    wf = only("held", "t1hold")
    data = wf.to_dict()
    xml = status.to_xml([wf])
    assert data["state"] == xml.find("workflow").get("state") == "held"
    step = xml.find("workflow/step[@name='b']")
    assert step is not None and step.get("state") == "blocked"
    assert step.find("failure").get("operation") == "start"


WORKFLOW = """
name: deps
steps:
  a: {agent: test}
  b: {agent: test, after: [a]}
  c: {agent: test, after: [b]}
  d: {agent: test, after: [a]}
  e: {agent: test, after: [c, d]}
  f: {agent: test, after: [c, d]}
"""


def test_dependencies_come_back_from_the_compiled_order_constraints() -> None:
    wf = loads(WORKFLOW, "deps.yaml")
    compiled = compile_workflow(wf)
    cib = etree.fromstring(b"<cib><configuration><resources/><constraints/><tags/>"
                           b"</configuration><status/></cib>")
    cib = merge_into(cib, compiled)
    deps = status.dependencies(cib, "deps")
    expected = {name: {f"deps.{d}" for d in step.after} for name, step in wf.steps.items()}
    for name, after in expected.items():
        got = deps.get(f"deps.{name}", set()) - {"deps.root"}
        assert got == after, name
    # nothing runs: every step waits, on exactly its own dependencies
    mon = etree.fromstring(b"<pacemaker-result><nodes/><resources/></pacemaker-result>")
    steps = {s.name: s for s in status.workflow_status(cib, mon, "deps", now=0).steps}
    assert steps["e"].waiting_on == ["c", "d"] and steps["a"].waiting_on == ["root"]


def test_history_events_parse_and_render() -> None:
    value = "b 1795672345.5 node1 start 1 0 failed failing on purpose (attempt 1)"
    event = record.parse_value(value)
    assert event is not None and event.step == "b" and event.rc == 1
    assert event.text == "failing on purpose (attempt 1)"
    assert record.parse_value("garbage") is None
    fence = etree.fromstring(
        b'<pacemaker-result><fence_history><fence_event action="reboot" target="node2" '
        b'delegate="node1" client="pacemaker-controld.1" origin="node1" status="success" '
        b'completed="2026-11-26 05:52:27Z"/><fence_event action="reboot" target="node9" '
        b'status="success" completed="2026-11-26 05:52:27Z"/></fence_history>'
        b'</pacemaker-result>')
    fenced = history.fencing_events(fence, {"node2"})
    assert len(fenced) == 1 and fenced[0].node == "node2" and fenced[0].time > 0
    text = render_history([event, *fenced])
    assert "FAILED" in text and "reboot of node2" in text


def test_history_shows_fencing_in_the_workflows_life_of_any_node() -> None:
    """The alert for a step's last action on a node that crashes may never run, so a
    fencing is shown whether or not the target has events of the workflow."""
    cib = etree.fromstring(
        b'<cib><configuration><resources><primitive id="w.root" class="ocf" '
        b'provider="haflow" type="workflow"><meta_attributes id="w.root.history">'
        b'<nvpair id="e1" name="haflow-event-1" value="a 1795672345.0 node1 start 0 0 ok"/>'
        b'</meta_attributes></primitive></resources></configuration></cib>')
    fence = etree.fromstring(
        b'<pacemaker-result><fence_history>'
        b'<fence_event action="reboot" target="node3" status="success" '
        b'completed="2026-11-26 00:00:00Z"/>'  # before the workflow: left out
        b'<fence_event action="reboot" target="node2" status="success" '
        b'completed="2026-11-26 06:00:00Z"/>'  # node2 has no event of its own
        b'</fence_history></pacemaker-result>')
    shown = history.history(cib, fence, "w")
    assert [(e.step, e.node) for e in shown] == [("a", "node1"), ("(fencing)", "node2")]


# ---- the alert agent, against a CIB file (CIB_file: Pacemaker's tools work offline) --------


@pytest.fixture
def cib_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if shutil.which("cibadmin") is None:
        pytest.fail("cibadmin is missing: install pacemaker-cli-utils")
    path = tmp_path / "cib.xml"
    shutil.copy(DATA / "done.cib.xml", path)
    monkeypatch.setenv("CIB_file", str(path))
    return path


def alert_env(**values: str) -> dict[str, str]:
    # no spool: every event is in the CIB when handle() returns (spooling: its own tests)
    base = {"HAFLOW_ALERT_SPOOL": "",
            "CRM_alert_kind": "resource", "CRM_alert_rc": "0", "CRM_alert_target_rc": "0",
            "CRM_alert_status": "0", "CRM_alert_node": "node1", "CRM_alert_interval": "0",
            "CRM_alert_timestamp_epoch": "1795672400", "CRM_alert_timestamp_usec": "123"}
    return {**os.environ, **base, **values}


def test_the_alert_agent_records_events_in_the_cib(cib_file: Path) -> None:
    assert alert_haflow.handle(alert_env(CRM_alert_rsc="t1done.a", CRM_alert_task="start",
                                         CRM_alert_desc="ok")) == 0
    # a successful recurring monitor is not worth a CIB write
    alert_haflow.handle(alert_env(CRM_alert_rsc="t1done.a", CRM_alert_task="monitor",
                                  CRM_alert_interval="30000"))
    alert_haflow.handle(alert_env(CRM_alert_rsc="lab-fence", CRM_alert_task="start"))
    cib = etree.parse(str(cib_file)).getroot()
    events = [e for e in read.events(cib, "t1done") if e.time == 1795672400.000123]
    assert [(e.step, e.task, e.outcome) for e in events] == [("a", "start", "ok")]


def test_the_alert_agent_records_a_fencing_once_where_a_workflow_ran(cib_file: Path) -> None:
    alert_haflow.handle(alert_env(CRM_alert_rsc="t1done.a", CRM_alert_task="start",
                                  CRM_alert_node="node7"))
    fencing = {"CRM_alert_kind": "fencing", "CRM_alert_task": "reboot", "CRM_alert_rc": "0",
               "CRM_alert_desc": "Operation reboot of node7 by node1 for "
               "pacemaker-controld.9@node1: OK (ref=3e0c-77aa)"}
    # every node runs the alert: the same fencing, at slightly different times
    for stamp in ("1795672410", "1795672411"):
        alert_haflow.handle(alert_env(CRM_alert_node="node7", **fencing,
                                      CRM_alert_timestamp_epoch=stamp))
    alert_haflow.handle(alert_env(CRM_alert_node="node9", **fencing))  # ran nothing there
    cib = etree.parse(str(cib_file)).getroot()
    fenced = [e for e in read.events(cib, "t1done") if e.step == "(fencing)"]
    assert [(e.node, e.task, e.outcome) for e in fenced] == [("node7", "reboot", "success")]
    # the fencer's own record of the same fencing is not shown a second time
    fencer = etree.fromstring(
        b'<pacemaker-result><fence_history><fence_event action="reboot" target="node7" '
        b'status="success" completed="2026-11-26 05:53:30Z"/></fence_history>'
        b'</pacemaker-result>')
    shown = history.history(cib, fencer, "t1done")
    assert [e.node for e in shown if e.step == "(fencing)"] == ["node7"]


def test_the_alert_agent_rolls_back_only_a_failure_for_good(cib_file: Path) -> None:
    cib = etree.parse(str(cib_file)).getroot()
    assert alert_haflow.cannot_run_anywhere(
        _as_et(cib), "t1done.b", "node1") is None  # no fail count yet: wait for it
    assert not read.aborted(cib, "t1done")
    subprocess.run(["crm_attribute", "--node", "node1", "--lifetime", "reboot", "--name",
                    "fail-count-t1done.b#start_0", "--update", "INFINITY"], check=True)
    alert_haflow.FAILCOUNT_WAIT = 1.0
    alert_haflow.handle(alert_env(CRM_alert_rsc="t1done.b", CRM_alert_task="start",
                                  CRM_alert_rc="1", CRM_alert_desc="error"))
    cib = etree.parse(str(cib_file)).getroot()
    assert read.aborted(cib, "t1done")
    # as haflow abort: the root and every step stopped, in one change
    roles_set = {p.get("id"): [n.get("value") for n in p.iterfind(
        "meta_attributes/nvpair[@name='target-role']")] for p in resources_of(cib, "t1done")}
    assert "t1done.root" in roles_set and len(roles_set) > 2
    assert all(r == ["Stopped"] for r in roles_set.values()), roles_set
    assert any(e.task == "rollback" for e in read.events(cib, "t1done"))


def test_the_alert_agent_leaves_a_hold_workflow_alone(cib_file: Path) -> None:
    shutil.copy(DATA / "held.cib.xml", cib_file)
    alert_haflow.FAILCOUNT_WAIT = 1.0
    alert_haflow.handle(alert_env(CRM_alert_rsc="t1hold.b", CRM_alert_task="start",
                                  CRM_alert_rc="1", CRM_alert_desc="error"))
    cib = etree.parse(str(cib_file)).getroot()
    assert not read.aborted(cib, "t1hold")
    # the event carries the failure's exit reason, read from the CIB's status section
    recorded_failure = [e for e in read.events(cib, "t1hold")
                        if e.time == 1795672400.000123]
    assert len(recorded_failure) == 1 and "failing on purpose" in recorded_failure[0].text
    # a monitor cancelled by a stop is no event
    alert_haflow.handle(alert_env(CRM_alert_rsc="t1hold.a", CRM_alert_task="monitor",
                                  CRM_alert_interval="30000", CRM_alert_status="1",
                                  CRM_alert_timestamp_epoch="1895672500"))
    cib = etree.parse(str(cib_file)).getroot()
    assert not [e for e in read.events(cib, "t1hold") if e.time >= 1895672500]


def _flag(cib_file: Path, rid: str) -> None:
    """Mark ``rid``'s effect as still present (its undo cut short)."""
    subprocess.run(["cibadmin", "--modify", "--scope", "resources", "--xml-text",
                    f'<primitive id="{rid}"><meta_attributes id="{rid}-haflow-outputs">'
                    f'<nvpair id="{rid}-haflow-effect" name="haflow-effect" value="present"/>'
                    "</meta_attributes></primitive>"], check=True)


def _sweep_sets(cib_file: Path) -> list[list[tuple[str | None, str | None]]]:
    cib = etree.parse(str(cib_file)).getroot()
    return [[(n.get("name"), n.get("value")) for n in m]
            for m in cib.iterfind(".//primitive[@id='t1chain.root']/meta_attributes")
            if m.get("id") == "t1chain.root.sweep"]


FENCED = {"CRM_alert_kind": "fencing", "CRM_alert_task": "reboot", "CRM_alert_rc": "0",
          "CRM_alert_node": "node7",
          "CRM_alert_desc": "Operation reboot of node7 by node1: OK (ref=77aa)"}


def test_after_a_fencing_the_dc_starts_a_stopped_root_again_to_finish_cut_undos(
        cib_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The root's node fenced mid-rollback: its stop (the sweep) never ran, a step stays
    flagged; the DC's alert starts the root again, and the root's start lets it stop."""
    shutil.copy(DATA / "rolled-back.cib.xml", cib_file)
    monkeypatch.setattr(alert_haflow, "local_node", lambda: "node1")  # the DC (dc-uuid 1)
    alert_haflow.handle(alert_env(**FENCED))
    assert _sweep_sets(cib_file) == []  # nothing flagged: nothing to finish
    _flag(cib_file, "t1chain.b")
    monkeypatch.setattr(alert_haflow, "local_node", lambda: "node2")  # not the DC
    alert_haflow.handle(alert_env(**FENCED))
    assert _sweep_sets(cib_file) == []
    monkeypatch.setattr(alert_haflow, "local_node", lambda: "node1")
    alert_haflow.handle(alert_env(**FENCED))
    assert _sweep_sets(cib_file) == [[("target-role", "Started")]]
    cib = etree.parse(str(cib_file)).getroot()
    # the override is the alert's, not the admin's: the workflow stays aborted
    assert read.aborted(cib, "t1chain")
    wf = status.workflow_status(cib, recorded("rolled-back")[1], "t1chain", now=newest(cib))
    assert wf.aborted and wf.state != WorkflowState.ROLLED_BACK
    assert [e.task for e in read.events(cib, "t1chain")][-1] == "sweep"
    assert "node7 (fenced)" in render_history(read.events(cib, "t1chain"))
    # the set is the override Pacemaker sees: the root starts on a live node
    sets = cib.findall(".//primitive[@id='t1chain.root']/meta_attributes")
    assert [m.get("score") for m in sets if m.get("id") == "t1chain.root.sweep"] == \
        ["INFINITY"]
    # a second fencing alert adds nothing; the root's start removes the override
    alert_haflow.handle(alert_env(**FENCED))
    assert len(_sweep_sets(cib_file)) == 1
    started = run_agent("haflow.agents.workflow_agent", "start", ocf_env(
        "t1chain.root", {"workflow": "t1chain"}, run_dir=cib_file.parent / "run",
        cib_file=cib_file))
    assert started.rc == 0, started
    assert _sweep_sets(cib_file) == []
    cib = etree.parse(str(cib_file)).getroot()
    assert target_role(cib, "t1chain") == "Stopped"


def test_no_sweep_while_the_root_still_runs_or_for_a_running_workflow(
        cib_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alert_haflow, "local_node", lambda: "node1")
    # t1done runs: its steps are flagged, its root is active, it is not aborted
    alert_haflow.handle(alert_env(**FENCED))
    cib = etree.parse(str(cib_file)).getroot()
    assert not cib.findall(".//meta_attributes[@id='t1done.root.sweep']")
    # aborted, but the root is still active (its stop comes after the steps' stops)
    set_role(cib, "t1done", "Stopped")
    cib_file.write_bytes(etree.tostring(cib))
    assert alert_haflow.sweep_needed(_as_et(cib)) == []
    assert alert_haflow.active_somewhere(_as_et(cib), "t1done.root")


def test_abort_and_retry_replace_a_sweep_override() -> None:
    cib, _ = recorded("rolled-back")
    root = root_of(cib, "t1chain")
    assert root is not None
    sweep = etree.SubElement(root, "meta_attributes", id="t1chain.root.sweep", score="INFINITY")
    etree.SubElement(sweep, "nvpair", id="t1chain.root.sweep.target-role", name="target-role",
                     value="Started")
    assert target_role(cib, "t1chain") == "Stopped"
    set_role(cib, "t1chain", None)
    assert root.find("meta_attributes[@id='t1chain.root.sweep']") is None
    assert target_role(cib, "t1chain") is None


def _as_et(cib: etree._Element) -> alert_haflow.ET.Element:
    return alert_haflow.ET.fromstring(etree.tostring(cib))


def test_placement_rules_on_node_names_count_for_where_a_step_may_run() -> None:
    wf = loads("name: pin\nsteps:\n  a: {agent: test, nodes: [node2, node3]}\n"
               "  b: {agent: test, avoid: [node1]}\n  c: {agent: test}\n", "pin.yaml")
    cib = etree.fromstring(b"<cib><configuration><resources/><constraints/><tags/>"
                           b"</configuration><status/></cib>")
    cib = _as_et(merge_into(cib, compile_workflow(wf)))
    allowed = {step: [n for n in ("node1", "node2", "node3", "node4")
                      if not alert_haflow.banned(cib, f"pin.{step}", n)] for step in "abc"}
    assert allowed == {"a": ["node2", "node3"], "b": ["node2", "node3", "node4"],
                       "c": ["node1", "node2", "node3", "node4"]}


def test_a_failed_step_says_where_it_will_be_retried_or_that_it_will_not() -> None:
    cib, mon = recorded("auto-rolled-back")
    for nvpair in cib.iter("nvpair"):  # as just before the alert agent stopped the root
        if nvpair.get("name") == "target-role":
            nvpair.getparent().remove(nvpair)
    now = newest(cib)
    wf = status.workflow_status(cib, mon, "t1auto", now=now)
    b = wf.steps[1]
    assert b.state == StepState.FAILED and b.retry_on == []
    assert wf.state == WorkflowState.FAILED
    assert "will not be retried" in str(b.note) and "rollback pending" in render_workflow(wf)
    nodes = mon.find("nodes")
    etree.SubElement(nodes, "node", name="node2", online="true")
    wf = status.workflow_status(cib, mon, "t1auto", now=now)
    assert wf.steps[1].retry_on == ["node2"] and "will be retried on node2" in \
        str(wf.steps[1].note)
    assert wf.state == WorkflowState.RUNNING


def test_a_stopped_step_whose_effect_is_still_flagged_is_not_undone() -> None:
    """Fencing cut its undo short: the root's stop (the sweep) still has to undo it;
    if the root stopped and the flag stayed, the effect may remain."""
    cib, mon = recorded("rolled-back")
    b = cib.find(".//primitive[@id='t1chain.b']")
    assert b is not None
    flags = etree.SubElement(b, "meta_attributes", id="t1chain.b-haflow-outputs")
    etree.SubElement(flags, "nvpair", id="t1chain.b-haflow-effect", name="haflow-effect",
                     value="present")
    wf = status.workflow_status(cib, mon, "t1chain", now=newest(cib))
    step = {s.name: s for s in wf.steps}["b"]
    assert step.state == StepState.BLOCKED and "may remain" in (step.note or "")
    assert wf.state == WorkflowState.BLOCKED and step.to_dict()["effect_flagged"]
    root = mon.find(".//resource[@id='t1chain.root']")
    assert root is not None
    root.set("role", "Stopping")
    root.set("active", "true")
    etree.SubElement(root, "node", name="node1", id="1", cached="true")
    wf = status.workflow_status(cib, mon, "t1chain", now=newest(cib))
    assert {s.name: s for s in wf.steps}["b"].state == StepState.UNDOING
    assert wf.state == WorkflowState.ROLLING_BACK


def test_a_run_is_over_for_wait_once_its_checkpoint_is_on_disk() -> None:
    """The checkpoint comes a moment after the last action (agents/checkpointer.py):
    until then the outcome is in the status section alone, which a stop of the whole
    cluster loses, and status says so; wait waits for it, or a while at most."""
    import time

    from haflow.coordinator.commands.wait import CHECKPOINT_GRACE, outcome
    from haflow.coordinator.exitcodes import ExitCode

    cib, mon = recorded("done")
    wf = status.workflow_status(cib, mon, "t1done", now=newest(cib))
    assert wf.state == WorkflowState.DONE and not wf.checkpoint_pending
    assert outcome(wf, None) == ExitCode.OK and "pending" not in render_workflow(wf)
    # a record the history set does not hold yet: the last start's, say
    status_element = cib.find("status")
    assert status_element is not None
    etree.SubElement(status_element, "haflow-live", {
        "id": "t1done", "haflow-event-t1done.9999999999-node1-b": "late"})
    wf = status.workflow_status(cib, mon, "t1done", now=newest(cib))
    assert wf.state == WorkflowState.DONE and wf.checkpoint_pending
    assert wf.to_dict()["checkpoint_pending"] is True
    assert "its checkpoint to disk pending" in render_workflow(wf).splitlines()[0]
    assert outcome(wf, None, time.monotonic()) is None
    assert outcome(wf, None, time.monotonic() - CHECKPOINT_GRACE - 1) == ExitCode.OK


def test_a_rollback_is_not_over_while_the_roots_stop_still_runs(tmp_path: Path) -> None:
    """The root's stop is the rollback's last act (its checkpoint). While it runs, its
    node's history of the root is that stop alone (the start's record overwritten), and
    crm_mon calls the root inactive, role Stopping: that is no rolled back yet (a wait
    that said so let the fault suite read the configuration before the checkpoint)."""
    from haflow.coordinator.commands.wait import outcome

    cib, _ = recorded("rolled-back")
    last = cib.find(".//lrm_rsc_op[@id='t1chain.root_last_0']")
    assert last is not None
    key = last.get("transition-key", "")
    last.attrib.update({"operation_key": "t1chain.root_stop_0", "operation": "stop",
                        "call-id": "-1", "rc-code": "193", "op-status": "-1",
                        "transition-magic": f"-1:193;{key}", "exec-time": "0"})
    mon = crm_mon_of(cib, tmp_path)
    root = mon.find(".//resource[@id='t1chain.root']")
    assert root is not None and (root.get("role"), root.get("active")) == ("Stopping", "false")
    wf = status.workflow_status(cib, mon, "t1chain", now=newest(cib))
    assert {s.state for s in wf.steps} == {StepState.UNDONE}
    assert wf.state == WorkflowState.ROLLING_BACK and outcome(wf, None) is None


def test_undoing_after_an_abort_shows_the_undo_running() -> None:
    cib, mon = recorded("undoing")
    beat = next(n for n in cib.iter("nvpair") if n.get("name", "").startswith("haflow-hb-"))
    wf = status.workflow_status(cib, mon, "t1undo", now=int(str(beat.get("value")).split()[0]))
    assert wf.state == WorkflowState.ROLLING_BACK and wf.aborted
    a = wf.steps[0]
    assert a.state == StepState.UNDOING and a.message == "undo" and not a.stuck
    assert "undoing" in render_workflow(wf) and "0/1 undone" in render_workflow(wf)


def test_a_big_fine_workflow_prints_compactly_a_problem_still_shows() -> None:
    steps = "\n".join(f"  s{i}: {{agent: test" + (f", after: [s{i - 1}]" if i else "") + "}"
                      for i in range(40))
    wf = loads(f"name: big\nsteps:\n{steps}\n", "big.yaml")
    cib = etree.fromstring(b"<cib><configuration><resources/><constraints/><tags/>"
                           b"</configuration><status/></cib>")
    cib = merge_into(cib, compile_workflow(wf))
    mon = etree.fromstring(b"<pacemaker-result><nodes/><resources/></pacemaker-result>")
    big = status.workflow_status(cib, mon, "big", now=0)
    text = render_workflow(big)
    assert len(text.splitlines()) == 2 and "40 waiting" in text
    assert len(render_workflow(big, verbose=True).splitlines()) == 41
    big.steps[7].state = StepState.BLOCKED
    text = render_workflow(big)
    assert "BLOCKED   s7" in text and "!! big: step s7 is BLOCKED" in text


def test_a_waiting_step_no_online_node_may_run_says_so() -> None:
    wf = loads("name: pin\nsteps:\n  a: {agent: test, nodes: [node7]}\n", "pin.yaml")
    cib = etree.fromstring(b"<cib><configuration><resources/><constraints/><tags/>"
                           b"</configuration><status/></cib>")
    cib = merge_into(cib, compile_workflow(wf))
    mon = etree.fromstring(b'<pacemaker-result><nodes><node name="node1" online="true"/>'
                           b'</nodes><resources><resource id="pin.root" role="Started" '
                           b'active="true"><node name="node1"/></resource></resources>'
                           b"</pacemaker-result>")
    a = status.workflow_status(cib, mon, "pin", now=0).steps[0]
    assert a.state == StepState.WAITING and a.waiting_on == [] and "no online node" in str(a.note)
    assert "no online node may run it" in render_workflow(status.workflow_status(
        cib, mon, "pin", now=0))


def test_an_unreadable_fencing_history_is_not_an_empty_one() -> None:
    import subprocess

    def answer(rc: int, out: str, err: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(["stonith_admin"], rc, out, err)

    empty = ('<pacemaker-result><list name="fencing history" count="0"/>'
             '<status code="0" message="OK"/></pacemaker-result>')
    assert not isinstance(history.parse_fencing(answer(0, empty)), str)
    busy = ('<pacemaker-result><status code="102" message="Not connected"/>'
            '</pacemaker-result>')
    assert history.parse_fencing(answer(102, busy)) == "Not connected"
    assert history.parse_fencing(answer(1, "", "could not connect")) == "could not connect"


def test_crm_mon_reads_the_snapshot_unvalidated_with_the_same_result(tmp_path: Path) -> None:
    text = (DATA / "undoing.cib.xml").read_text()
    fast = live_view.unvalidated(text)
    assert fast.startswith('<cib validate-with="none" epoch=') and fast.count("<") == \
        text.count("<") and len(fast) == len(text) - len("pacemaker-3.9") + len("none")
    assert live_view.unvalidated("<cib epoch='1'/>") == "<cib epoch='1'/>"  # nothing to change
    if not shutil.which("crm_mon"):
        pytest.fail("crm_mon is missing: install pacemaker-cli-utils")
    shown = []
    for name, body in (("checked", text), ("unchecked", fast)):
        path = tmp_path / f"{name}.xml"
        path.write_text(body)
        done = subprocess.run(live_view.MON, capture_output=True, text=True, check=True,
                              env=dict(os.environ, CIB_file=str(path)))
        shown.append(etree.tostring(etree.fromstring(done.stdout.encode()).find("resources")))
    assert shown[0] == shown[1] and b"t1undo.a" in shown[0]


def test_the_sweep_waits_only_for_a_fenced_nodes_old_history() -> None:
    cib, _ = recorded("rolled-back")
    state = cib.find("status/node_state[@uname='node1']")
    assert state is not None
    assert not alert_haflow.has_stale_history(_as_et(cib), "node1")  # online: its own
    state.set("crmd", "offline")
    assert alert_haflow.has_stale_history(_as_et(cib), "node1")  # fenced, not erased yet
    for lrm in state.findall("lrm"):
        state.remove(lrm)
    assert not alert_haflow.has_stale_history(_as_et(cib), "node1")  # erased
    assert not alert_haflow.has_stale_history(_as_et(cib), "node9")  # never there


def test_a_flagged_step_is_undoing_while_the_roots_sweep_can_still_run() -> None:
    """The root stopped by a fencing (its node's history erased), not by its own stop: the
    fencing's alert starts it again to sweep, so the rollback is not BLOCKED, and wait
    does not return; nor once the alert asked for the sweep (the root's sweep set)."""
    from haflow.coordinator.commands.wait import outcome
    from haflow.encoding.write import ask_sweep

    cib, mon = recorded("rolled-back")
    b = cib.find(".//primitive[@id='t1chain.b']")
    assert b is not None
    flags = etree.SubElement(b, "meta_attributes", id="t1chain.b.outputs")
    etree.SubElement(flags, "nvpair", id="t1chain.b.outputs.haflow-effect",
                     name="haflow-effect", value="present")
    for rsc in cib.iterfind(".//lrm_resource[@id='t1chain.root']"):
        rsc.getparent().remove(rsc)  # erased with the fenced node's history
    wf = status.workflow_status(cib, mon, "t1chain", now=newest(cib))
    assert {s.name: s for s in wf.steps}["b"].state == StepState.UNDOING
    assert wf.state == WorkflowState.ROLLING_BACK and outcome(wf, None) is None
    root = cib.find(".//primitive[@id='t1chain.root']")
    assert root is not None
    ask_sweep(root, "t1chain")
    history = cib.find("status/node_state/lrm/lrm_resources")
    assert history is not None
    etree.SubElement(etree.SubElement(history, "lrm_resource", id="t1chain.root"),
                     "lrm_rsc_op", {"id": "t1chain.root_last_0", "operation": "stop",
                                    "rc-code": "0", "op-status": "0"})
    wf = status.workflow_status(cib, mon, "t1chain", now=newest(cib))
    assert wf.state == WorkflowState.ROLLING_BACK, "the sweep set outranks an old stop"
    root.remove(root.find("meta_attributes[@id='t1chain.root.sweep']"))
    wf = status.workflow_status(cib, mon, "t1chain", now=newest(cib))
    assert wf.state == WorkflowState.BLOCKED, "the root's own stop swept and left it"


def test_a_rollback_is_not_over_while_the_alert_has_asked_for_the_roots_sweep() -> None:
    """Every step undone, but the root was stopped by its node's fencing and the alert asked
    for the sweep: the root starts and stops again. Rolled back before that would turn
    into rolling back while the root runs (seen by the fault suite's crash-undo)."""
    from haflow.coordinator.commands.wait import outcome
    from haflow.encoding.write import ask_sweep

    cib, mon = recorded("rolled-back")
    assert status.workflow_status(cib, mon, "t1chain", now=newest(cib)).state == \
        WorkflowState.ROLLED_BACK
    root = cib.find(".//primitive[@id='t1chain.root']")
    assert root is not None
    ask_sweep(root, "t1chain")
    wf = status.workflow_status(cib, mon, "t1chain", now=newest(cib))
    assert {s.state for s in wf.steps} == {StepState.UNDONE}
    assert wf.state == WorkflowState.ROLLING_BACK and outcome(wf, None) is None
