"""Workflows on the 3-node lab with real fencing: rollback across nodes, a crashed node."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from haflow.coordinator.exitcodes import ExitCode
from haflow.lab import control, records
from tests.labtools import wait_healthy
from tests.live.conftest import Live, ensure_alive

pytestmark = pytest.mark.tier2


def test_rollback_across_nodes_undoes_each_step_where_it_ran_in_reverse(live3: Live) -> None:
    path = live3.workflow("t2spread", {
        "a": {"nodes": ["node1"]},
        "b": {"after": ["a"], "nodes": ["node2"]},
        "c": {"after": ["b"], "nodes": ["node3"]},
        # fails on every node it tries: then the alert agent rolls everything back
        "d": {"after": ["c"], "params": {"fail_start": 99}},
    })
    assert live3.submit(path).returncode == 0
    waited = live3.run("wait", "t2spread", "--timeout", "180")
    assert waited.returncode == ExitCode.ROLLED_BACK, waited.stdout + waited.stderr
    got = records.read(live3.state_dir)
    done = {r.resource: r.node for r in got if r.event == "do"}
    assert done == {"t2spread.a": "node1", "t2spread.b": "node2", "t2spread.c": "node3"}
    undone = [(r.resource, r.node) for r in got if r.event == "undo"]
    assert undone == [("t2spread.c", "node3"), ("t2spread.b", "node2"),
                      ("t2spread.a", "node1")]
    failed_on = {r.node for r in got if r.resource == "t2spread.d" and r.event == "do-failed"}
    assert failed_on == {"node1", "node2", "node3"}, "d must have been tried everywhere"
    assert records.effects(live3.state_dir) == []
    d = live3.status("t2spread")["steps"][3]
    assert d["failure"]["exit_reason"] and set(d["fail_count"]) == {"node1", "node2", "node3"}


def test_a_crashed_node_is_fenced_its_steps_recover_and_history_keeps_it(live3: Live) -> None:
    path = live3.workflow("t2crash", {
        "a": {"nodes": ["node2", "node3"]},
        "b": {"after": ["a"], "with": ["a"], "params": {"duration": 25}},
    })
    assert live3.submit(path).returncode == 0
    deadline = time.monotonic() + 90
    while True:
        data = live3.status("t2crash")
        b = data["steps"][1]
        if b["state"] == "starting" and b["progress"] is not None:
            break
        assert time.monotonic() < deadline, data
        time.sleep(0.5)
    victim = b["node"]
    survivor = "node3" if victim == "node2" else "node2"
    # the alert agent records a's start on its node a moment after it: the history
    # keeps what was recorded before the crash (an alert still queued dies with the node)
    while not any(e["node"] == victim and e["step"] == "a" and e["task"] == "start"
                  for e in live3.json("history", "t2crash", "--node", "node1")):
        assert time.monotonic() < deadline, "a's start never reached the history"
        time.sleep(0.5)
    try:
        control.crash(live3.layout, victim)
        waited = live3.run("wait", "t2crash", "--timeout", "240", "--node", "node1")
        assert waited.returncode == ExitCode.OK, waited.stdout + waited.stderr
        data = live3.status("t2crash")
        assert {s["node"] for s in data["steps"]} == {survivor}
        # a's effect was adopted on the survivor, not made twice
        assert records.events(live3.state_dir, "t2crash.a").count("do") == 1
        assert "adopt" in records.events(live3.state_dir, "t2crash.a")
        events = live3.json("history", "t2crash", "--node", "node1")
        fenced = [e for e in events if e["step"] == "(fencing)" and e["node"] == victim]
        fencer = control.run_on(live3.layout, "node1", [
            "stonith_admin", "--history", "*", "--output-as=xml"]).stdout
        assert fenced and fenced[-1]["outcome"] == "success", (
            victim, [(e["step"], e["node"], e["task"], e["time"]) for e in events],
            fencer, live3.run("history", "t2crash", "--node", "node1").stderr)
        # what ran on the crashed node is still in the history (the CIB has it)
        assert any(e["node"] == victim and e["step"] == "a" and e["task"] == "start"
                   for e in events)
    finally:
        ensure_alive(live3.layout)
        wait_healthy(live3.layout)


def test_concurrent_workflows_one_rolls_back_the_other_is_untouched(live3: Live) -> None:
    import threading

    good = live3.workflow("t2good", {"a": {}, "b": {"after": ["a"], "apart": ["a"]},
                                     "c": {"after": ["b"]}})
    bad = live3.workflow("t2bad", {"a": {}, "b": {"after": ["a"], "params": {
        "fail_start": 99}}})
    codes: dict[str, int] = {}

    def run(name: str, path: Path) -> None:
        codes[name] = live3.submit(path, "--wait", "--timeout", "180").returncode

    threads = [threading.Thread(target=run, args=(n, p)) for n, p in
               (("t2good", good), ("t2bad", bad))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert codes == {"t2good": ExitCode.OK, "t2bad": ExitCode.ROLLED_BACK}
    got = records.read(live3.state_dir)
    assert not [r for r in got if r.resource.startswith("t2good.") and
                r.event.startswith("undo")], "the other workflow's rollback touched t2good"
    assert sorted(e.split("__")[0] for e in records.effects(live3.state_dir)) == [
        "t2good", "t2good", "t2good"]
    steps = {s["name"]: s["node"] for s in live3.status("t2good")["steps"]}
    assert steps["a"] != steps["b"]


def test_a_node_without_quorum_refuses_to_change_workflows(live3: Live) -> None:
    path = live3.workflow("t2minority", {"a": {}})
    before = live3.configuration()
    try:
        for node in ("node2", "node3"):
            control.crash(live3.layout, node)
        deadline = time.monotonic() + 60
        # only once corosync says so: a write before that would still be quorate
        while "Quorate:          No" not in control.run_on(
                live3.layout, "node1", ["corosync-quorumtool", "-s"]).stdout:
            assert time.monotonic() < deadline, "node1 kept quorum alone"
            time.sleep(0.5)
        refused = live3.run("submit", str(path), "--node", "node1")
        assert refused.returncode == ExitCode.NO_QUORUM, refused.stderr
        assert "NO_QUORUM" in refused.stderr and "members: node1" in refused.stderr
        aborted = live3.run("abort", "t2minority", "--node", "node1")
        assert aborted.returncode == ExitCode.NO_QUORUM
        assert live3.configuration() == before
    finally:
        for _ in range(3):  # a node fenced while booting back is booted again
            ensure_alive(live3.layout)
            try:
                wait_healthy(live3.layout, timeout=60)
                break
            except Exception:  # try the repair again
                continue
    assert live3.configuration() == before
