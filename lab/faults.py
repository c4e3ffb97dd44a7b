"""The fault scenarios: workflows of the test agent, a fault, and the audit.

Each scenario submits a few workflows (chains of the ``test`` agent), waits
until they run, injects its fault, waits until the workflows reach what their
policy promises (measuring the recovery time), repairs the lab, aborts every
workflow and waits until all is undone, then audits the agents' records: no
workflow lost, no effect created twice, no undo skipped, and no undo at all
before the abort (a fault, a move or a maintenance must never undo).

Used by the fault tests, ``haflow lab chaos`` and ``bench/faults.py``.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haflow.coordinator.cluster import livecib
from haflow.coordinator.commands.abort import abort
from haflow.coordinator.commands.remove import remove
from haflow.coordinator.commands.submit import submit
from haflow.coordinator.exitcodes import ExitCode
from haflow.coordinator.status.model import StepStatus, WorkflowStatus
from haflow.coordinator.workflow.compiler import compile_workflow
from haflow.coordinator.workflow.loader import loads
from haflow.encoding import read
from haflow.encoding.record import Event
from haflow.lab import control, records
from haflow.lab.audit import VIOLATIONS, Audit, audit
from haflow.lab.layout import LabLayout
from haflow.lab.workload import (
    lab_env,
    last_fenced,
    restore,
    view,
    wait_fenced,
    wait_for,
    wait_healthy,
)

STEPS = ("a", "b", "c")
CHAIN = {"a": {}, "b": {"after": ["a"]}, "c": {"after": ["b"]}}
# the undo-order scenarios: each leaf apart from its dependencies, so that a crash of
# the leaf's node during its undo leaves the steps it depends on running elsewhere
UNDO_CHAIN = {"a": {}, "b": {"after": ["a"]}, "c": {"after": ["b"], "apart": ["b"]}}
DIAMOND = {"a": {}, "b": {"after": ["a"]}, "c": {"after": ["a"]},
           "d": {"after": ["b", "c"], "apart": ["b", "c"]}}
UNDO_SECONDS = 4


def dependents_of(shape: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """step -> the steps that start after it."""
    return {step: [s for s, keys in shape.items() if step in keys.get("after", ())]
            for step in shape}


def exec_params(state: Path, step: str, dependents: list[str]) -> dict[str, str]:
    """An ``exec`` step whose effect is a file, with the test agent's records; its undo
    records a violation if a step depending on it still has its effect."""
    def effect(name: str) -> str:
        return f'{state}/effects/"$HAFLOW_WORKFLOW"__{name}__"$(basename "$HAFLOW_KEY")"'

    def rec(event: str) -> str:
        return (f'printf "%s\\t%s\\t%s\\t%s\\t%s\\t\\n" "$(date +%s.%3N)" "$(uname -n)" '
                f'"$HAFLOW_RESOURCE" "$HAFLOW_KEY" {event} >> {state}/records.log')

    mine = effect(step)
    checks = "".join(
        f'if [ -e {effect(d)} ]; then echo "$HAFLOW_WORKFLOW: {step} undone while {d} '
        f'still had its effect" >> {state}/{VIOLATIONS}; fi; ' for d in dependents)
    return {
        "do": f"mkdir -p {state}/effects && echo node=$(uname -n) > {mine} && {rec('do')}",
        "check": f"test -e {mine}",
        "undo": (f"{checks}{rec('undoing')}; sleep {UNDO_SECONDS}; "
                 f"if [ -e {mine} ]; then rm -f {mine}; {rec('undo')}; "
                 f"else {rec('undo-noop')}; fi"),
    }


@dataclass
class Run:
    """One run of a scenario on a lab: what the fault functions work with."""

    layout: LabLayout
    scenario: Scenario
    state: Path
    names: list[str]
    rng: random.Random
    notes: list[str] = field(default_factory=list)
    fault_at: float = 0.0

    def text(self, name: str) -> str:
        scenario = self.scenario
        body = {}
        for step, keys in scenario.shape.items():
            if scenario.agent == "exec":
                params: dict[str, Any] = exec_params(self.state, step,
                                                     dependents_of(scenario.shape)[step])
            else:
                params = {"state_dir": str(self.state), **scenario.params.get(step, {})}
            body[step] = {"agent": scenario.agent, "interval": "2s",
                          "timeout": scenario.timeout, "retries": scenario.retries, **keys,
                          "params": params}
        return json.dumps({"name": name, "failure_policy": scenario.policy, "steps": body})

    def where(self) -> dict[str, str]:
        """resource -> node, for every started step of our workflows."""
        seen = view(self.layout, self.survivor())
        return {rid: nodes[0] for rid, nodes in seen.resources.items()
                if nodes and rid.split(".", 1)[0] in self.names
                and seen.roles.get(rid) == "Started" and not rid.endswith(".root")}

    def roots(self) -> dict[str, str]:
        """root resource -> node, for the roots of our workflows that run."""
        seen = view(self.layout, self.survivor())
        return {rid: nodes[0] for rid, nodes in seen.resources.items()
                if nodes and rid.split(".", 1)[0] in self.names and rid.endswith(".root")}

    def busiest(self) -> str:
        """The node running most of our steps."""
        counts: dict[str, int] = {}
        for node in self.where().values():
            counts[node] = counts.get(node, 0) + 1
        return max(sorted(counts), key=lambda n: counts[n])

    def dc(self) -> str:
        found = view(self.layout).dc
        assert found is not None, "the lab has no DC"
        return found

    def survivor(self, *besides: str) -> str:
        nodes = [n for n in control.nodes_of(self.layout) if n not in besides]
        return nodes[0]

    def crash_and_wait_fenced(self, node: str) -> None:
        observer = self.survivor(node)
        before = last_fenced(self.layout, observer, node)
        self.fault_at = time.time()
        control.crash(self.layout, node)
        self.notes.append(f"crashed {node}")
        wait_fenced(self.layout, observer, node, before)


@dataclass
class Scenario:
    name: str
    description: str
    inject: Callable[[Run], None]
    expect: str = "done"          # the workflows' state once the fault is over
    policy: str = "rollback"
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    timeout: str = "30s"
    retries: int = 0
    count: int = 3                # workflows
    min_nodes: int = 3
    submitted_by_fault: bool = False  # the fault submits the workflows itself
    runs_first: bool = True       # wait until the workflows are done before the fault
    shape: dict[str, dict[str, Any]] = field(default_factory=lambda: CHAIN)
    agent: str = "test"


@dataclass
class Result:
    scenario: str
    audit: Audit
    recovery: float | None
    notes: list[str]


# ---- the faults ---------------------------------------------------------------------------


def crash_during_start(run: Run) -> None:
    first = wait_for("a start in progress", lambda: next(
        (r for r in records.read(run.state) if r.event == "do" and r.resource.endswith(".b")),
        None), timeout=60)
    run.crash_and_wait_fenced(first.node)  # the effect exists, the start has not returned


def crash_during_monitor(run: Run) -> None:
    run.crash_and_wait_fenced(run.busiest())


def crash_during_undo(run: Run) -> None:
    env = lab_env(run.layout)
    for name in run.names:
        abort(env, name)
    target = wait_for("an undo in progress", lambda: next(
        (rid for rid, node in run.where().items() if rid.endswith(".c")), None), timeout=30)
    # the node of a workflow's root if one still runs: its stop (the sweep) is then implied
    # by the fencing, and the alert agent must start it again elsewhere to finish
    roots = run.roots()
    run.crash_and_wait_fenced(roots.get(target.split(".")[0] + ".root")
                              or next(iter(roots.values()), None)
                              or run.where().get(target) or run.busiest())


def crash_mid_undo_keeps_order(run: Run) -> None:
    """Abort; crash the node running a leaf's undo (not its dependencies'): the steps it
    depends on must not be undone before it is. ``haflow wait`` must say rolled back."""
    from haflow.coordinator.commands.wait import wait

    env = lab_env(run.layout)
    leaf = sorted(run.scenario.shape)[-1]
    for name in run.names:
        abort(env, name)
    # this run's workflows only: chaos keeps every crash-undo's records in one folder,
    # and an earlier workflow's record sent a later fault to crash a node undoing nothing
    leaves = {f"{name}.{leaf}" for name in run.names}
    undoing = wait_for(f"an undo of {leaf} in progress", lambda: next(
        (r for r in records.read(run.state) if r.event == "undoing"
         and r.resource in leaves), None), timeout=60)
    waiter = lab_env(run.layout, run.survivor(undoing.node))
    codes: dict[str, int] = {}
    threads = [threading.Thread(target=lambda n=name: codes.__setitem__(
        n, int(wait(waiter, n, timeout=170)[1])), daemon=True) for name in run.names]
    for thread in threads:
        thread.start()
    run.crash_and_wait_fenced(undoing.node)
    for thread in threads:
        thread.join(timeout=180)
    wrong = {n: c for n, c in codes.items() if c != ExitCode.ROLLED_BACK}
    run.notes.append(f"crashed {undoing.node} during the undo of {undoing.resource}")
    if wrong or len(codes) != len(run.names):
        raise AssertionError(f"haflow wait did not say rolled back (8): {codes}")


def crash_dc_mid_transition(run: Run) -> None:
    dc = run.dc()
    env = lab_env(run.layout, run.survivor(dc))
    submit_all(run, env)
    run.crash_and_wait_fenced(dc)


def partition_one(run: Run) -> None:
    node = run.busiest()
    isolate(run, node)


def partition_dc(run: Run) -> None:
    isolate(run, run.dc())


def isolate(run: Run, node: str) -> None:
    observer = run.survivor(node)
    before = last_fenced(run.layout, observer, node)
    run.fault_at = time.time()
    control.partition(run.layout, [node])
    run.notes.append(f"isolated {node}")
    wait_fenced(run.layout, observer, node, before)
    control.heal(run.layout)


def flapping_link(run: Run) -> None:
    node = run.busiest()
    run.fault_at = time.time()
    control.flap(run.layout, node, down=0.4, up=1.5, count=4)
    run.notes.append(f"flapped {node}'s link 4 times (0.4 s down)")


def two_crashes(run: Run) -> None:
    first = run.busiest()
    run.crash_and_wait_fenced(first)
    second = run.survivor(first)
    if len(control.nodes_of(run.layout)) - 2 < len(control.nodes_of(run.layout)) // 2 + 1:
        # three nodes: the last one loses quorum and stops everything (a release, no undo)
        control.crash(run.layout, second)
        run.notes.append(f"crashed {second}: quorum lost")
        time.sleep(5)
        restore(run.layout)
        run.notes.append("powered both on: quorum regained")
    else:
        run.crash_and_wait_fenced(second)


def many_while_a_node_reboots(run: Run) -> None:
    env = lab_env(run.layout, "node1")
    victim = control.nodes_of(run.layout)[-1]
    thread = threading.Thread(target=submit_all, args=(run, env), daemon=True)
    thread.start()
    time.sleep(0.5)
    run.fault_at = time.time()
    control.reboot(run.layout, victim, wait=False)
    run.notes.append(f"rebooted {victim} while submitting {len(run.names)} workflows")
    thread.join(timeout=120)


def standby_and_back(run: Run) -> None:
    node = run.busiest()
    env = lab_env(run.layout, run.survivor(node))
    run.fault_at = time.time()
    assert env.run(["pcs", "node", "standby", node]).returncode == 0
    wait_for(f"steps off {node}", lambda: node not in run.where().values()
             and len(run.where()) == len(run.names) * len(STEPS), timeout=90)
    assert env.run(["pcs", "node", "unstandby", node]).returncode == 0
    run.notes.append(f"{node} in standby and back")


def restart_pacemaker(run: Run) -> None:
    node = run.busiest()
    run.fault_at = time.time()
    control.restart_pacemaker(run.layout, node)
    run.notes.append(f"restarted pacemaker on {node}")


def drift(run: Run) -> None:
    """Someone deletes an effect behind the cluster's back; the monitor repairs it."""
    entry = next(r for r in records.read(run.state) if r.event == "do")
    run.fault_at = time.time()
    (run.state / "effects" / entry.key.replace("/", "__")).unlink()
    records.append(run.state, entry.node, entry.resource, entry.key, "drift",
                   "deleted by the fault suite")
    wait_for("the drift repaired", lambda: sum(
        1 for r in records.read(run.state) if r.key == entry.key and r.event == "do") == 2,
        timeout=60)


def nothing(run: Run) -> None:
    run.fault_at = time.time()


def killed_submit(run: Run) -> None:
    """The submitting process is killed at a random moment; a retry completes it."""
    env = lab_env(run.layout)
    for name in run.names:
        path = run.state / f"{name}.json"
        path.write_text(run.text(name))
        argv = [sys.executable, "-m", "haflow.coordinator.cli", "submit", str(path),
                "--lab", run.layout.name, "--lab-root", str(run.layout.root)]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(run.rng.uniform(0.0, 1.5))
        proc.kill()
        proc.wait()
        cib = livecib.query(env)
        present = read.elements_of(cib, name)
        compiled_ids = len(compile_workflow(loads(path.read_text(), str(path)))
                           .ids())
        found_ids = sum(1 for e in present for _ in e.iter() if _.get("id"))
        if present and found_ids < compiled_ids:
            raise AssertionError(f"{name} half-applied: {found_ids} of {compiled_ids} ids")
        if not present:
            submit(env, loads(path.read_text(), str(path)))
        run.notes.append(f"{name}: {'complete' if present else 'absent'} after the kill")
    run.fault_at = time.time()


def pcs_during_submit(run: Run) -> None:
    env = lab_env(run.layout)
    other = lab_env(run.layout, control.nodes_of(run.layout)[-1])
    made = threading.Thread(target=lambda: other.run(
        ["pcs", "resource", "create", "bystander", "ocf:pacemaker:Dummy"]), daemon=True)
    made.start()
    submit_all(run, env)
    made.join(timeout=60)
    run.fault_at = time.time()
    try:
        found = livecib.query(env).xpath("//primitive[@id='bystander']")
        assert found, "the concurrent pcs change was lost"
    finally:
        other.run(["pcs", "resource", "delete", "bystander"])


def submit_all(run: Run, env: Any) -> None:
    threads = [threading.Thread(target=submit,
                                args=(env, loads(run.text(n), f"{n}.json")),
                                daemon=True) for n in run.names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


SCENARIOS = [
    Scenario("crash-start", "crash of the node running a step, during its start",
             crash_during_start, params={"b": {"linger": 6}}),
    Scenario("crash-monitor", "crash of the node running steps, while they are monitored",
             crash_during_monitor),
    Scenario("crash-undo", "crash of a node during an undo (abort)", crash_during_undo,
             expect="rolled back", params={s: {"undo_duration": 3} for s in STEPS}),
    Scenario("undo-order-chain", "crash of the node undoing the last step of a chain: the "
             "steps before it are undone after it", crash_mid_undo_keeps_order,
             expect="rolled back", agent="exec", shape=UNDO_CHAIN, count=2),
    Scenario("undo-order-diamond", "crash of the node undoing the join of a diamond: both "
             "branches are undone after it", crash_mid_undo_keeps_order,
             expect="rolled back", agent="exec", shape=DIAMOND, count=2),
    Scenario("crash-dc", "crash of the DC in the middle of a transition",
             crash_dc_mid_transition, submitted_by_fault=True),
    Scenario("isolate-node", "network partition isolating one node", partition_one),
    Scenario("isolate-dc", "network partition isolating the DC", partition_dc),
    Scenario("flapping-link", "a flapping link", flapping_link),
    Scenario("two-crashes", "two nodes crashed one after another", two_crashes),
    Scenario("many-reboot", "10 workflows submitted at once while a node reboots",
             many_while_a_node_reboots, count=10, submitted_by_fault=True),
    Scenario("killed-submit", "the submitting process killed mid-submit", killed_submit,
             submitted_by_fault=True),
    Scenario("pcs-submit", "a CIB change by pcs during a submit", pcs_during_submit,
             submitted_by_fault=True),
    Scenario("standby", "a node put into standby and back", standby_and_back),
    Scenario("restart-pcmk", "pacemaker restarted on a node without a reboot",
             restart_pacemaker),
    Scenario("hang", "a step that hangs: its timeout fires, the workflow rolls back", nothing,
             expect="rolled back", params={"b": {"hang": "true"}}, timeout="4s", count=1,
             runs_first=False),
    Scenario("fail-rollback", "a step that fails forever, policy rollback", nothing,
             expect="rolled back", params={"b": {"fail_start": 99}}, count=2,
             runs_first=False),
    Scenario("fail-hold", "a step that fails forever, policy hold", nothing, expect="held",
             policy="hold", params={"b": {"fail_start": 99}}, count=2, runs_first=False),
    Scenario("drift", "a monitor that starts failing later: drift repaired", drift),
]
SCENARIOS_BY_NAME = {s.name: s for s in SCENARIOS}


# ---- running one ----------------------------------------------------------------------------


def workflow_statuses(layout: LabLayout, names: list[str]) -> dict[str, WorkflowStatus]:
    """Each workflow's status, as the first node that answers sees it (one may be down)."""
    from haflow.coordinator import status
    from haflow.coordinator.cluster import live_view
    from haflow.coordinator.reports import HaflowError

    for node in control.nodes_of(layout):
        try:
            # a node not synced yet (rebooting) is skipped at once: another one answers
            cib, mon = live_view.read_live(lab_env(layout, node), wait=0)
            break
        except HaflowError:
            continue
    else:
        return {}
    return {n: status.workflow_status(cib, mon, n) for n in names if read.elements_of(cib, n)}


def workflow_states(layout: LabLayout, names: list[str]) -> dict[str, str]:
    return {n: str(s.state) for n, s in workflow_statuses(layout, names).items()}


def describe(status: WorkflowStatus) -> str:
    """A workflow's state with its steps' counts and their problems, for a timeout's
    message: what it was left doing when it did not get where it should."""
    counts = ", ".join(f"{n} {state}" for state, n in sorted(status.counts.items()))
    problems = "".join(f"; {p.name}: {why(p)}" for p in status.problems)
    return f"{status.name} {status.state} ({counts}{problems})"


def why(step: StepStatus) -> str:
    if step.note:
        return step.note
    if step.failure:
        f = step.failure
        return f"{f.operation} on {f.node}: {f.rc_text} {f.exit_reason}".rstrip()
    return f"{step.state}, stuck" if step.stuck else str(step.state)


def wait_state(layout: LabLayout, names: list[str], want: str, timeout: float) -> None:
    seen: dict[str, WorkflowStatus] = {}

    def settled() -> bool:
        seen.clear()
        seen.update(workflow_statuses(layout, names))
        return len(seen) == len(names) and all(str(s.state) == want for s in seen.values())

    try:
        wait_for(f"{', '.join(names)} {want}", settled, timeout=timeout, every=1.0)
    except AssertionError as timed_out:
        others = [describe(s) for s in seen.values() if str(s.state) != want]
        others += [f"{n} not in the CIB" for n in names if n not in seen]
        raise AssertionError(f"{timed_out}; last seen: {'; '.join(others) or 'no node answered'}"
                             ) from None


def cleanup(layout: LabLayout, names: list[str]) -> dict[str, list[Event]]:
    """Abort what still runs, wait until undone, remove: the lab is left clean. Returns
    each workflow's history (``haflow history``), read before it was removed."""
    from haflow.coordinator.commands.history import workflow_history

    env = lab_env(layout)
    cib = livecib.query(env)
    present = [n for n in names if read.elements_of(cib, n)]
    for name in present:
        if not read.aborted(cib, name):
            abort(env, name)
    if present:
        wait_state(layout, present, "rolled back", timeout=180)
    histories = {name: workflow_history(env, name).events for name in present}
    for name in present:
        remove(env, name, force=True)
    return histories


def run_scenario(layout: LabLayout, scenario: Scenario, base: Path, seed: int = 0) -> Result:
    state = base / f"{scenario.name}-{seed}"
    state.mkdir(parents=True, exist_ok=True)
    prefix = scenario.name.replace("-", "_")
    run = Run(layout, scenario, state, [f"{prefix}{i}" for i in range(scenario.count)],
              random.Random(seed))
    wait_healthy(layout)
    recovery = None
    histories: dict[str, list[Event]] = {}
    try:
        if not scenario.submitted_by_fault:
            submit_all(run, lab_env(layout))
            if scenario.runs_first:
                wait_state(layout, run.names, "done", timeout=120)
        scenario.inject(run)
        wait_state(layout, run.names, scenario.expect, timeout=180)
        recovery = time.time() - run.fault_at
        states = workflow_states(layout, run.names)
        aborted_at = time.time()
    finally:
        restore(layout)
        histories = cleanup(layout, run.names)
    result = audit(state, run.names, undone=run.names, states=states,
                   expected={n: scenario.expect for n in run.names}, histories=histories,
                   dependents={n: dependents_of(scenario.shape) for n in run.names})
    early = [r for r in records.read(state) if r.event.startswith("undo")
             and r.time < aborted_at and scenario.expect == "done"]
    result.problems += [f"{r.key}: undone on {r.node} before any abort" for r in early]
    return Result(scenario.name, result, recovery, run.notes)
