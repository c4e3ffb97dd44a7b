"""bench/corosync: a quorum query through haflow's bindings vs ``corosync-quorumtool -s``.

Both run inside a lab node (Corosync's IPC is per node namespace), in the same
run, on the same corosync. The baseline is what haflow would do without the
bindings: spawn ``corosync-quorumtool -s`` and parse it. The bindings are
measured three ways:

- query: ``votequorum_getinfo`` on an open handle (quorate, votes, quorum),
  what a long-lived caller (``haflow watch``, a daemon) pays;
- query+members: the same plus the membership list (trackstart CS_TRACK_CURRENT),
  everything ``corosync-quorumtool -s`` prints;
- connect+query+members+close: a fresh handle each time, what a one-shot
  command pays inside an already running Python.

Goal: query >= 100x faster than the subprocess.

    python bench/corosync.py [--iterations 2000] [--spawns 200] [--lab NAME]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def timed(fn: Callable[[], object], count: int) -> list[float]:
    """Seconds per call, one sample per call."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def worker(iterations: int, spawns: int) -> dict[str, Any]:
    """Runs inside the node: every measurement, as medians in seconds."""
    from haflow.coordinator.corosync import VoteQuorum

    def quorumtool() -> None:
        # exit 0 quorate, 2 not quorate: both are answers
        out = subprocess.run(["corosync-quorumtool", "-s"], capture_output=True, text=True)
        assert "Quorate:" in out.stdout, out.stderr

    def fresh() -> None:
        with VoteQuorum() as vq:
            vq.info()
            vq.current()

    timed(quorumtool, 5)  # warm the page cache for the tool and its libraries
    results: dict[str, list[float]] = {"corosync-quorumtool -s": timed(quorumtool, spawns)}
    with VoteQuorum() as vq:
        timed(vq.info, 100)
        results["query"] = timed(vq.info, iterations)
        results["query+members"] = timed(lambda: (vq.info(), vq.current()), iterations)
    results["connect+query+members+close"] = timed(fresh, max(1, iterations // 4))
    quorate = VoteQuorum().info().quorate
    return {"quorate": quorate,
            "median": {k: statistics.median(v) for k, v in results.items()},
            "p90": {k: sorted(v)[int(len(v) * 0.9)] for k, v in results.items()},
            "samples": {k: len(v) for k, v in results.items()}}  # fmt: skip


def run_in_lab(lab: str, root: Path | None, iterations: int, spawns: int) -> dict[str, Any]:
    from haflow.lab import control

    layout = control.layout_for(lab, root)
    argv = control.node_command(layout, "node1", [sys.executable, str(Path(__file__).resolve()),
                                                  "--worker", "--iterations", str(iterations),
                                                  "--spawns", str(spawns)])
    result = subprocess.run(argv, capture_output=True, text=True, check=True)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def report(data: dict[str, Any], nodes: int) -> None:
    base = data["median"]["corosync-quorumtool -s"]
    print(f"quorum query on node1 of a {nodes}-node lab (quorate: {data['quorate']}), medians:")
    print(f"  {'method':<30} {'median':>10} {'p90':>10} {'samples':>8} {'speed-up':>9}")
    for name, median in data["median"].items():
        print(f"  {name:<30} {median * 1e6:>8.1f}us {data['p90'][name] * 1e6:>8.1f}us "
              f"{data['samples'][name]:>8} {base / median:>8.1f}x")
    ratio = base / data["median"]["query"]
    print(f"bindings query vs corosync-quorumtool -s subprocess: {ratio:.0f}x faster "
          f"(goal >= 100x: {'met' if ratio >= 100 else 'NOT met'})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--spawns", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--lab", default=None, help="use this running lab instead of a new one")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        json.dump(worker(args.iterations, args.spawns), sys.stdout)
        return 0
    if args.lab:
        report(run_in_lab(args.lab, None, args.iterations, args.spawns), args.nodes)
        return 0
    from haflow.lab import control

    control.end_on_sigterm()  # a killed run still takes its lab down
    with tempfile.TemporaryDirectory(prefix="haflow-bench-") as root:
        layout = control.layout_for("benchcs", Path(root))
        control.up(layout, args.nodes)
        try:
            data = run_in_lab(layout.name, Path(root), args.iterations, args.spawns)
        finally:
            control.teardown(layout)
    report(data, args.nodes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
