"""``haflow lab chaos``: random faults against running workflows, then the fault audit.

Reproducible from the seed: the sequence of faults and their target nodes
come from ``random.Random(seed)`` over the lab's sorted node names (how long
each recovery takes is the cluster's business).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from haflow.coordinator.commands.submit import submit
from haflow.coordinator.reports import HaflowError
from haflow.coordinator.workflow.loader import loads
from haflow.encoding.record import Event
from haflow.lab import control, records
from haflow.lab.audit import Audit, audit
from haflow.lab.faults import (
    CHAIN,
    DIAMOND,
    Run,
    Scenario,
    cleanup,
    crash_mid_undo_keeps_order,
    dependents_of,
    nothing,
    wait_state,
    workflow_states,
)
from haflow.lab.layout import LabLayout
from haflow.lab.workload import (
    lab_env,
    last_fenced,
    restore,
    wait_fenced,
    wait_healthy,
    wait_idle,
)

Fault = Callable[[LabLayout, random.Random, "Undos"], str]
# how long workflows may take to come back from a fault (a standby's moves included)
RECOVERY = 180.0


@dataclass
class Undos:
    """Where the crash-undo fault keeps its workflows' records, names and histories."""

    state: Path
    names: list[str] = field(default_factory=list)
    histories: dict[str, list[Event]] = field(default_factory=dict)


def crash(layout: LabLayout, rng: random.Random, _: Undos) -> str:
    node = rng.choice(control.nodes_of(layout))
    observer = next(n for n in control.nodes_of(layout) if n != node)
    before = last_fenced(layout, observer, node)
    control.crash(layout, node)
    wait_fenced(layout, observer, node, before)
    return f"crash {node}"


def isolate(layout: LabLayout, rng: random.Random, _: Undos) -> str:
    node = rng.choice(control.nodes_of(layout))
    observer = next(n for n in control.nodes_of(layout) if n != node)
    before = last_fenced(layout, observer, node)
    control.partition(layout, [node])
    wait_fenced(layout, observer, node, before)
    control.heal(layout)
    return f"isolate {node}"


def flap(layout: LabLayout, rng: random.Random, _: Undos) -> str:
    node = rng.choice(control.nodes_of(layout))
    control.flap(layout, node, down=0.4, up=1.5, count=3)
    return f"flap {node}"


def standby(layout: LabLayout, rng: random.Random, _: Undos) -> str:
    """The node in standby until nothing runs on it, then back. Not ``pcs --wait``: it
    gives up after its 60 s while the cluster may rightly take longer, e.g. after a
    pacemaker restart whose controller lost a probe the DC sent it: the DC holds its
    transition for that probe's timeout plus cluster-delay (80 s) before the standby's
    moves can even be scheduled."""
    node = rng.choice(control.nodes_of(layout))
    observer = next(n for n in control.nodes_of(layout) if n != node)
    env = lab_env(layout, observer)
    for action in ("standby", "unstandby"):
        done = env.run(["pcs", "node", action, node])
        if done.returncode != 0:
            raise AssertionError(f"pcs node {action} {node}: {done.stderr.strip()}")
        if action == "standby":
            control.wait_until(layout, observer, lambda v: not any(
                node in nodes for nodes in v.resources.values()), timeout=RECOVERY)
    return f"standby {node} and back"


def restart_pacemaker(layout: LabLayout, rng: random.Random, _: Undos) -> str:
    node = rng.choice(control.nodes_of(layout))
    control.restart_pacemaker(layout, node)
    return f"restart pacemaker on {node}"


def crash_undo(layout: LabLayout, rng: random.Random, undos: Undos) -> str:
    """A diamond of ``exec`` steps, submitted and aborted; the node undoing its join
    crashes mid-undo: the branches must be undone after it, and ``haflow wait`` say
    rolled back (the fault suite's undo-order-diamond, one workflow)."""
    name = f"chaosundo{len(undos.names)}"
    scenario = Scenario("chaos-undo", "crash mid-undo", crash_mid_undo_keeps_order,
                        expect="rolled back", agent="exec", shape=DIAMOND, count=1)
    run = Run(layout, scenario, undos.state, [name], rng)
    undos.names.append(name)
    submit(lab_env(layout), loads(run.text(name), f"{name}.json"))
    wait_state(layout, [name], "done", timeout=120)
    crash_mid_undo_keeps_order(run)
    wait_state(layout, [name], "rolled back", timeout=RECOVERY)
    restore(layout)
    undos.histories.update(cleanup(layout, [name]))
    return f"crash-undo {'; '.join(run.notes)}"


FAULTS: dict[str, Fault] = {"crash": crash, "isolate": isolate, "flap": flap,
                            "standby": standby, "restart-pacemaker": restart_pacemaker,
                            "crash-undo": crash_undo}


@dataclass
class ChaosReport:
    seed: int
    minutes: float
    faults: list[str] = field(default_factory=list)
    recoveries: list[float] = field(default_factory=list)
    # the fault the workflows did not recover from, and how they were left: the run
    # stops there (the lab's logs keep the rest)
    unrecovered: str | None = None
    audit: Audit = field(default_factory=Audit)

    @property
    def ok(self) -> bool:
        return self.unrecovered is None and self.audit.ok

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["summary"] = self.audit.summary()
        return data

    def text(self) -> str:
        lines = [f"chaos, seed {self.seed}: {len(self.faults)} faults in {self.minutes} min"]
        lines += [f"  {f:<32} recovered in {r:5.1f} s"
                  for f, r in zip(self.faults, self.recoveries, strict=False)]
        if self.recoveries:
            lines.append(f"recovery: median {statistics.median(self.recoveries):.1f} s, "
                         f"max {max(self.recoveries):.1f} s")
        if self.unrecovered:
            lines.append(f"FAILED: not recovered from {self.unrecovered}")
            lines.append("the workflows are left in the lab as the fault left them "
                         "(haflow status, the nodes' logs); haflow lab down when done")
        else:
            lines.append(("OK: " if self.ok else "FAILED: ") + self.audit.summary())
        return "\n".join(lines)


def run_chaos(layout: LabLayout, minutes: float, seed: int, base: Path,
              count: int = 4) -> ChaosReport:
    rng = random.Random(seed)
    report = ChaosReport(seed, minutes)
    state = base / f"chaos-{seed}-{int(time.time())}"
    state.mkdir(parents=True)
    scenario = Scenario("chaos", "random faults", nothing, count=count)
    run = Run(layout, scenario, state, [f"chaos{i}" for i in range(count)], rng)
    undos = Undos(state)
    wait_healthy(layout)
    env = lab_env(layout)
    histories: dict[str, list[Event]] = {}
    recovered = False
    try:
        for name in run.names:
            submit(env, loads(run.text(name), f"{name}.json"))
        wait_state(layout, run.names, "done", timeout=120)
        deadline = time.monotonic() + minutes * 60
        while time.monotonic() < deadline:
            kind = rng.choice(sorted(FAULTS))
            started = time.time()
            try:
                report.faults.append(FAULTS[kind](layout, rng, undos))
                wait_state(layout, run.names, "done", timeout=RECOVERY)
            except (AssertionError, HaflowError) as failed:  # a tool's error too: reported
                done = report.faults[-1] if len(report.faults) > len(report.recoveries) else kind
                report.unrecovered = f"fault {len(report.recoveries) + 1}, {done}: {failed}"
                break
            finally:
                restore(layout)
            report.recoveries.append(time.time() - started)
            try:  # the next fault hits a settled cluster, not a transition still held
                wait_idle(layout, timeout=RECOVERY)
            except (AssertionError, HaflowError) as failed:
                report.unrecovered = f"after fault {len(report.recoveries)}: {failed}"
                break
        states = workflow_states(layout, run.names)
        aborted_at = time.time()
        recovered = report.unrecovered is None
    finally:
        restore(layout)
        # what did not recover is kept to be looked at, not aborted and removed
        if recovered:
            histories = cleanup(layout, run.names + undos.names)
    if not recovered:
        return report
    histories.update(undos.histories)
    report.audit = audit(state, run.names + undos.names, undone=run.names + undos.names,
                         states=states, expected={n: "done" for n in run.names},
                         histories=histories,
                         dependents={**{n: dependents_of(CHAIN) for n in run.names},
                                     **{n: dependents_of(DIAMOND) for n in undos.names}})
    report.audit.problems += [f"{r.key}: undone on {r.node} before the abort"
                              for r in records.read(state)
                              if r.event.startswith("undo") and r.time < aborted_at
                              and r.key.split("/", 1)[0] in run.names]
    return report
