"""The step contract, with the test and exec agents run as Pacemaker runs them.

A Sandbox is one node's view (its markers) with a CIB in a file; forgetting
the markers is what a reboot or fencing does to a node, so the next start is
a survivor's start after a failover.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from haflow.agents import checkpoint, checkpointer, ocfcodes
from haflow.encoding import live
from haflow.lab import records
from tests.agents.agentrun import Sandbox, cibadmin

pytestmark = pytest.mark.tier0

TEST = "haflow.agents.test_agent"
EXEC = "haflow.agents.exec_agent"


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    sandbox = Sandbox(tmp_path / "node")
    sandbox.add_primitive("wf.root", "workflow", params={"workflow": "wf"})
    for step in ("a", "b"):  # as the compiler writes them: the sweep reads these
        sandbox.add_primitive(f"wf.{step}", "test", params=params(tmp_path / "state", step))
    return sandbox


def params(state: Path, step: str = "a", **extra: str) -> dict[str, str]:
    return {"workflow": "wf", "step": step, "submission": "s1", "state_dir": str(state),
            **extra}


def test_start_is_done_once_and_adopted_after_failover(box: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert box.run(TEST, "monitor", params(state), "wf.a").rc == ocfcodes.NOT_RUNNING
    assert box.run(TEST, "start", params(state), "wf.a").rc == 0
    assert box.run(TEST, "monitor", params(state), "wf.a").rc == 0
    made = box.outputs("wf.a")
    assert made["id"].startswith("test-")
    box.forget_markers()  # the node is fenced; a survivor probes, then starts
    assert box.run(TEST, "monitor", params(state), "wf.a").rc == ocfcodes.NOT_RUNNING
    assert box.run(TEST, "start", params(state), "wf.a").rc == 0
    assert records.events(state) == ["do", "adopt"]
    assert records.effects(state) == ["wf__a__s1"]
    assert box.outputs("wf.a") == made  # the adopted effect keeps its outputs


def test_a_move_keeps_the_effect_an_abort_undoes_it(box: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert box.run(TEST, "start", params(state), "wf.a").rc == 0
    assert box.run(TEST, "stop", params(state), "wf.a").rc == 0  # standby, shutdown, move
    assert box.run(TEST, "monitor", params(state), "wf.a").rc == ocfcodes.NOT_RUNNING
    assert records.effects(state) == ["wf__a__s1"]
    assert box.run(TEST, "start", params(state), "wf.a").rc == 0
    box.set_target_role("wf.root", "Stopped")  # haflow abort
    assert box.run(TEST, "stop", params(state), "wf.a").rc == 0
    assert box.run(TEST, "stop", params(state), "wf.a").rc == 0  # stop of a stopped step
    assert records.events(state) == ["do", "adopt", "undo", "undo-noop"]
    assert records.effects(state) == []
    assert box.outputs("wf.a") == {}


def test_a_step_wrapped_by_hand_in_a_group_is_read_with_its_group(box: Sandbox,
                                                                  tmp_path: Path) -> None:
    """A stop reads its own workflow's part of the configuration only: a step that an
    admin moved into a group of another name is not there, and must not be taken
    for removed (which would undo it on a mere move)."""
    state = tmp_path / "state"
    assert box.run(TEST, "start", params(state), "wf.a").rc == 0
    step = cibadmin(box.cib_file, "-Q", "--xpath", "//primitive[@id='wf.a']")
    cibadmin(box.cib_file, "--delete", "--xpath", "//primitive[@id='wf.a']")
    cibadmin(box.cib_file, "--create", "--scope", "resources", "-X",
             f'<group id="byhand">{step}</group>')
    assert box.run(TEST, "stop", params(state), "wf.a").rc == 0  # a move
    assert records.effects(state) == ["wf__a__s1"]
    cibadmin(box.cib_file, "--modify", "--scope", "resources", "-X",
             '<group id="byhand"><meta_attributes id="byhand-meta"><nvpair '
             'id="byhand-meta-role" name="target-role" value="Stopped"/></meta_attributes>'
             '</group>')
    assert box.run(TEST, "stop", params(state), "wf.a").rc == 0  # its group is stopped
    assert records.effects(state) == []


def test_removing_a_step_undoes_it(box: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert box.run(TEST, "start", params(state), "wf.a").rc == 0
    box.remove_primitive("wf.a")
    assert box.run(TEST, "stop", params(state), "wf.a").rc == 0
    assert records.events(state) == ["do", "undo"]


def test_own_target_role_stopped_undoes(box: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert box.run(TEST, "start", params(state), "wf.a").rc == 0
    box.set_target_role("wf.a", "Stopped")
    assert box.run(TEST, "stop", params(state), "wf.a").rc == 0
    assert records.events(state) == ["do", "undo"]


def test_failed_start_undoes_its_partial_effect_under_rollback(box: Sandbox,
                                                               tmp_path: Path) -> None:
    state = tmp_path / "state"
    failing = params(state, fail_start="1", partial="true")
    result = box.run(TEST, "start", failing, "wf.a")
    assert result.rc == ocfcodes.ERR_GENERIC
    assert "failing on purpose" in (result.exit_reason or "")
    assert records.events(state) == ["do-failed", "undo"]
    assert records.effects(state) == []
    assert box.run(TEST, "start", failing, "wf.a").rc == 0  # the retry succeeds
    assert records.effects(state) == ["wf__a__s1"]


def test_failed_start_keeps_its_partial_effect_under_hold(box: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state"
    box.set_meta("wf.a", "haflow-failure-policy", "hold")
    result = box.run(TEST, "start", params(state, fail_start="1", partial="true"), "wf.a")
    assert result.rc == ocfcodes.ERR_GENERIC
    assert records.events(state) == ["do-failed"]
    assert records.effects(state) == ["wf__a__s1"]  # left for the admin to inspect


def test_drift_fails_the_monitor_and_a_restart_repairs_it(box: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert box.run(TEST, "start", params(state), "wf.a").rc == 0
    (state / "effects" / "wf__a__s1").unlink()  # someone deleted the VM behind our back
    result = box.run(TEST, "monitor", params(state), "wf.a", meta={"interval": "10000"})
    assert result.rc == ocfcodes.ERR_GENERIC
    assert "drift" in (result.exit_reason or "")
    assert box.run(TEST, "stop", params(state), "wf.a").rc == 0  # recovery: a move
    assert box.run(TEST, "start", params(state), "wf.a").rc == 0
    assert records.events(state) == ["do", "do"]
    assert records.effects(state) == ["wf__a__s1"]


def test_a_probe_that_finds_our_marker_but_no_effect_says_not_running(box: Sandbox,
                                                                      tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert box.run(TEST, "start", params(state), "wf.a").rc == 0
    (state / "effects" / "wf__a__s1").unlink()
    assert box.run(TEST, "monitor", params(state), "wf.a").rc == ocfcodes.NOT_RUNNING


def test_outputs_flow_into_later_steps(box: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert box.run(TEST, "start", params(state, output="hello"), "wf.a").rc == 0
    made = box.outputs("wf.a")
    assert made["value"] == "hello"
    later = params(state, step="b", output="from a: ${steps.a.id}/${steps.a.value} $${x}")
    assert box.run(TEST, "start", later, "wf.b").rc == 0
    assert box.outputs("wf.b")["value"] == f"from a: {made['id']}/hello ${{x}}"


def test_a_missing_output_fails_the_start_naming_it(box: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state"
    later = params(state, step="b", output="${steps.a.nope}")
    result = box.run(TEST, "start", later, "wf.b")
    assert result.rc == ocfcodes.ERR_GENERIC
    assert result.exit_reason == ("parameter 'output' needs output 'nope' of step 'a', "
                                  "which that step has not produced")


def test_migration_hands_over_without_undo(box: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state"
    target = Sandbox(tmp_path / "other")  # another node, the same CIB
    target.cib_file = box.cib_file
    assert box.run(TEST, "start", params(state), "wf.a").rc == 0
    assert box.run(TEST, "migrate_to", params(state), "wf.a").rc == 0
    assert target.run(TEST, "migrate_from", params(state), "wf.a").rc == 0
    assert box.run(TEST, "monitor", params(state), "wf.a").rc == ocfcodes.NOT_RUNNING
    assert target.run(TEST, "monitor", params(state), "wf.a").rc == 0
    assert records.events(state) == ["do", "adopt"]  # the hand-over adopts, no second do


def exec_params(tmp_path: Path, **extra: str) -> dict[str, str]:
    effect = tmp_path / "effect"
    return {"workflow": "wf", "step": "a", "submission": "s1",
            "do": f"echo 'haflow-progress: 50 halfway'; echo \"$HAFLOW_KEY\" > {effect}; "
                  "echo \"vm=$HAFLOW_KEY\" >> \"$HAFLOW_OUTPUTS\"",
            "check": f"test -e {effect}",
            "undo": f"rm -f {effect}", **extra}


def test_exec_does_checks_and_undoes(box: Sandbox, tmp_path: Path) -> None:
    effect = tmp_path / "effect"
    p = exec_params(tmp_path)
    assert box.run(EXEC, "start", p, "wf.a").rc == 0
    assert effect.read_text() == "wf/a/s1\n"
    assert box.outputs("wf.a") == {"vm": "wf/a/s1"}
    assert box.run(EXEC, "monitor", p, "wf.a").rc == 0
    effect.unlink()
    assert box.run(EXEC, "monitor", p, "wf.a", meta={"interval": "5000"}).rc == 1
    box.set_target_role("wf.root", "Stopped")
    effect.write_text("x")
    assert box.run(EXEC, "stop", p, "wf.a").rc == 0
    assert not effect.exists()


def test_exec_check_with_an_odd_status_is_an_error(box: Sandbox, tmp_path: Path) -> None:
    p = exec_params(tmp_path, check="echo cannot tell >&2; exit 2")
    result = box.run(EXEC, "start", p, "wf.a")
    assert result.rc == ocfcodes.ERR_GENERIC
    assert result.exit_reason == ("check command exited 2 (expected 0: present or 1: absent): "
                                  "cannot tell")


def test_exec_bad_outputs_are_an_error(box: Sandbox, tmp_path: Path) -> None:
    p = exec_params(tmp_path, do="echo 'not an output' > \"$HAFLOW_OUTPUTS\"", check="exit 1")
    result = box.run(EXEC, "start", p, "wf.a")
    assert result.rc == ocfcodes.ERR_GENERIC
    assert "do command wrote bad outputs (line 1: expected KEY=VALUE" in (result.exit_reason or "")


def test_exec_env_and_workdir(box: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "seen"
    p = exec_params(tmp_path, do=f"echo \"$GREETING $(pwd)\" > {out}", check="exit 1",
                    env="GREETING=hello world\n", workdir=str(tmp_path))
    assert box.run(EXEC, "start", p, "wf.a").rc == 0
    assert out.read_text() == f"hello world {tmp_path}\n"


def test_an_escaped_dollar_brace_is_literal_without_references(box: Sandbox,
                                                              tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert box.run(TEST, "start", params(state, output="cost: $${price}"), "wf.a").rc == 0
    assert box.outputs("wf.a")["value"] == "cost: ${price}"


ROOT_AGENT = "haflow.agents.workflow_agent"


@pytest.fixture
def ocf_root(tmp_path: Path) -> Path:
    from haflow.agents import install

    root = tmp_path / "ocf"
    install.install(str(root))
    return root


def rollback(box: Sandbox, ocf_root: Path) -> None:
    """Abort: the root is stopped, and its stop (the last of the rollback) runs."""
    box.set_target_role("wf.root", "Stopped")
    env = box.env("wf.root", {"workflow": "wf"})
    env["OCF_ROOT"] = str(ocf_root)
    from tests.agents.agentrun import run_agent

    result = run_agent(ROOT_AGENT, "stop", env)
    assert result.rc == 0, result


def test_an_undo_cut_short_by_fencing_is_finished_by_the_rollback(
        box: Sandbox, tmp_path: Path, ocf_root: Path) -> None:
    state = tmp_path / "state"
    assert box.run(TEST, "start", params(state), "wf.a").rc == 0
    assert box.effect("wf.a") == "present"
    box.forget_markers()  # fenced in the middle of a's undo: Pacemaker counts a as stopped
    rollback(box, ocf_root)
    assert records.events(state) == ["do", "undo"]
    assert records.effects(state) == []
    assert not box.flagged("wf.a")


def test_a_partial_effect_held_for_the_admin_is_undone_when_they_abort(
        box: Sandbox, tmp_path: Path, ocf_root: Path) -> None:
    state = tmp_path / "state"
    box.set_meta("wf.a", "haflow-failure-policy", "hold")
    failing = params(state, fail_start="5", partial="true")
    assert box.run(TEST, "start", failing, "wf.a").rc == ocfcodes.ERR_GENERIC
    # flagged on <status> before do, never written to the configuration
    assert box.pending("wf.a") and box.meta("wf.a") == {"haflow-failure-policy": "hold"}
    assert records.effects(state) == ["wf__a__s1"]
    rollback(box, ocf_root)
    assert records.events(state) == ["do-failed", "undo"]
    assert records.effects(state) == []
    assert not box.flagged("wf.a")


def test_a_clean_rollback_leaves_the_sweep_nothing_to_do(
        box: Sandbox, tmp_path: Path, ocf_root: Path) -> None:
    state = tmp_path / "state"
    assert box.run(TEST, "start", params(state), "wf.a").rc == 0
    box.set_target_role("wf.root", "Stopped")
    assert box.run(TEST, "stop", params(state), "wf.a").rc == 0
    rollback(box, ocf_root)
    assert records.events(state) == ["do", "undo"]



LAST = {"haflow_last": "2"}  # meta.LAST_STEP_META (2 haflow steps), as the agent gets it
HISTORY = "haflow-event-"  # meta.EVENT_META_PREFIX: the durable history's records


def durable_history(box: Sandbox) -> dict[str, str]:
    return {k: v for k, v in box.meta("wf.root").items() if k.startswith(HISTORY)}


def test_steps_record_on_status_and_the_last_one_checkpoints(
        box: Sandbox, tmp_path: Path, ocf_root: Path) -> None:
    state = tmp_path / "state"
    # a and b are both last (neither runs after the other): a starts first, finds b not
    # done, and leaves the checkpoint to b
    assert box.run(TEST, "start", params(state), "wf.a", meta=LAST).rc == 0
    # live, on the workflow's element under <status>: the configuration is as the
    # compiler wrote it
    assert box.meta("wf.a") == {} and box.meta("wf.root") == {}
    assert box.live_elements() == ["wf"] and box.status_own() == {}
    assert box.effect("wf.a") == "present" and box.outputs("wf.a")["id"].startswith("test-")
    assert len(box.live_events("wf")) == 1
    assert box.run(TEST, "start", params(state, "b"), "wf.b", meta=LAST).rc == 0
    # b's start, finding both done, copies every step's state and the history into
    # the configuration, in one change, and drops the live records it copied
    for rid in ("wf.a", "wf.b"):
        assert box.meta(rid)["haflow-effect"] == "present"
        assert box.durable_outputs(rid) == box.outputs(rid) != {}
    assert len(durable_history(box)) == 2 and box.live_events("wf") == {}
    # compacted: the copy says all of it, so nothing of the workflow is left live, and
    # its element is gone
    assert box.status() == {} and box.live_elements() == []
    assert box.flagged("wf.a") and box.outputs("wf.b") == box.durable_outputs("wf.b")
    # b moves and starts again (a retry): done by its copy, a is counted, and the run's
    # new records are checkpointed too
    assert box.run(TEST, "stop", params(state, "b"), "wf.b").rc == 0
    assert box.run(TEST, "start", params(state, "b"), "wf.b", meta=LAST).rc == 0
    assert len(durable_history(box)) == 4 and box.status() == {}
    # an undo is recorded live and outranks the copy; the root's stop catches it up
    rollback(box, ocf_root)
    assert records.effects(state) == []
    assert not box.flagged("wf.a") and not box.flagged("wf.b")
    # copied by merging: each flag "", the outputs it hides cleared in place
    for rid in ("wf.a", "wf.b"):
        assert box.meta(rid) == {"haflow-effect": "", "haflow-output-id": ""}
    assert len(durable_history(box)) == 6 and box.live_events("wf") == {}
    assert box.status() == {}


def test_the_checkpoint_is_what_a_rollback_reads_once_status_is_lost(
        box: Sandbox, tmp_path: Path, ocf_root: Path) -> None:
    state = tmp_path / "state"
    assert box.run(TEST, "start", params(state), "wf.a").rc == 0
    assert box.run(TEST, "start", params(state, "b"), "wf.b", meta=LAST).rc == 0
    made = box.outputs("wf.b")
    # the whole cluster stops: Pacemaker rebuilds the status section, markers are gone
    cibadmin(box.cib_file, "--replace", "--scope", "status", "-X", "<status/>")
    box.forget_markers()
    assert box.status() == {}
    assert box.flagged("wf.a") and box.outputs("wf.b") == made
    rollback(box, ocf_root)
    assert records.effects(state) == []
    assert not box.flagged("wf.a") and not box.flagged("wf.b")


def test_a_stale_configuration_pushed_over_a_checkpoint_loses_no_record(
        box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pcs's read-modify-replace commands (``pcs resource delete``) push the whole
    configuration as they read it: a checkpoint written between their read and their
    write is gone (seen in the fault suite's pcs-submit). The live records, flags and
    outputs stay until a compaction reads their copy, so nothing is lost, and the next
    checkpoint copies them again."""
    from haflow.agents import cibio
    from haflow.encoding import read

    state = tmp_path / "state"
    for step in ("a", "b"):
        assert box.run(TEST, "start", params(state, step), f"wf.{step}").rc == 0
    made = {rid: box.outputs(rid) for rid in ("wf.a", "wf.b")}
    stale = cibadmin(box.cib_file, "-Q", "--scope", "configuration")  # what pcs read
    monkeypatch.setenv("CIB_file", str(box.cib_file))
    change = checkpoint.change_for(cibio.workflow_configuration("wf"), "wf")
    assert change is not None and change[0] == "modify"
    cibio.modify(change[1])
    assert len(durable_history(box)) == 2
    cibadmin(box.cib_file, "--replace", "--scope", "configuration", "-X", stale)
    assert durable_history(box) == {} and box.meta("wf.a") == {}
    assert checkpoint.compact(["wf"], lambda *_: None) == 0  # its copies are gone: all stays
    whole = ET.fromstring(cibadmin(box.cib_file, "-Q"))
    assert [(e.step, e.task) for e in read.events(whole, "wf")] == [("a", "start"),
                                                                    ("b", "start")]
    assert box.flagged("wf.a") and box.flagged("wf.b")
    assert {rid: box.outputs(rid) for rid in made} == made
    # the next checkpoint copies it all again, and its compaction drops the live values
    assert checkpoint.run(["wf"], lambda *_: None)
    assert len(durable_history(box)) == 2 and box.status() == {}
    assert box.flagged("wf.a") and {rid: box.durable_outputs(rid) for rid in made} == made


def test_a_compaction_is_refused_once_the_cib_changed_and_loses_nothing(
        box: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    cibadmin(box.cib_file, "--modify", "--scope", "status", "-X",
             '<status haflow-event-wf.k1="" haflow-effect-wf.gone="present"/>')
    version = ET.fromstring(cibadmin(box.cib_file, "-Q", "--no-children"))
    status = ET.fromstring(cibadmin(box.cib_file, "-Q", "--scope", "status", "--no-children"))
    durable: dict[str, live.Durable] = {rid: (None, {}, frozenset())
                                        for rid in ("wf.root", "wf.a", "wf.b")}
    compaction = live.compaction_patch(version, status, durable)
    assert compaction is not None
    patch = ET.tostring(compaction[0], encoding="unicode")
    # an agent records a start meanwhile: dropping the two would replace its write too
    cibadmin(box.cib_file, "--modify", "--scope", "status", "-X",
             '<status haflow-effect-wf.a="pending"/>')
    with pytest.raises(AssertionError, match="rc=103"):
        cibadmin(box.cib_file, "--patch", "-X", patch)
    assert box.status() == {"haflow-event-wf.k1": "", "haflow-effect-wf.gone": "present",
                            "haflow-effect-wf.a": "pending"}
    monkeypatch.setenv("CIB_file", str(box.cib_file))
    assert checkpoint.compact(["wf"], lambda level, text: None) == 2  # read again: applied
    assert box.status() == {"haflow-effect-wf.a": "pending"}
    # an agent drops only what its own workflow left
    cibadmin(box.cib_file, "--modify", "--scope", "status", "-X",
             '<status haflow-event-wf.k2="" haflow-event-other.k3=""/>')
    assert checkpoint.compact(["wf"], lambda level, text: None) == 1
    assert box.status() == {"haflow-effect-wf.a": "pending", "haflow-event-other.k3": ""}
    # on the workflow's element (where agents write), what is left stays, with its id
    cibadmin(box.cib_file, "--modify", "--scope", "status", "-X",
             '<status><haflow-live id="wf" haflow-event-wf.k4="" '
             'haflow-effect-wf.b="present"/></status>')
    assert checkpoint.compact(["wf"], lambda level, text: None) == 1
    assert box.live_elements() == ["wf"]
    assert box.status() == {"haflow-effect-wf.a": "pending", "haflow-event-other.k3": "",
                            "haflow-effect-wf.b": "present"}


def test_the_roots_start_drops_a_sweep_set_and_asks_before_deleting(box: Sandbox) -> None:
    """The alert agent's sweep set (agents/alert/agent.py) is dropped by the root's start;
    without one, the start changes nothing (a delete finding nothing still costs every
    CIB manager a whole-CIB search and validation)."""
    root = {"workflow": "wf"}
    cibadmin(box.cib_file, "--modify", "--scope", "resources", "-X",
             '<primitive id="wf.root"><meta_attributes id="wf.root.sweep" score="INFINITY">'
             '<nvpair id="wf.root.sweep.target-role" name="target-role" value="Started"/>'
             '</meta_attributes></primitive>')
    assert box.run(ROOT_AGENT, "start", root, "wf.root").rc == 0
    assert "wf.root.sweep" not in cibadmin(box.cib_file, "-Q", "--scope", "resources")
    epoch = ET.fromstring(cibadmin(box.cib_file, "-Q", "--no-children")).get("epoch")
    assert box.run(ROOT_AGENT, "start", root, "wf.root").rc == 0
    assert ET.fromstring(cibadmin(box.cib_file, "-Q", "--no-children")).get("epoch") == epoch


def epoch(box: Sandbox) -> int:
    """The CIB's configuration version: one more per configuration change."""
    return int(ET.parse(box.cib_file).getroot().get("epoch", "0"))


def deferred(box: Sandbox, rid: str, step_params: dict[str, str],
             meta: dict[str, str], quiet: str) -> None:
    """A start as in a cluster: its checkpoint left to the node's runner."""
    from tests.agents.agentrun import run_agent

    env = box.env(rid, step_params, meta)
    env["HAFLOW_CHECKPOINT_QUIET"] = quiet
    result = run_agent(TEST, "start", env)
    assert result.rc == 0, result


def runner_gone(box: Sandbox, timeout: float = 30.0) -> None:
    """Wait for the runner the test's starts began to end: it does once it has written
    every request."""
    import fcntl
    import time

    folder = box.root / "checkpoint"
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        with open(folder / checkpointer.LOCK, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if not checkpointer.pending(str(folder)):
                    return
            except BlockingIOError:
                pass
        time.sleep(0.2)
    raise AssertionError("the checkpoint runner did not end")


def test_runs_ending_together_are_checkpointed_by_the_runner_in_one_change(
        box: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state"
    box.add_primitive("wf2.root", "workflow", params={"workflow": "wf2"})
    box.add_primitive("wf2.a", "test", params=dict(params(state), workflow="wf2"))
    before = epoch(box)
    deferred(box, "wf.a", params(state), LAST, quiet="1")
    deferred(box, "wf.b", params(state, "b"), LAST, quiet="1")
    deferred(box, "wf2.a", dict(params(state), workflow="wf2"), {"haflow_last": "1"},
             quiet="1")
    # the starts returned with their state live and the checkpoint asked for, not written
    assert set(checkpointer.pending(str(box.root / "checkpoint"))) == {"wf", "wf2"}
    assert box.meta("wf.b") == {} and box.meta("wf2.a") == {}
    runner_gone(box)
    # both workflows' copies, in one configuration change, and their live state dropped
    assert epoch(box) == before + 1
    for rid in ("wf.a", "wf.b", "wf2.a"):
        assert box.meta(rid)["haflow-effect"] == "present"
    assert len(durable_history(box)) == 2 and box.status() == {}
    assert checkpointer.pending(str(box.root / "checkpoint")) == {}


def test_a_stop_that_moves_a_step_writes_the_nodes_checkpoints_at_once(
        box: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert box.run(TEST, "start", params(state), "wf.a").rc == 0
    # the runner would wait 8 s of quiet: the node leaves before that
    deferred(box, "wf.b", params(state, "b"), LAST, quiet="8")
    assert box.meta("wf.b") == {}
    assert box.run(TEST, "stop", params(state), "wf.a").rc == 0  # a move: no undo
    assert box.meta("wf.b")["haflow-effect"] == "present"
    assert checkpointer.pending(str(box.root / "checkpoint")) == {}
    assert records.effects(state) == ["wf__a__s1", "wf__b__s1"]
    runner_gone(box)


def test_an_agent_reads_its_workflows_part_and_live_state_in_one_query(
        box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from haflow.agents import cibio

    state = tmp_path / "state"
    box.add_primitive("other.root", "workflow", params={"workflow": "other"})
    assert box.run(TEST, "start", params(state), "wf.a").rc == 0
    monkeypatch.setenv("CIB_file", str(box.cib_file))
    asked: list[list[str]] = []
    real = cibio._cibadmin
    monkeypatch.setattr(cibio, "_cibadmin", lambda args, timeout=30.0: (
        asked.append(args), real(args, timeout))[1])
    cib = cibio.workflow_configuration("wf", "wf.a")
    assert len(asked) == 1
    ids = {p.get("id") for p in cib.iter("primitive")}
    assert ids == {"wf.root", "wf.a", "wf.b"}  # not the other workflow's
    assert live.effect(live.attributes(cib), "wf.a") == "present"
    # what earlier versions wrote on <status> itself is read too, in the same query
    cibadmin(box.cib_file, "--modify", "--scope", "status", "-X",
             '<status haflow-effect-wf.b="present"/>')
    asked.clear()
    cib = cibio.workflow_configuration("wf")
    assert len(asked) == 1 and live.effect(live.attributes(cib), "wf.b") == "present"
    assert live.effect(live.attributes(cib), "wf.a") == "present"
