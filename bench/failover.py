"""bench/failover: crash the node running a resource; time until it runs elsewhere.

Prints each run beside its floor: what no implementation on this corosync
configuration can beat, read from the same run's logs and configuration:

    floor = token timeout + consensus timeout + fencing duration + start duration

and the ratio measured / floor (goal: <= 1.5). Times come from Pacemaker's own
log timestamps, so polling does not add noise.

    python bench/failover.py [--runs 5] [--nodes 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from haflow.lab import control
from haflow.lab.layout import LabLayout

RESOURCE = "bench-failover"
STAMP = re.compile(r"^(\w{3} +\d+ [\d:.]+) ")


def log_lines(layout: LabLayout) -> list[tuple[float, str]]:
    """Every node's pacemaker.log, as (epoch seconds, line), in time order."""
    year = datetime.now().year
    lines = []
    for node in control.nodes_of(layout):
        path = layout.node_dir(node) / "fs/var/log/pacemaker/pacemaker.log"
        for line in path.read_text(errors="replace").splitlines():
            match = STAMP.match(line)
            if match:
                text = f"{year} {match.group(1)}"
                # Pacemaker's own lines have microseconds; agents' lines (ocf_log) do not
                fmt = "%Y %b %d %H:%M:%S.%f" if "." in text else "%Y %b %d %H:%M:%S"
                stamp = datetime.strptime(text, fmt)
                lines.append((stamp.timestamp(), line))
    return sorted(lines)


def first(lines: list[tuple[float, str]], after: float, *needles: str) -> float:
    for stamp, line in lines:
        if stamp >= after and all(n in line for n in needles):
            return stamp
    raise LookupError(f"no log line after {after} with {needles}")


def totem(layout: LabLayout, key: str) -> float:
    out = control.run_on(layout, "node1", ["corosync-cmapctl", "-g", f"runtime.config.totem.{key}"])
    return int(out.stdout.split("=")[-1]) / 1000.0


def one_run(layout: LabLayout) -> dict[str, float | str]:
    view = control.wait_until(layout, "node1", lambda v: len(v.resources.get(RESOURCE, [])) == 1
                              and len(v.online) == len(control.nodes_of(layout)), 90)
    victim = view.resources[RESOURCE][0]
    survivor = next(n for n in control.nodes_of(layout) if n != victim)
    was_dc = victim == view.dc
    crashed_at = time.time()
    control.crash(layout, victim)
    control.wait_until(layout, survivor, lambda v: bool(v.resources.get(RESOURCE))
                       and victim not in v.resources[RESOURCE], 90)
    time.sleep(1)  # let the log lines land
    lines = log_lines(layout)
    fence_asked = first(lines, crashed_at, "Requesting fencing (reboot) of node", victim)
    fence_done = first(lines, fence_asked, "was terminated (reboot)", f"Peer {victim}")
    start_asked = first(lines, fence_done, "Requesting local execution of start operation for",
                        RESOURCE)
    started = first(lines, start_asked, "Result of start operation for", RESOURCE, ": ok")
    # corosync scales the configured token with the node count (token_coefficient)
    token, consensus = totem(layout, "token"), totem(layout, "consensus")
    floor = token + consensus + (fence_done - fence_asked) + (started - start_asked)
    measured = started - crashed_at
    return {"victim": victim + (" (DC)" if was_dc else ""), "measured": measured,
            "fencing": fence_done - fence_asked, "start": started - start_asked,
            "floor": floor, "ratio": measured / floor, "token": token, "consensus": consensus}


def main() -> int:
    control.end_on_sigterm()  # a killed run still takes its lab down
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="haflow-bench-") as root:
        layout = control.layout_for("benchfo", Path(root))
        control.up(layout, args.nodes)
        try:
            control.run_on(layout, "node1", ["pcs", "resource", "create", RESOURCE,
                                             "ocf:pacemaker:Dummy", "op", "monitor",
                                             "interval=2s"])
            runs = [one_run(layout) for _ in range(args.runs)]
        finally:
            control.teardown(layout)
    print(f"failover on a {args.nodes}-node lab: token {runs[0]['token']:.2f} s, "
          f"consensus {runs[0]['consensus']:.2f} s (runtime values, part of the floor)")
    print(f"{'run':>3} {'crashed':<11} {'measured':>9} {'fencing':>8} {'start':>6} "
          f"{'floor':>6} {'ratio':>6}")
    for i, r in enumerate(runs, 1):
        print(f"{i:>3} {r['victim']:<11} {r['measured']:>8.2f}s {r['fencing']:>7.2f}s "
              f"{r['start']:>5.2f}s {r['floor']:>5.2f}s {r['ratio']:>5.2f}x")
    ratios = [float(r["ratio"]) for r in runs]
    measured = [float(r["measured"]) for r in runs]
    print(f"median: {statistics.median(measured):.2f} s crash-to-recovered, "
          f"{statistics.median(ratios):.2f}x the floor (goal <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
