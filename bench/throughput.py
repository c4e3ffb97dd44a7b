"""Many workflows at once: haflow against bare Pacemaker running the same graph.

In one run, on a lab of its own: N workflows of S-step chains, first as bare
Pacemaker (``ocf:pacemaker:Dummy`` primitives with a monitor like a step's,
pairwise mandatory orders, all in one CIB change), then with haflow (``haflow
submit`` of the N files in one command, steps of haflow's ``test`` agent doing
no work), each until every resource has started; then aborting them all
(bare: ``target-role=Stopped`` on every primitive in one change; haflow:
``haflow abort --all``), until every resource has stopped (haflow's roots too:
the root's stop is the rollback's last act) and, for haflow, every run's
checkpoint is in (agents/checkpointer.py writes it a moment after the last
action: the phase ends with the later of the two). Between the arms the bare graph is
deleted and its operation history awaited gone, so that haflow's arm runs on a CIB
of the size bare's ran on.

Times come from Pacemaker's own log lines (the change's "Completed ..."
line to the last "Result of start/stop operation"), so the polling that
waits for the end adds no time. Per phase it prints the seconds, the
transitions the DC calculated and how many of them were aborted (and by
what: a configuration change, a transient attribute, an action's result),
the CIB changes made (by which client: the controller recording results,
attrd, haflow's agents through cibadmin...), and the ratio haflow ÷ bare.
Goals: start ≤ 1.25× and abort ≤ 1.25× bare at N=20 and N=100, S=10, 3 nodes.

    python bench/throughput.py [--workflows 20] [--steps 10] [--nodes 3]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections import Counter
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from haflow.coordinator.cluster import livecib
from haflow.encoding import live, read
from haflow.encoding.meta import EVENT_META_PREFIX
from haflow.lab import control, workload
from haflow.lab.layout import LabLayout
from haflow.lab.workload import lab_env

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labbench import cpu_seconds, haflow, log_lines, wait_for, workflow_file  # bench/ is no package

MONITOR = "30s"  # a step's monitor interval (the compiler's default)
PHASE_TIMEOUT = 1800.0
# the phase's times come from the logs, not from this polling; crm_mon on a lab of 200
# resources costs a CIB manager 0.1 s and itself 0.2 s of the CPUs the phase runs on
POLL_EVERY = 10.0
# pacemaker-controld on the DC
CALCULATED = re.compile(r"Calculated transition (\d+)")
ABORTED = re.compile(r"Transition (\d+) aborted")
# pacemaker-based where a change was asked: origin=NODE/CLIENT/CALL
COMPLETED = re.compile(r"Completed (cib_\w+) operation for section (\S+): OK "
                       r"\(rc=0, origin=([^/]+)/([^/]+)/(\d+), version=([\d.]+)\)")
READ_ONLY = ("cib_query", "cib_ping", "cib_sync", "cib_sync_one", "cib_is_primary",
             "cib_noop", "cib_slave", "cib_secondary")


@dataclass
class Phase:
    seconds: float
    calculated: int
    unfinished: str | None = None  # why the phase did not end (then: a lower bound)
    aborted: Counter[str] = field(default_factory=Counter)
    writes: Counter[str] = field(default_factory=Counter)
    cpu: dict[str, float] = field(default_factory=dict)  # seconds by process (cpu_seconds)


def bare_graph(cib: etree._Element, workflows: int, steps: int) -> etree._Element:
    """A copy of ``cib`` with the bench's chains as bare Dummy primitives and orders."""
    new = deepcopy(cib)
    resources, constraints = new.find("configuration/resources"), \
        new.find("configuration/constraints")
    assert resources is not None and constraints is not None
    for w in range(workflows):
        for s in range(steps):
            rid = f"bare{w}-s{s}"
            prim = etree.SubElement(resources, "primitive", id=rid, type="Dummy",
                                    provider="pacemaker", **{"class": "ocf"})
            ops = etree.SubElement(prim, "operations")
            etree.SubElement(ops, "op", id=f"{rid}-monitor", name="monitor",
                             interval=MONITOR)
            if s:
                etree.SubElement(constraints, "rsc_order", id=f"bare{w}-o{s}",
                                 first=f"bare{w}-s{s - 1}", then=rid, kind="Mandatory")
    return new


def stopped_all(cib: etree._Element, prefix: str) -> etree._Element:
    """A copy of ``cib`` with target-role=Stopped on every primitive named ``prefix``..."""
    new = deepcopy(cib)
    for prim in new.iterfind("configuration/resources/primitive"):
        rid = prim.get("id", "")
        if rid.startswith(prefix):
            meta = etree.SubElement(prim, "meta_attributes", id=f"{rid}-stop")
            etree.SubElement(meta, "nvpair", id=f"{rid}-stop-role", name="target-role",
                             value="Stopped")
    return new


def without(cib: etree._Element, prefix: str) -> etree._Element:
    """A copy of ``cib`` without the primitives named ``prefix``... and their orders."""
    new = deepcopy(cib)
    for element in new.iterfind("configuration/*/*"):
        if element.tag in ("primitive", "rsc_order") and \
                element.get("id", "").startswith(prefix):
            parent = element.getparent()
            assert parent is not None
            parent.remove(element)
    return new


def history_gone(layout: LabLayout, prefix: str) -> bool:
    """Whether no node's operation history names a resource called ``prefix``..."""
    found = cib_now(layout).xpath(
        "count(/cib/status/node_state/lrm/lrm_resources/lrm_resource"
        f"[starts-with(@id, '{prefix}')])")
    return not found


def checkpoints_pending(layout: LabLayout, workflows: list[str]) -> int:
    """How many of ``workflows`` have a checkpoint still to come (read.checkpoint_pending)."""
    cib = cib_now(layout)
    state = live.attributes(cib)
    return sum(read.checkpoint_pending(read.resources_of(cib, w), w, state) for w in workflows)


def workflow_files(folder: Path, workflows: int, steps: int) -> list[Path]:
    chain: dict[str, dict[str, object]] = {
        f"s{s}": {"agent": "test", **({"after": [f"s{s - 1}"]} if s else {})}
        for s in range(steps)}
    return [workflow_file(folder, f"tput{w}", chain) for w in range(workflows)]


def measure(layout: LabLayout, since: float, ids: set[str], task: str,
            unfinished: str | None, cpu_before: Counter[str]) -> Phase:
    """The phase from the first change after ``since`` to the last ``task`` result of
    ``ids``, from every node's log; with the CPU time the lab spent since
    ``cpu_before`` (a cpu_seconds reading)."""
    cpu = cpu_seconds(layout)
    time.sleep(2)  # let the last lines land
    phase = phase_of(log_lines(layout), since, ids, task)
    phase.unfinished = unfinished
    phase.cpu = {name: cpu[name] - cpu_before.get(name, 0.0) for name in cpu}
    return phase


def phase_of(every: list[tuple[float, str]], since: float, ids: set[str], task: str
             ) -> Phase:
    """:func:`measure` on log lines (epoch seconds, line) of every node, in time order."""
    lines = [(stamp, line) for stamp, line in every if stamp >= since]
    begin = next((s for s, line in lines if "Completed cib_" in line and "cibadmin" in line),
                 since)
    results = [s for s, line in lines if f"Result of {task} operation for " in line
               and line.split(f"Result of {task} operation for ")[1].split()[0] in ids]
    # haflow's checkpoints (agents/checkpointer.py) land a moment after the last action:
    # the phase is over once they are in too
    changes = [s for s, line in lines if (c := COMPLETED.search(line)) is not None
               and c.group(4) == "cibadmin" and c.group(1) not in READ_ONLY
               and c.group(2).strip("'") != "status"]
    end = max([*results, *changes], default=begin)
    phase = Phase(end - begin, 0)
    seen: set[tuple[str, str]] = set()
    for stamp, line in lines:
        if stamp > end:
            break
        if "pacemaker-controld" in line or "pacemaker-schedulerd" in line:
            if CALCULATED.search(line):
                phase.calculated += 1
            aborted = ABORTED.search(line)
            if aborted:
                phase.aborted[_abort_cause(line)] += 1
        changed = COMPLETED.search(line)
        if changed and changed.group(1) not in READ_ONLY and stamp >= begin:
            key = (changed.group(6), changed.group(3) + changed.group(5))
            if key not in seen:  # each node logs the changes it was asked for
                seen.add(key)
                phase.writes[f"{changed.group(4)} {changed.group(1)}"] += 1
    return phase


def _abort_cause(line: str) -> str:
    """What aborted a transition, in a few words: a configuration change (whose), a
    transient attribute (which kind), an action's result."""
    text = line.split(" | ")[0]
    words = text.split(" aborted by ", 1)[1].split() if " aborted by " in text else []
    by = words[1] if words[:1] == ["operation"] and len(words) > 1 else \
        (words[0] if words else "")
    why = text.rsplit(": ", 1)[1] if ": " in text else ""
    deleted = re.search(r"deletion of \w+\[@id='([^']+)'\]", text)
    if deleted:
        by = deleted.group(1)
    if by.startswith("status-") or "attribute" in why.lower():
        name = by.split("-", 2)[-1] if by.startswith("status-") else by
        kind = "haflow heartbeat" if "haflow-hb" in name else \
            "fail count" if "fail-count" in name or "last-failure" in name else name
        return f"transient attribute ({kind})"
    return f"{why.strip() or 'other'}" + (f" ({_kind(by)})" if by else "")


def _kind(element_id: str) -> str:
    """An aborting element's id, with the bench's own names and the history's keys taken
    out."""
    element_id = re.sub(re.escape(EVENT_META_PREFIX) + r"\S+", EVENT_META_PREFIX + "*",
                        element_id)
    return re.sub(r"(tput|bare)\d+", r"\1N", re.sub(r"\.s\d+|-s\d+", ".S", element_id))


def settled(layout: LabLayout, workflows: list[str]) -> None:
    """Until every run's checkpoint is in (their times come from the logs: measure)."""
    workload.wait_for("the checkpoints", lambda: not checkpoints_pending(layout, workflows),
                      timeout=PHASE_TIMEOUT, every=2.0)


def cib_now(layout: LabLayout) -> etree._Element:
    return livecib.query(lab_env(layout))


def main() -> int:
    control.end_on_sigterm()  # a killed run still takes its lab down
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workflows", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=3)
    args = parser.parse_args()
    n, s = args.workflows, args.steps
    results: dict[str, Phase] = {}
    with tempfile.TemporaryDirectory(prefix="haflow-bench-",
                                     dir=os.environ.get("HAFLOW_LAB_ROOT")) as root:
        folder = Path(root)
        # the alert agent runs as hacluster: it must reach the lab's OCF tree below this
        folder.chmod(0o755)
        layout = control.layout_for("benchtput", folder)
        control.up(layout, args.nodes)
        try:
            env = lab_env(layout)
            bare_ids = {f"bare{w}-s{i}" for w in range(n) for i in range(s)}
            since, cpu = time.time(), cpu_seconds(layout)
            old = cib_now(layout)
            livecib.push(env, old, bare_graph(old, n, s), "the bare graph")
            left = wait_for(layout, bare_ids, started=True, timeout=PHASE_TIMEOUT,
                            every=POLL_EVERY)
            results["bare start"] = measure(layout, since, bare_ids, "start", left, cpu)
            since, cpu = time.time(), cpu_seconds(layout)
            old = cib_now(layout)
            livecib.push(env, old, stopped_all(old, "bare"), "stopping the bare graph")
            left = wait_for(layout, bare_ids, started=False, timeout=PHASE_TIMEOUT,
                            every=POLL_EVERY)
            results["bare abort"] = measure(layout, since, bare_ids, "stop", left, cpu)
            # haflow's arm runs on a CIB as bare's did: without the other arm's graph and
            # its operation history (a CIB twice the size makes every write and every
            # scheduler run dearer: at N=100 it was 4.5 MB, 2,101 primitives)
            old = cib_now(layout)
            livecib.push(env, old, without(old, "bare"), "deleting the bare graph")
            workload.wait_for("the bare graph's history to go",
                              lambda: history_gone(layout, "bare"), timeout=PHASE_TIMEOUT,
                              every=POLL_EVERY)
            workload.wait_idle(layout, timeout=PHASE_TIMEOUT)
            paths = workflow_files(folder, n, s)
            ids = {f"tput{w}.{x}" for w in range(n) for x in [f"s{i}" for i in range(s)]}
            roots = {f"tput{w}.root" for w in range(n)}
            names = [f"tput{w}" for w in range(n)]
            since, cpu = time.time(), cpu_seconds(layout)
            haflow(layout, "submit", *map(str, paths))
            left = wait_for(layout, ids | roots, started=True, timeout=PHASE_TIMEOUT,
                            every=POLL_EVERY)
            settled(layout, names)
            results["haflow start"] = measure(layout, since, ids | roots, "start", left, cpu)
            since, cpu = time.time(), cpu_seconds(layout)
            haflow(layout, "abort", "--all")
            left = wait_for(layout, ids | roots, started=False, timeout=PHASE_TIMEOUT,
                            every=POLL_EVERY)
            settled(layout, names)
            results["haflow abort"] = measure(layout, since, ids | roots, "stop", left, cpu)
        finally:
            control.teardown(layout)
    report(results, n, s, args.nodes)
    return 0


def report(results: dict[str, Phase], n: int, s: int, nodes: int) -> None:
    print(f"{n} workflows × {s}-step chains on {nodes} nodes ({n * s} steps): until every "
          "resource started, then stopped (times from Pacemaker's logs); CIB writes: every "
          "change, and those not the controller's recording of results (the bench's own "
          "change, haflow's agents and alert, attrd)\n")
    print(f"{'phase':<14}{'seconds':>9}{'transitions':>13}{'aborted':>9}{'CIB writes':>12}"
          f"{'not crmd':>10}{'× bare':>8}")
    for name, phase in results.items():
        bare = results.get(name.replace("haflow", "bare"))
        ratio = f"{phase.seconds / bare.seconds:>7.2f}×" if bare and bare.seconds else ""
        print(f"{name:<14}{phase.seconds:>8.1f}s{phase.calculated:>13}"
              f"{sum(phase.aborted.values()):>9}{sum(phase.writes.values()):>12}"
              f"{sum(n for w, n in phase.writes.items() if not w.startswith('crmd ')):>10}"
              f"{ratio:>8}"
              + (f"  ({phase.unfinished}: at least)" if phase.unfinished else ""))
    for name, phase in results.items():
        print(f"\n{name}: transitions aborted by")
        for cause, count in phase.aborted.most_common(8):
            print(f"  {count:>5}  {cause}")
        print(f"{name}: CIB writes by client and operation")
        for what, count in phase.writes.most_common(8):
            print(f"  {count:>5}  {what}")
        print(f"{name}: CPU seconds of the lab's processes, {sum(phase.cpu.values()):.1f} "
              "in all (not the CLI or the bench's polling: they run from outside)")
        for what, seconds in sorted(phase.cpu.items(), key=lambda kv: -kv[1])[:8]:
            print(f"  {seconds:>7.1f}  {what}")
    start = results["haflow start"].seconds / max(results["bare start"].seconds, 1e-9)
    abort = results["haflow abort"].seconds / max(results["bare abort"].seconds, 1e-9)
    print("\ngoals: start ≤ 1.25×, abort ≤ 1.25× bare")
    print(f"throughput: haflow/bare start {start:.2f}, abort {abort:.2f}")


if __name__ == "__main__":
    sys.exit(main())
