"""The fault suite's figures: every scenario, N runs, on a lab of its own.

For each scenario of ``haflow.lab.faults``: runs, workflows, workflows lost,
effects duplicated, undos skipped, history events lost (hist), undos run before
a dependent's (order), median and max recovery time (from the
fault until every workflow is back in the state its policy promises), and for
the scenarios where a node is lost, recovery as a ratio of the floor: what
no implementation on this corosync configuration can beat, token timeout +
consensus timeout + fencing (from Pacemaker's logs of that run) + one step's
start. This is the table the README's reliability section quotes.

    python bench/faults.py [--runs 3] [--nodes 3] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from labbench import first, log_lines, totem

from haflow.coordinator.reports import HaflowError
from haflow.lab import control
from haflow.lab.audit import Audit
from haflow.lab.faults import SCENARIOS, run_scenario
from haflow.lab.layout import LabLayout

NODE_LOSS = ("crash-start", "crash-monitor", "crash-dc", "isolate-node", "isolate-dc")
STEP_START = 0.1  # the test agent's start with no duration, as measured in its records


def fencing_seconds(layout: LabLayout, since: float) -> float | None:
    lines = log_lines(layout)
    try:
        asked = first(lines, since, "Requesting fencing")
        done = first(lines, asked, "was terminated")
    except LookupError:
        return None
    return done - asked


def main() -> int:
    control.end_on_sigterm()  # a killed run still takes its lab down
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=None, help="scenario names")
    args = parser.parse_args()
    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only]
    rows = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="haflow-bench-") as root:
        layout = control.layout_for("benchflt", Path(root))
        control.up(layout, args.nodes)
        try:
            token, consensus = totem(layout, "token"), totem(layout, "consensus")
            for scenario in chosen:
                total, recoveries, ratios = Audit(), [], []
                for seed in range(args.runs):
                    began = time.time()
                    try:
                        result = run_scenario(layout, scenario, Path(root) / "state", seed)
                    except (AssertionError, HaflowError) as failed_run:
                        # the run's workflows were cleaned up: the next ones go on, and
                        # the table still comes out (a failure once stopped it)
                        failures.append(f"{scenario.name} run {seed + 1}: {failed_run}")
                        print(f"... {failures[-1]}", file=sys.stderr, flush=True)
                        continue
                    total.merge(result.audit)
                    if result.recovery is not None:
                        recoveries.append(result.recovery)
                        fence = fencing_seconds(layout, began)
                        if scenario.name in NODE_LOSS and fence is not None:
                            floor = token + consensus + fence + STEP_START
                            ratios.append(result.recovery / floor)
                rows.append((scenario.name, args.runs, total, recoveries, ratios))
                print(f"... {scenario.name}: {total.summary()}", file=sys.stderr, flush=True)
        finally:
            control.teardown(layout)
    print(f"fault suite on a {args.nodes}-node lab, {args.runs} runs per scenario "
          f"(token {token:.2f} s, consensus {consensus:.2f} s)\n")
    print(f"{'scenario':<19}{'runs':>5}{'wfs':>5}{'lost':>5}{'dup':>5}{'skip':>5}"
          f"{'hist':>5}{'order':>6}{'median s':>10}{'max s':>8}{'× floor':>9}")
    failed = False
    for name, runs, total, recoveries, ratios in rows:
        med = f"{statistics.median(recoveries):.1f}" if recoveries else "-"
        top = f"{max(recoveries):.1f}" if recoveries else "-"
        ratio = f"{statistics.median(ratios):.2f}" if ratios else "-"
        print(f"{name:<19}{runs:>5}{total.workflows:>5}{len(total.lost):>5}"
              f"{len(total.duplicated):>5}{len(total.skipped_undos):>5}"
              f"{len(total.history_lost):>5}{len(total.order_violations):>6}{med:>10}{top:>8}"
              f"{ratio:>9}")
        failed = failed or not total.ok
    for failure in failures:
        print(f"FAILED {failure}")
    return 1 if failed or failures else 0


if __name__ == "__main__":
    sys.exit(main())
