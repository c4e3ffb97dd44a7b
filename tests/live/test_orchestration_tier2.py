"""The orchestration keys on the 3-node lab with real fencing: instances side by side, a
fan-out held to max_parallel, an approval gate across the crash of the DC, a pause
through a node crash, and an abort that undoes fan-out instances and a sub-workflow's
steps in reverse order. The ``test`` agent's records are the evidence."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from haflow.coordinator.exitcodes import ExitCode
from haflow.coordinator.workflow.loader import load
from haflow.lab import control, records
from tests.labtools import last_fenced, wait_fenced, wait_healthy
from tests.live.conftest import Live

pytestmark = pytest.mark.tier2


def write(live: Live, name: str, data: dict[str, Any]) -> Path:
    """A workflow file whose ``test`` steps record into the test's state_dir."""
    for spec in data["steps"].values():
        if spec.get("agent", "test") == "test" and "workflow" not in spec:
            spec["agent"] = "test"
            spec.setdefault("params", {})["state_dir"] = str(live.state_dir)
    path = live.tmp / f"{name}.yaml"
    path.write_text(json.dumps(data, indent=2))  # JSON is YAML
    return path


def submit(live: Live, path: Path, name: str, *extra: str) -> None:
    live.submitted.append(name)
    result = live.run("submit", str(path), "--name", name, *extra)
    assert result.returncode == 0, result.stdout + result.stderr


def wait_for(live: Live, workflow: str, ready: Any, timeout: float = 90,
             node: str | None = None) -> dict[str, Any]:
    """Poll the workflow's status until ``ready(status, steps by name)`` holds."""
    extra = ("--node", node) if node else ()
    deadline = time.monotonic() + timeout
    while True:
        result = live.run("status", workflow, "--output-as", "json", *extra)
        if result.returncode in (0, 7):
            data = json.loads(result.stdout)
            if ready(data, {s["name"]: s for s in data["steps"]}):
                return data
        assert time.monotonic() < deadline, result.stdout + result.stderr
        time.sleep(0.5)


def done_at(live: Live, workflow: str) -> dict[str, float]:
    """Each step's "do" record time (the test agent writes it when its do ends)."""
    prefix = f"{workflow}."
    return {r.resource.removeprefix(prefix): r.time for r in records.read(live.state_dir)
            if r.event == "do" and r.resource.startswith(prefix)}


def test_three_instances_of_one_file_run_side_by_side(live3: Live) -> None:
    path = write(live3, "tenant", {
        "name": "tenant",
        "inputs": {"size": {"type": "integer"},
                   "region": {"type": "string", "default": "eu"}},
        "steps": {"vm": {"params": {"output": "vm-${inputs.region}-${inputs.size}",
                                    "duration": 2}},
                  "dns": {"after": ["vm"], "params": {"output": "${steps.vm.value}"}}},
    })
    wanted = {"tenant-a": ("1", "eu"), "tenant-b": ("2", "us"), "tenant-c": ("3", "ap")}
    for name, (size, region) in wanted.items():
        submit(live3, path, name, "--input", f"size={size}", "--input", f"region={region}")
    for name, (size, region) in wanted.items():
        waited = live3.run("wait", name, "--timeout", "120")
        assert waited.returncode == ExitCode.OK, waited.stdout + waited.stderr
        steps = {s["name"]: s for s in live3.status(name)["steps"]}
        assert steps["vm"]["outputs"]["value"] == f"vm-{region}-{size}"
        assert steps["dns"]["outputs"]["value"] == f"vm-{region}-{size}"
    listed = live3.json("list")
    assert {w["name"] for w in listed} >= set(wanted)
    # one file, three workflows of their own: each step made once, in its own workflow
    made = [r.resource for r in records.read(live3.state_dir) if r.event == "do"]
    assert sorted(made) == sorted(f"{n}.{s}" for n in wanted for s in ("vm", "dns"))


def test_a_fan_out_of_five_never_runs_more_than_max_parallel(live3: Live) -> None:
    linger = 3  # each instance's start: its "do" record, then 3 s more of its action
    path = write(live3, "rollout", {
        "name": "rollout",
        "steps": {"drain": {},
                  "upgrade": {"after": ["drain"], "for_each": ["h1", "h2", "h3", "h4", "h5"],
                              "max_parallel": 2,
                              "params": {"output": "${item}", "linger": linger}},
                  "undrain": {"after": ["upgrade"]}},
    })
    submit(live3, path, "rollout")
    waited = live3.run("wait", "rollout", "--timeout", "180")
    assert waited.returncode == ExitCode.OK, waited.stdout + waited.stderr
    at = done_at(live3, "rollout")
    instances = [f"upgrade-{i}" for i in range(5)]
    assert set(instances) <= set(at)
    # the instances' actions, from their records: never more than 2 at once. (Whether 2
    # run at once is the controller's call: on a loaded machine its throttle lets the DC
    # run one action at a time cluster-wide, "High CPU load detected" in its log.)
    spans = [(at[i], at[i] + linger) for i in instances]
    overlap = [sum(1 for s, e in spans if s <= t < e) for t, _ in spans]
    assert max(overlap) <= 2, spans
    # the lanes: instance i starts only once instance i-2 has finished its start
    for i in range(2, 5):
        assert at[f"upgrade-{i}"] >= at[f"upgrade-{i - 2}"] + linger, spans
    assert at["undrain"] > max(e for _, e in spans) - 0.5  # the join waits for all five
    steps = {s["name"]: s for s in live3.status("rollout")["steps"]}
    assert [steps[i]["outputs"]["value"] for i in instances] == ["h1", "h2", "h3", "h4", "h5"]


def test_a_gate_holds_its_step_and_what_follows_across_the_crash_of_the_dc(
        live3: Live) -> None:
    path = write(live3, "release", {
        "name": "release",
        "steps": {"stage": {}, "production": {"after": ["stage"], "approval": True},
                  "announce": {"after": ["production"]}},
    })
    submit(live3, path, "release")
    wait_for(live3, "release", lambda d, s: s["stage"]["state"] == "done"
             and s["production"]["state"] == "awaiting approval")
    view = control.cluster_view(live3.layout, "node1")
    assert view is not None and view.dc is not None
    dc = view.dc
    survivor = next(n for n in ("node1", "node2", "node3") if n != dc)
    try:
        control.crash(live3.layout, dc)
        time.sleep(10)  # an election, a fencing, new transitions: room for a wrong start
        data = wait_for(live3, "release", lambda d, s: True, node=survivor)
        steps = {s["name"]: s for s in data["steps"]}
        assert steps["production"]["state"] == "awaiting approval", data
        assert steps["announce"]["state"] == "waiting", data
        wait_healthy(live3.layout, timeout=120)
    finally:
        if not control.cluster_view(live3.layout, dc):
            control.reboot(live3.layout, dc)
    assert set(done_at(live3, "release")) <= {"stage"}  # held all along
    not_a_gate = live3.run("approve", "release", "stage", "--node", survivor)
    assert not_a_gate.returncode == ExitCode.USAGE and "NOT_A_GATE" in not_a_gate.stderr
    unknown = live3.run("approve", "release", "prod", "--node", survivor)
    assert unknown.returncode == ExitCode.NOT_FOUND, unknown.stderr
    approved = live3.run("approve", "release", "production", "--by", "alice",
                         "--node", survivor)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    again = live3.run("approve", "release", "production", "--node", survivor)
    assert again.returncode == ExitCode.CONFLICT, again.stdout + again.stderr
    waited = live3.run("wait", "release", "--timeout", "120", "--node", survivor)
    assert waited.returncode == ExitCode.OK, waited.stdout + waited.stderr
    at = done_at(live3, "release")
    assert at["stage"] < at["production"] < at["announce"]
    events = live3.json("history", "release", "--node", survivor)
    approval = [e for e in events if e["task"] == "approve"]
    assert len(approval) == 1 and approval[0]["step"] == "production"
    assert "approved by alice" in approval[0]["text"] and approval[0]["time"] < at["production"]


def test_a_pause_holds_through_a_node_crash_and_resume_finishes(live3: Live) -> None:
    path = write(live3, "slow", {
        "name": "slow",
        "steps": {"a": {"params": {"duration": 20}}, "b": {"after": ["a"]},
                  "c": {"after": ["b"]}},
    })
    submit(live3, path, "slow")
    data = wait_for(live3, "slow", lambda d, s: s["a"]["state"] == "starting")
    assert live3.run("resume", "slow").returncode == ExitCode.CONFLICT  # not paused
    paused = live3.run("pause", "slow")
    assert paused.returncode == 0, paused.stdout + paused.stderr
    paused_at = time.time()
    assert live3.status("slow")["steps"][0]["state"] == "starting", "a ended before the pause"
    assert live3.run("pause", "slow").returncode == ExitCode.CONFLICT  # paused already
    # the running start finishes; nothing after it starts
    data = wait_for(live3, "slow", lambda d, s: s["a"]["state"] == "done")
    assert data["state"] == "paused"
    victim = data["steps"][0]["node"]
    survivor = next(n for n in ("node1", "node2", "node3") if n != victim)
    try:
        since = last_fenced(live3.layout, survivor, victim)
        control.crash(live3.layout, victim)
        wait_fenced(live3.layout, survivor, victim, since, timeout=120)
        time.sleep(5)  # the transitions after the fencing: a survivor could take a over
        data = wait_for(live3, "slow", lambda d, s: True, node=survivor)
        states = [(s["name"], s["state"], s["node"], s["note"]) for s in data["steps"]]
        assert data["state"] == "paused", states
        assert all(s["state"] == "waiting" for s in data["steps"]), (
            states, records.read(live3.state_dir))
        wait_healthy(live3.layout, timeout=120)
    finally:
        if not control.cluster_view(live3.layout, victim):
            control.reboot(live3.layout, victim)
    got = records.read(live3.state_dir)
    assert [r.event for r in got if r.event in ("undo", "undo-noop")] == []  # nothing undone
    assert {r.resource for r in got if r.event == "do"} == {"slow.a"}
    resumed = live3.run("resume", "slow", "--node", survivor)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    resumed_at = time.time()
    waited = live3.run("wait", "slow", "--timeout", "120", "--node", survivor)
    assert waited.returncode == ExitCode.OK, waited.stdout + waited.stderr
    at = done_at(live3, "slow")
    assert at["a"] < paused_at + 20 and resumed_at < at["b"] < at["c"]
    assert records.events(live3.state_dir, "slow.a").count("do") == 1  # adopted, not redone
    # an abort of a paused workflow lifts the pause in the same change, and undoes
    assert live3.run("pause", "slow", "--node", survivor).returncode == 0
    aborted = live3.run("abort", "slow", "--node", survivor)
    assert aborted.returncode == 0, aborted.stdout + aborted.stderr
    waited = live3.run("wait", "slow", "--timeout", "120", "--node", survivor)
    assert waited.returncode == ExitCode.ROLLED_BACK, waited.stdout + waited.stderr
    assert records.effects(live3.state_dir) == []


def test_abort_undoes_fan_out_instances_and_a_sub_workflows_steps_in_reverse(
        live3: Live) -> None:
    inner = write(live3, "database", {
        "name": "database",
        "inputs": {"size": {"type": "integer", "default": 1}},
        "outputs": {"id": "${steps.create.id}"},
        "steps": {"create": {"params": {"output": "db-${inputs.size}"}},
                  "migrate": {"after": ["create"]}},
    })
    path = write(live3, "stack", {
        "name": "stack",
        "steps": {"network": {},
                  "db": {"workflow": inner.name, "after": ["network"],
                         "inputs": {"size": 5}},
                  "app": {"after": ["db"], "for_each": ["x", "y", "z"], "max_parallel": 2,
                          "params": {"output": "${item} on ${steps.db.id}"}},
                  "release": {"after": ["app"], "approval": True}},
    })
    submit(live3, path, "stack")
    wait_for(live3, "stack", lambda d, s: s["release"]["state"] == "awaiting approval"
             and all(v["state"] == "done" for k, v in s.items() if k != "release"),
             timeout=150)
    steps = {s["name"]: s for s in live3.status("stack")["steps"]}
    assert steps["db-create"]["outputs"]["value"] == "db-5"
    assert steps["app-2"]["outputs"]["value"] == f"z on {steps['db-create']['outputs']['id']}"
    aborted = live3.run("abort", "stack")
    assert aborted.returncode == 0, aborted.stdout + aborted.stderr
    waited = live3.run("wait", "stack", "--timeout", "180")
    assert waited.returncode == ExitCode.ROLLED_BACK, waited.stdout + waited.stderr
    undone = {r.resource.removeprefix("stack."): r.time for r in records.read(live3.state_dir)
              if r.event == "undo"}
    ran = set(done_at(live3, "stack"))
    assert set(undone) == ran == {"network", "db-create", "db-migrate", "app-0", "app-1",
                                  "app-2"}
    # every dependency undone in reverse: a step before what it ran after
    wf = load(path, name="stack")
    for name, step in wf.steps.items():
        for dep in step.after:
            if name in undone:
                assert undone[name] < undone[dep], (name, dep, undone)
    assert records.effects(live3.state_dir) == []
