"""Workflows end to end on a real 1-node cluster: every command and step state."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
import time

import pytest
from lxml import etree

from haflow.coordinator.cluster import livecib
from haflow.coordinator.exitcodes import ExitCode
from haflow.coordinator.workflow.compiler import compile_workflow
from haflow.coordinator.workflow.loader import load
from haflow.encoding import live, read
from haflow.lab import power, records
from tests.live.conftest import Live

pytestmark = pytest.mark.tier1


def diamond(live: Live, name: str, **b_params: object) -> None:
    path = live.workflow(name, {
        "a": {},
        "b": {"after": ["a"], "params": dict(b_params)},
        "c": {"after": ["a"], "params": {"output": "from-a-${steps.a.id}"}},
        "d": {"after": ["b", "c"]},
    })
    result = live.submit(path)
    assert result.returncode == 0, result.stderr


def test_submit_wait_done_with_outputs_history_and_crm_mon(live1: Live) -> None:
    path = live1.workflow("t1done", {"a": {}, "b": {"after": ["a"], "params": {
        "output": "got-${steps.a.id}"}}})
    result = live1.submit(path, "--wait", "--timeout", "120")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "submitted t1done" in result.stdout
    live1.record("done")
    data = live1.status("t1done")
    assert data["state"] == "done"
    steps = {s["name"]: s for s in data["steps"]}
    assert [s["name"] for s in data["steps"]] == ["a", "b"]
    assert all(s["state"] == "done" and s["node"] and s["started"] for s in steps.values())
    assert steps["b"]["outputs"]["value"] == "got-" + steps["a"]["outputs"]["id"]
    text = live1.run("status", "t1done")
    assert text.returncode == 0 and "!!" not in text.stdout and "t1done: done" in text.stdout
    assert "t1done" in live1.run("list").stdout
    # crm_mon --resource=WORKFLOW (the tag) shows this workflow's steps and nothing else
    diamond(live1, "t1other")
    mon = live1.env.run(["crm_mon", "-1", "--resource=t1done", "--inactive"]).stdout
    assert "t1done.a" in mon and "t1done.b" in mon
    assert "t1other" not in mon and "lab-fence" not in mon
    # history: each step's start, from the alert agent's records in the CIB
    live1.history("t1done", ("a", "start"), ("b", "start"))
    events = live1.json("history", "t1done")
    assert {(e["step"], e["task"], e["outcome"]) for e in events} >= {
        ("a", "start", "ok"), ("b", "start", "ok")}
    assert events == sorted(events, key=lambda e: e["time"])


def test_waiting_and_starting_show_dependencies_progress_and_heartbeat(live1: Live) -> None:
    path = live1.workflow("t1slow", {"a": {"params": {"duration": 12}},
                                     "b": {"after": ["a"]}})
    assert live1.submit(path).returncode == 0
    deadline = time.monotonic() + 60
    seen = None
    while time.monotonic() < deadline:
        data = live1.status("t1slow")
        a, b = data["steps"]
        if a["state"] == "starting" and a["progress"] is not None:
            seen = data
            break
        time.sleep(0.5)
    assert seen is not None, "never saw step a starting with progress"
    live1.record("starting")
    a, b = seen["steps"]
    assert b["state"] == "waiting" and b["waiting_on"] == ["a"]
    assert a["heartbeat_age"] is not None and a["heartbeat_age"] < 15 and not a["stuck"]
    assert "working" in a["message"]
    text = live1.run("status", "t1slow").stdout
    assert "starting  a" in text and "waiting   b on a" in text
    assert live1.run("wait", "t1slow", "--timeout", "60").returncode == ExitCode.OK


def test_abort_undoes_in_reverse_order_then_remove(live1: Live) -> None:
    path = live1.workflow("t1chain", {"a": {}, "b": {"after": ["a"]}, "c": {"after": ["b"]}})

    def flags() -> dict[str, str]:
        """The steps' live effect flags, under the CIB's <status> element."""
        prefix = "haflow-effect-t1chain."
        return {k[len(prefix):]: v for k, v in live.attributes(livecib.query(live1.env)).items()
                if k.startswith(prefix)}

    def durable() -> tuple[list[str], set[tuple[str, str]]]:
        """What the configuration alone says (the status section lost): the steps
        flagged, and the history's (step, task)s."""
        resources = livecib.query(live1.env).find("configuration/resources")
        assert resources is not None
        return ([str(p.get("id")) for p in read.flagged_steps(resources, "t1chain")],
                {(e.step, e.task) for e in read.events(resources, "t1chain")})

    assert live1.submit(path, "--wait").returncode == 0
    # the last step's start checkpointed the run into the configuration, and the live
    # flags that copy says too are dropped (unless the compaction found the CIB busy)
    assert set(flags().values()) <= {"present"}
    steps, history = durable()
    assert steps == ["t1chain.a", "t1chain.b", "t1chain.c"]
    assert {("a", "start"), ("b", "start"), ("c", "start")} <= history
    result = live1.run("abort", "t1chain")
    assert result.returncode == 0, result.stderr
    waited = live1.run("wait", "t1chain", "--timeout", "90")
    assert waited.returncode == ExitCode.ROLLED_BACK, waited.stdout + waited.stderr
    live1.record("rolled-back")
    undos = [r.resource for r in records.read(live1.state_dir) if r.event == "undo"]
    assert undos == ["t1chain.c", "t1chain.b", "t1chain.a"]
    assert records.effects(live1.state_dir) == []
    assert set(flags().values()) <= {""}  # cleared by each undo, or dropped once copied
    steps, history = durable()  # and the root's stop checkpointed that
    assert steps == [] and {("a", "stop"), ("b", "stop"), ("c", "stop")} <= history
    data = live1.status("t1chain")
    assert data["state"] == "rolled back" and {s["state"] for s in data["steps"]} == {"undone"}
    # a second abort is a clear error and changes nothing
    before = live1.configuration()
    again = live1.run("abort", "t1chain")
    assert again.returncode == ExitCode.CONFLICT and "ALREADY_ABORTED" in again.stderr
    assert live1.configuration() == before
    # what the admin did is history too, next to what the steps did
    tasks = live1.history("t1chain", ("root", "abort"), ("c", "stop"))
    assert tasks[0] == ("root", "submit") and ("root", "abort") in tasks
    assert tasks.index(("root", "abort")) < tasks.index(("c", "stop"))
    removed = live1.run("remove", "t1chain")
    assert removed.returncode == 0 and "nothing of it remains" in removed.stdout
    assert live1.run("status", "t1chain").returncode == ExitCode.NOT_FOUND
    assert read.elements_of(livecib.query(live1.env), "t1chain") == []
    assert flags() == {}  # none left for a later workflow of that name


def test_failure_rolls_back_automatically_with_no_haflow_process(live1: Live) -> None:
    path = live1.workflow("t1auto", {"a": {}, "b": {"after": ["a"],
                                                    "params": {"fail_start": 99}}})
    assert live1.submit(path).returncode == 0
    # no haflow process from here on: poll Pacemaker's own tools only
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        mon = live1.env.run(["crm_mon", "-1", "--inactive", "--resource=t1auto"]).stdout
        # the alert stops the root and every step, as haflow abort does
        role = [live1.env.run(["crm_resource", "--resource", rid, "--meta", "--get-parameter",
                               "target-role"]).stdout for rid in ("t1auto.root", "t1auto.a")]
        if all("Stopped" in r for r in role) and "Started" not in mon:
            break
        time.sleep(0.5)
    else:
        pytest.fail("the alert agent did not roll the workflow back")
    events = [(r.resource, r.event) for r in records.read(live1.state_dir)]
    assert ("t1auto.a", "do") in events and ("t1auto.b", "do-failed") in events
    assert events.index(("t1auto.a", "undo")) > events.index(("t1auto.b", "do-failed"))
    assert records.effects(live1.state_dir) == []
    waited = live1.run("wait", "t1auto", "--timeout", "60")
    assert waited.returncode == ExitCode.ROLLED_BACK
    live1.record("auto-rolled-back")
    data = live1.status("t1auto")
    b = data["steps"][1]
    assert b["failure"]["operation"] == "start"
    assert "failing on purpose" in b["failure"]["exit_reason"]
    assert b["fail_count"]
    history = live1.json("history", "t1auto")
    assert any(e["task"] == "rollback" for e in history)
    assert any(e["step"] == "b" and e["outcome"] == "failed" for e in history)


def test_hold_keeps_everything_and_is_impossible_to_miss(live1: Live) -> None:
    path = live1.workflow("t1hold", {"a": {}, "b": {"after": ["a"],
                                                    "params": {"fail_start": 99}}},
                          policy="hold")
    assert live1.submit(path).returncode == 0
    waited = live1.run("wait", "t1hold", "--timeout", "90")
    assert waited.returncode == ExitCode.FAILED, waited.stdout + waited.stderr
    live1.record("held")
    data = live1.status("t1hold")
    assert data["state"] == "held"
    a, b = data["steps"]
    assert a["state"] == "done" and b["state"] == "blocked"
    assert "failing on purpose" in b["failure"]["exit_reason"]
    assert len(records.effects(live1.state_dir)) == 1  # a's effect stays for the admin
    text = live1.run("status", "t1hold")
    assert text.returncode == ExitCode.FAILED
    assert "HELD" in text.stdout and "BLOCKED" in text.stdout
    assert "failing on purpose" in text.stdout
    assert "t1hold" in live1.run("list").stdout and "BLOCKED" in live1.run("list").stdout
    # removing a workflow that still runs: a clear error, the cluster unchanged
    before = live1.configuration()
    result = live1.run("remove", "t1hold")
    assert result.returncode == ExitCode.CONFLICT and "WORKFLOW_RUNNING" in result.stderr
    assert live1.configuration() == before


def test_retry_runs_a_failed_step_again(live1: Live) -> None:
    path = live1.workflow("t1retry", {"a": {"params": {"fail_start": 1}},
                                      "b": {"after": ["a"]}}, policy="hold")
    assert live1.submit(path).returncode == 0
    live1.wait_state("t1retry", ("held",))
    result = live1.run("retry", "t1retry", "a")
    assert result.returncode == 0, result.stderr
    assert live1.run("wait", "t1retry", "--timeout", "90").returncode == ExitCode.OK
    assert ("root", "retry") in [(e["step"], e["task"])
                                 for e in live1.json("history", "t1retry")]
    events = records.events(live1.state_dir, "t1retry.a")
    assert events[:2] == ["do-failed", "do"]
    bad = live1.run("retry", "t1retry", "nosuchstep")
    assert bad.returncode == ExitCode.NOT_FOUND and "STEP_NOT_FOUND" in bad.stderr


def test_bad_input_is_a_clear_error_and_changes_nothing(live1: Live) -> None:
    path = live1.workflow("t1bad", {"a": {}})
    assert live1.submit(path, "--wait").returncode == 0
    before = live1.configuration()
    for args in (("status", "nosuch"), ("abort", "nosuch"), ("retry", "nosuch"),
                 ("remove", "nosuch"), ("history", "nosuch"), ("wait", "nosuch")):
        result = live1.run(*args)
        assert result.returncode == ExitCode.NOT_FOUND, (args, result.stderr)
        assert "WORKFLOW_NOT_FOUND" in result.stderr and "t1bad" in result.stderr
    again = live1.submit(path)
    assert again.returncode == ExitCode.CONFLICT and "WORKFLOW_EXISTS" in again.stderr
    as_json = json.loads(live1.run("submit", str(path), "--output-as", "json").stdout)
    assert as_json["errors"][0]["code"] == "WORKFLOW_EXISTS"
    broken = live1.tmp / "broken.yaml"
    broken.write_text("name: t1broken\nsteps: {a: {agent: test, after: [zz]}}\n")
    assert live1.run("submit", str(broken)).returncode == ExitCode.INVALID
    assert live1.configuration() == before


def test_status_formats_and_watch(live1: Live) -> None:
    diamond(live1, "t1fmt")
    live1.wait_state("t1fmt", ("done",))
    xml = etree.fromstring(live1.run("status", "t1fmt", "--output-as", "xml").stdout.encode())
    assert [s.get("name") for s in xml.iter("step")] == ["a", "b", "c", "d"]
    assert xml.find("workflow").get("state") == "done"
    watch = subprocess.Popen(live1.argv("status", "--watch", "--interval", "0.5"),
                             stdout=subprocess.PIPE, text=True)
    time.sleep(4)
    watch.send_signal(signal.SIGINT)  # our own child, by its handle
    out, _ = watch.communicate(timeout=30)
    assert out.count("t1fmt: done") >= 2


def test_replace_keeps_submission_outputs_and_running_steps(live1: Live) -> None:
    path = live1.workflow("t1repl", {"a": {}})
    assert live1.submit(path, "--wait").returncode == 0
    first = live1.status("t1repl")
    path = live1.workflow("t1repl", {"a": {}, "b": {"after": ["a"], "params": {
        "output": "${steps.a.id}"}}})
    result = live1.submit(path, "--replace", "--wait", "--timeout", "90")
    assert result.returncode == 0, result.stdout + result.stderr
    second = live1.status("t1repl")
    assert second["submission"] == first["submission"]
    a, b = second["steps"]
    assert a["outputs"] == first["steps"][0]["outputs"]
    assert b["outputs"]["value"] == a["outputs"]["id"]
    assert records.events(live1.state_dir, "t1repl.a").count("do") == 1
    # the history outlives the replacement: the first submission's events stay
    tasks = live1.history("t1repl", ("a", "start"), ("b", "start"))
    assert tasks[0] == ("root", "submit") and ("root", "replace") in tasks
    assert ("a", "start") in tasks and ("b", "start") in tasks


def test_concurrent_submits_and_a_racing_pcs_change_all_survive(live1: Live) -> None:
    names = [f"t1conc{i}" for i in range(4)]
    paths = [live1.workflow(n, {"a": {}, "b": {"after": ["a"]}}) for n in names]
    results: list[subprocess.CompletedProcess[str]] = []
    pcs_rc: list[int] = []

    def pcs() -> None:
        pcs_rc.append(live1.env.run(["pcs", "resource", "create", "t1pcs-dummy",
                                     "ocf:pacemaker:Dummy", "meta",
                                     "target-role=Stopped"]).returncode)

    threads = [threading.Thread(target=lambda p=p: results.append(live1.submit(p)))
               for p in paths] + [threading.Thread(target=pcs)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        assert [r.returncode for r in results] == [0] * len(names), \
            [r.stderr for r in results]
        assert pcs_rc == [0]
        cib = livecib.query(live1.env)
        for name, path in zip(names, paths, strict=True):
            expected = _top_ids(path)
            assert {e.get("id") for e in read.elements_of(cib, name)} == expected
        assert cib.find("configuration/resources/primitive[@id='t1pcs-dummy']") is not None
    finally:
        live1.env.run(["pcs", "resource", "delete", "t1pcs-dummy", "--force"])


def _top_ids(path: object) -> set[str]:
    compiled = compile_workflow(load(str(path)))
    return {str(e.get("id")) for e in (*compiled.resources, *compiled.constraints,
                                       *compiled.tags)}


def test_a_killed_submit_leaves_all_or_nothing(live1: Live) -> None:
    steps = {f"s{i}": ({"after": [f"s{i - 1}"]} if i else {}) for i in range(12)}
    path = live1.workflow("t1kill", steps)
    expected = _top_ids(path)
    rng = random.Random(5)
    outcomes = set()
    for _ in range(8):
        proc = subprocess.Popen(live1.argv("submit", str(path)), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, 1.5))
        proc.kill()  # SIGKILL our own child, at a random point of the submit
        proc.wait()
        # a patch already handed to cibadmin (a child that outlives us) is applied
        # whole or not at all: give it time to land before looking
        time.sleep(1.5)
        found = {e.get("id") for e in read.elements_of(livecib.query(live1.env), "t1kill")}
        assert found in (set(), expected), f"half-applied: {sorted(found)[:10]}"
        outcomes.add(bool(found))
        if found:
            live1.submitted.append("t1kill")
            live1.cleanup()
    assert outcomes, "no outcome observed"


def test_remove_force_says_which_effects_remain(live1: Live) -> None:
    # a's undo fails: its stop is blocked (on-fail=block), its effect stays
    path = live1.workflow("t1left", {"a": {"params": {"fail_undo": "true"}}, "c": {}})
    assert live1.submit(path, "--wait").returncode == 0
    assert live1.run("abort", "t1left").returncode == 0
    deadline = time.monotonic() + 60
    while True:  # c's undo runs on; a stays blocked
        data = live1.wait_state("t1left", ("blocked",))
        states = {s["name"]: s["state"] for s in data["steps"]}
        if states == {"a": "blocked", "c": "undone"}:
            break
        assert time.monotonic() < deadline, states
        time.sleep(0.5)
    assert data["steps"][0]["failure"]["operation"] == "stop"
    assert len(records.effects(live1.state_dir)) == 1  # a's effect, not undone
    before = live1.configuration()
    refused = live1.run("remove", "t1left")
    assert refused.returncode == ExitCode.CONFLICT and "EFFECTS_REMAIN" in refused.stderr
    assert live1.configuration() == before
    init = power.init_pid(live1.layout, "node1")
    try:
        forced = live1.run("remove", "t1left", "--force")
        assert forced.returncode == 0, forced.stderr
        assert "effects that may remain" in forced.stdout and "a (blocked" in forced.stdout
        assert len(records.effects(live1.state_dir)) == 1
        # a deleted resource whose stop had failed would get its node fenced (rebooted)
        time.sleep(3)
        assert power.init_pid(live1.layout, "node1") == init, "node1 was fenced"
    finally:
        # the orphaned, blocked resource stays in Pacemaker's status until cleaned up
        live1.env.run(["crm_resource", "--cleanup", "--resource", "t1left.a"])


def test_wait_draws_a_progress_bar_on_a_terminal(live1: Live) -> None:
    import os
    import pty

    path = live1.workflow("t1bar", {"a": {"params": {"duration": 3}}, "b": {"after": ["a"]}})
    assert live1.submit(path).returncode == 0
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(live1.argv("wait", "t1bar", "--timeout", "90"), stdout=secondary,
                            stderr=secondary)
    os.close(secondary)
    out = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:
            break  # the child closed the terminal
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=120) == ExitCode.OK
    os.close(primary)
    text = out.decode(errors="replace")
    assert "t1bar" in text and "2/2" in text and "\x1b[" in text  # drawn, not printed


def _agent_pids(resource: str) -> list[int]:
    """Processes of the agent running ``resource`` (Pacemaker's child, found by its env)."""
    import os

    wanted = f"OCF_RESOURCE_INSTANCE={resource}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if wanted in handle.read().split(b"\0"):
                    pids.append(int(entry))
        except OSError:
            continue
    return pids


def test_undoing_shows_progress_and_a_frozen_action_is_flagged_stuck(live1: Live) -> None:
    import os

    path = live1.workflow("t1undo", {"a": {"params": {"undo_duration": 30}}})
    assert live1.submit(path, "--wait").returncode == 0
    assert live1.run("abort", "t1undo").returncode == 0
    data = live1.wait_state("t1undo", ("rolling back",))
    deadline = time.monotonic() + 60
    while data["steps"][0]["state"] != "undoing" or data["steps"][0]["heartbeat"] is None:
        assert time.monotonic() < deadline, data
        time.sleep(0.5)
        data = live1.status("t1undo")
    live1.record("undoing")
    a = data["steps"][0]
    assert a["message"] == "undo" and not a["stuck"]
    pids = _agent_pids("t1undo.a")
    assert pids, "the undo's agent process was not found"
    # freeze the agent (heartbeat thread included): the step must look stuck in 15 s
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 45
        while not live1.status("t1undo")["steps"][0]["stuck"]:
            assert time.monotonic() < deadline, "a frozen undo was never flagged stuck"
            time.sleep(1)
        text = live1.run("status", "t1undo")
        assert "STUCK" in text.stdout and text.returncode == ExitCode.FAILED
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    assert live1.run("wait", "t1undo", "--timeout", "90").returncode == ExitCode.ROLLED_BACK


def test_a_stock_agent_step_is_shown_and_undone_like_the_others(live1: Live) -> None:
    path = live1.workflow("t1stock", {
        "a": {},
        "dummy": {"agent": "ocf:pacemaker:Dummy", "after": ["a"], "params": {}},
        "c": {"after": ["dummy"]},
    })
    # a stock agent takes no haflow parameters: drop the state_dir the helper added
    spec = json.loads(path.read_text())
    spec["steps"]["dummy"]["params"] = {}
    path.write_text(json.dumps(spec))
    assert live1.submit(path, "--wait", "--timeout", "120").returncode == ExitCode.OK
    data = live1.status("t1stock")
    dummy = data["steps"][1]
    assert dummy["agent"] == "ocf:pacemaker:Dummy" and dummy["state"] == "done"
    assert live1.run("abort", "t1stock").returncode == 0
    assert live1.run("wait", "t1stock", "--timeout", "90").returncode == ExitCode.ROLLED_BACK
    undos = [r.resource for r in records.read(live1.state_dir) if r.event == "undo"]
    assert undos == ["t1stock.c", "t1stock.a"]
