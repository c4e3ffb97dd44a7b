"""bench/failover: crash the node running a resource; time until it runs elsewhere.

Prints each run beside its floor: what no implementation on this corosync
configuration can beat, read from the same run's logs and configuration:

    floor = token timeout + consensus timeout + the scheduler's time on that CIB
            + fencing duration + start duration

and the ratio measured / floor (goal: <= 1.5). Times come from Pacemaker's own
log timestamps, so polling does not add noise. The scheduler's time is
``crm_simulate --run --node-fail`` on the CIB taken just before the crash: what
the DC's scheduler must compute before it can ask for the fencing.

Without ``--resident`` the resource is a bare ``ocf:pacemaker:Dummy``. With
``--resident N`` it is a haflow step (a one-step workflow of the ``test``
agent, submitted for each run), while N other steps of done workflows are
resident: workflows of up to 100 independent ``test`` steps, submitted ten
workflows per change (the most one change may create: livecib.MAX_CREATED),
kept off node1 by one rsc-pattern ban (as bare's), their roots too. The measured step then
starts on node1, the node with the fewest resources, and node1 is the one
crashed: the recovery is that step's, beside a CIB of N steps, not the
recovery of every step the crashed node ran. The residents' monitor interval
is ``--resident-interval`` (default 0, no monitor): the lab's nodes share this
machine's cores, which N Python monitors would fill, where real nodes each have
their own. Loading the residents has its own baseline, first, on a lab of its
own: N bare ``Dummy`` primitives placed alike (no probes, off node1, 1,000 per
change); the bench prints both loads' seconds, their ratio, and how often
pacemakerd killed a daemon it found unresponsive during each.

    python bench/failover.py [--runs 5] [--nodes 3] [--resident N [--resident-interval 0]]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from copy import deepcopy
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent))

# bench/ is no package: labbench is beside this file
from labbench import first, haflow, log_lines, totem, wait_for, workflow_file

from haflow.coordinator.cluster import livecib, simulate
from haflow.lab import control
from haflow.lab.layout import LabLayout
from haflow.lab.workload import lab_env, wait_idle

RESOURCE = "bench-failover"
VICTIM = "node1"  # with resident steps: the node whose crash is measured, kept free of them
RESIDENT_PER_WORKFLOW = 100
# the residents' workflows are resN: kept off VICTIM by one ban, as bare's residents are
# (a step's own `avoid` is a location rule each: 1.2 MB of constraints at 3,000 steps)
RESIDENT_PATTERN = r"^res[0-9]+\."
RESIDENT_PER_SUBMIT = 10  # workflows: 1,000 steps a change
RESIDENT_TIMEOUT = 7200.0


def one_run(layout: LabLayout, resource: str,
            victim_must_be: str | None = None) -> dict[str, float | str]:
    nodes = control.nodes_of(layout)
    view = control.wait_until(layout, "node1", lambda v: len(v.resources.get(resource, [])) == 1
                              and len(v.online) == len(nodes), 180)
    victim = view.resources[resource][0]
    if victim_must_be and victim != victim_must_be:
        sys.exit(f"{resource} started on {victim}, not on {victim_must_be}: the node kept "
                 "free of resident steps")
    survivor = next(n for n in nodes if n != victim)
    was_dc = victim == view.dc
    cib = livecib.query(lab_env(layout, survivor))
    scheduler = simulate.run(cib, simulate=False, node_fail=[victim]).seconds
    # corosync scales the configured token with the node count (token_coefficient)
    token, consensus = totem(layout, "token", survivor), totem(layout, "consensus", survivor)
    crashed_at = time.time()
    control.crash(layout, victim)
    control.wait_until(layout, survivor, lambda v: bool(v.resources.get(resource))
                       and victim not in v.resources[resource], 600)
    time.sleep(1)  # let the log lines land
    lines = log_lines(layout)
    fence_asked = first(lines, crashed_at, "Requesting fencing (reboot) of node", victim)
    fence_done = first(lines, fence_asked, "was terminated (reboot)", f"Peer {victim}")
    start_asked = first(lines, fence_done, "Requesting local execution of start operation "
                        f"for {resource} ")
    started = first(lines, start_asked, f"Result of start operation for {resource} ", ": ok")
    floor = token + consensus + scheduler + (fence_done - fence_asked) + \
        (started - start_asked)
    measured = started - crashed_at
    return {"victim": victim + (" (DC)" if was_dc else ""), "measured": measured,
            "scheduler": scheduler, "fencing": fence_done - fence_asked,
            "start": started - start_asked, "floor": floor, "ratio": measured / floor,
            "token": token, "consensus": consensus}


def ban(layout: LabLayout, cid: str, pattern: str, node: str,
        undiscovered: bool = False) -> None:
    """Every resource whose id matches ``pattern``, present and future, kept off ``node``
    (one rsc-pattern ban), and never probed if ``undiscovered`` (as haflow's steps:
    read.DISCOVERY)."""
    env = lab_env(layout)
    old = livecib.query(env)
    new = deepcopy(old)
    constraints = new.find("configuration/constraints")
    assert constraints is not None
    etree.SubElement(constraints, "rsc_location", {
        "id": cid, "rsc-pattern": pattern, "node": node, "score": "-INFINITY"})
    if undiscovered:
        never = etree.SubElement(constraints, "rsc_location", {
            "id": f"{cid}-undiscovered", "rsc-pattern": pattern,
            "resource-discovery": "never"})
        rule = etree.SubElement(never, "rule", id=f"{cid}-undiscovered.rule", score="0")
        etree.SubElement(rule, "expression", id=f"{cid}-undiscovered.rule.0",
                         attribute="#uname", operation="defined")
    livecib.push(env, old, new, f"keeping {pattern} off {node}")


def killed_since(layout: LabLayout, since: float) -> int:
    """How often pacemakerd killed a daemon that did not answer, on any node."""
    return sum(1 for at, line in log_lines(layout)
               if at >= since and "have it killed" in line)


def bare_residents(folder: Path, nodes: int, count: int) -> tuple[float, int]:
    """The residents' baseline, on a lab of its own: ``count`` Dummy primitives without
    probes (as haflow's steps: read.DISCOVERY), kept off VICTIM, 1,000 per change, put
    first in their section (as a submit does); the seconds until all ran, and the
    daemons pacemakerd killed meanwhile."""
    (folder / "bare").mkdir()
    layout = control.layout_for("benchfob", folder / "bare")
    control.up(layout, nodes)
    try:
        ban(layout, "bare-off", "^bare", VICTIM, undiscovered=True)
        env = lab_env(layout)
        began, since = time.monotonic(), time.time()
        per_change = RESIDENT_PER_SUBMIT * RESIDENT_PER_WORKFLOW
        for batch in range(0, count, per_change):
            old = livecib.query(env)
            new = deepcopy(old)
            resources = new.find("configuration/resources")
            assert resources is not None
            for i in range(batch, min(count, batch + per_change)):
                resources.insert(i - batch, etree.Element("primitive", {
                    "id": f"bare{i}", "class": "ocf", "provider": "pacemaker",
                    "type": "Dummy"}))
            livecib.push(env, old, new, "the bare residents")
        left = wait_for(layout, {f"bare{i}" for i in range(count)}, started=True,
                        timeout=RESIDENT_TIMEOUT)
        if left:
            sys.exit(f"the bare residents: {left}")
        return time.monotonic() - began, killed_since(layout, since)
    finally:
        control.teardown(layout)


def resident_steps(layout: LabLayout, folder: Path, count: int, interval: str) -> float:
    """``count`` steps of done workflows, off VICTIM; the seconds until all ran."""
    paths, ids = [], set()
    for w, first_step in enumerate(range(0, count, RESIDENT_PER_WORKFLOW)):
        size = min(RESIDENT_PER_WORKFLOW, count - first_step)
        steps: dict[str, dict[str, object]] = {
            f"s{i}": {"agent": "test", "interval": interval}
            for i in range(size)}
        paths.append(workflow_file(folder, f"res{w}", steps))
        ids |= {f"res{w}.s{i}" for i in range(size)} | {f"res{w}.root"}
    began = time.monotonic()
    for batch in range(0, len(paths), RESIDENT_PER_SUBMIT):
        haflow(layout, "submit", *map(str, paths[batch:batch + RESIDENT_PER_SUBMIT]))
    left = wait_for(layout, ids, started=True, timeout=RESIDENT_TIMEOUT)
    if left:
        sys.exit(f"the resident steps: {left}")
    return time.monotonic() - began


def resident_run(layout: LabLayout, folder: Path, run: int) -> dict[str, float | str]:
    """Submit a one-step workflow, which starts on VICTIM, and measure its failover."""
    wait_idle(layout)  # node1 back from the last run's fencing, nothing in flight
    name = f"fo{run}"
    haflow(layout, "submit", str(workflow_file(folder, name, {"s": {"agent": "test"}})))
    left = wait_for(layout, {f"{name}.s", f"{name}.root"}, started=True, timeout=300)
    if left:
        sys.exit(f"workflow {name}: {left}")
    wait_idle(layout)
    return one_run(layout, f"{name}.s", victim_must_be=VICTIM)


def main() -> int:
    control.end_on_sigterm()  # a killed run still takes its lab down
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--resident", type=int, default=0,
                        help="steps of done workflows resident on the other nodes")
    parser.add_argument("--resident-interval", default="0",
                        help="the resident steps' monitor interval (0: none)")
    args = parser.parse_args()
    if args.resident and args.nodes < 2:
        parser.error("--resident needs at least 2 nodes")
    loaded = bare = 0.0
    kills = bare_kills = 0
    with tempfile.TemporaryDirectory(prefix="haflow-bench-") as root:
        folder = Path(root)
        folder.chmod(0o755)  # the alert agent runs as hacluster: it reads the lab's tree
        if args.resident:
            bare, bare_kills = bare_residents(folder, args.nodes, args.resident)
            # now: a run stopped while haflow's residents load keeps its baseline
            print(f"bare residents: {args.resident} Dummy started in {bare:.0f} s; "
                  f"pacemakerd killed an unresponsive daemon {bare_kills} times", flush=True)
        layout = control.layout_for("benchfo", folder)
        control.up(layout, args.nodes)
        try:
            if args.resident:
                ban(layout, "bench-roots-off", r"\.root$", VICTIM)
                ban(layout, "bench-residents-off", RESIDENT_PATTERN, VICTIM)
                since = time.time()
                loaded = resident_steps(layout, folder, args.resident,
                                        args.resident_interval)
                kills = killed_since(layout, since)
                runs = [resident_run(layout, folder, i) for i in range(args.runs)]
            else:
                control.run_on(layout, "node1", ["pcs", "resource", "create", RESOURCE,
                                                 "ocf:pacemaker:Dummy", "op", "monitor",
                                                 "interval=2s"])
                runs = [one_run(layout, RESOURCE) for _ in range(args.runs)]
        finally:
            control.teardown(layout)
    print(f"failover on a {args.nodes}-node lab: token {runs[0]['token']:.2f} s, "
          f"consensus {runs[0]['consensus']:.2f} s (runtime values, part of the floor)")
    if args.resident:
        print(f"{args.resident} resident steps of done workflows (monitor interval "
              f"{args.resident_interval}), all started {loaded:.0f} s after their submit; "
              "the measured resource: a haflow step")
        print(f"loading the residents: haflow {loaded:.0f} s, bare Dummy {bare:.0f} s "
              f"({loaded / bare:.2f}x); pacemakerd killed an unresponsive daemon "
              f"{kills} times, bare {bare_kills}")
    print(f"{'run':>3} {'crashed':<11} {'measured':>9} {'scheduler':>10} {'fencing':>8} "
          f"{'start':>6} {'floor':>6} {'ratio':>6}")
    for i, r in enumerate(runs, 1):
        print(f"{i:>3} {r['victim']:<11} {r['measured']:>8.2f}s {r['scheduler']:>9.2f}s "
              f"{r['fencing']:>7.2f}s {r['start']:>5.2f}s {r['floor']:>5.2f}s "
              f"{r['ratio']:>5.2f}x")
    ratios = [float(r["ratio"]) for r in runs]
    measured = [float(r["measured"]) for r in runs]
    print(f"median: {statistics.median(measured):.2f} s crash-to-recovered, "
          f"{statistics.median(ratios):.2f}x the floor (goal <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
