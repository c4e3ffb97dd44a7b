"""Submitting a workflow: ``haflow submit`` against the equivalent pcs script.

In one run, on a 1-node lab held in maintenance mode (so that the measure is
the configuration change, not 500 resources starting): workflows of 50 and
500 steps applied with ``haflow submit`` and with the script ``haflow export
--pcs`` writes (pcs -f, one command per resource and constraint, then one
cib-push), each timed until the CIB holds the whole configuration. Then, out
of maintenance mode, ``haflow status`` on each workflow running (every step
started, Pacemaker settled), and each part of that status timed on its own on
the node (bench/status.py --live). All run on the node, as an admin runs them
(haflow's median of 3); haflow from the host through ``--lab`` (every tool
call through nsenter, the quorum check in a second interpreter inside the
node) is shown beside, for reference. Goals: ≥ 100×
faster than pcs at 50 steps, 500 steps in < 1 s, status on 500 steps < 0.5 s.

    python bench/submit.py [--steps 50 500]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from haflow.coordinator.cluster import livecib
from haflow.coordinator.commands.workflow_cib import without
from haflow.encoding import read
from haflow.lab import control
from haflow.lab.layout import LabLayout
from haflow.lab.workload import lab_env


def workflow_file(folder: Path, name: str, steps: int) -> Path:
    """Chains of 10 Dummy steps, as many as make ``steps``."""
    body = {}
    for i in range(steps):
        step = {"agent": "ocf:pacemaker:Dummy"}
        if i % 10:
            step["after"] = [f"s{i - 1}"]
        body[f"s{i}"] = step
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"name": name, "steps": body}))
    return path


RUNS = 3


def haflow(layout: LabLayout, *args: str, ok: tuple[int, ...] = (0,),
           on_node: bool = True) -> float:
    """Seconds one haflow command takes: on node1 (as an admin runs it), or from the
    host through ``--lab``."""
    argv: list[str] = [sys.executable, "-m", "haflow.coordinator.cli", *args]
    if on_node:
        argv = control.node_command(layout, "node1", argv)
    else:
        argv += ["--lab", layout.name, "--lab-root", str(layout.root)]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode not in ok:
        sys.exit(f"haflow {' '.join(args)} failed: {done.stderr}")
    return took


def submitted(layout: LabLayout, path: Path, name: str, ids: int, on_node: bool) -> float:
    """Median seconds of RUNS submits of ``path``, each checked complete and cleared."""
    took = []
    for _ in range(RUNS):
        took.append(haflow(layout, "submit", str(path), on_node=on_node))
        assert complete(layout, name, ids), "haflow submit left the CIB incomplete"
        clear(layout, name)
    return statistics.median(took)


def status_time(layout: LabLayout, name: str, on_node: bool) -> float:
    """Median seconds of ``haflow status``; exit 0: the workflow is done, nothing wrong."""
    return statistics.median(haflow(layout, "status", name, on_node=on_node)
                             for _ in range(RUNS))


def status_parts(layout: LabLayout, name: str) -> dict[str, float]:
    """Seconds of each part of ``haflow status``, timed on the node (bench/status.py
    --live): which part a regression is in shows the next time this runs."""
    argv = control.node_command(layout, "node1", [
        sys.executable, str(Path(__file__).resolve().with_name("status.py")), "--live", name])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"bench/status.py --live {name} failed: {done.stderr[-500:]}")
    parts: dict[str, float] = json.loads(done.stdout)
    return parts


def complete(layout: LabLayout, name: str, ids: int) -> bool:
    cib = livecib.query(lab_env(layout))
    return sum(1 for e in read.elements_of(cib, name) for x in e.iter() if x.get("id")) \
        >= ids


def clear(layout: LabLayout, name: str) -> None:
    env = lab_env(layout)
    old = livecib.query(env)
    livecib.push(env, old, without(old, name), "clearing the bench workflow")


def main() -> int:
    control.end_on_sigterm()  # a killed run still takes its lab down
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--pcs-up-to", type=int, default=None,
                        help="run the pcs script only up to this many steps (it takes ~1 s "
                        "a step)")
    args = parser.parse_args()
    rows: list[tuple[int, float, float, float | None]] = []
    statuses: dict[int, tuple[float, float]] = {}
    parts: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="haflow-bench-") as root:
        folder = Path(root)
        layout = control.layout_for("benchsub", folder)
        control.up(layout, 1)
        try:
            control.run_on(layout, "node1", ["pcs", "property", "set", "maintenance-mode=true"])
            paths = {steps: workflow_file(folder, f"bench{steps}", steps) for steps in args.steps}
            for steps, path in paths.items():
                rows.append(submits(layout, folder, path, steps, args.pcs_up_to))
            # status of workflows that run, as an admin asks it: out of maintenance mode
            # (Pacemaker also forgets the cleared copies), every step started
            control.run_on(layout, "node1", ["pcs", "property", "set", "maintenance-mode=false"])
            settle(layout)
            for steps, path in paths.items():
                haflow(layout, "submit", str(path))
                settle(layout)
                statuses[steps] = (status_time(layout, f"bench{steps}", on_node=True),
                                   status_time(layout, f"bench{steps}", on_node=False))
                parts[steps] = status_parts(layout, f"bench{steps}")
        finally:
            control.teardown(layout)
    print("submit until the CIB holds the whole workflow (1-node lab, maintenance mode);\n"
          "status of the running workflows, all steps started;\n"
          "run on the node (from the host with --lab in brackets)\n")
    print(f"{'steps':>6}{'haflow submit':>22}{'pcs script':>12}{'pcs ÷ haflow':>14}"
          f"{'haflow status':>22}")
    for steps, ours, via_lab, theirs in rows:
        pcs = f"{theirs:>11.2f}s{theirs / ours:>13.0f}×" if theirs else f"{'-':>12}{'-':>14}"
        status, status_via_lab = statuses[steps]
        print(f"{steps:>6}{ours:>12.2f}s ({via_lab:.2f}s){pcs}"
              f"{status:>12.2f}s ({status_via_lab:.2f}s)")
    print("\ngoals: ≥ 100× faster than pcs at 50 steps; 500 steps < 1 s; status on 500 "
          "steps < 0.5 s (all times include starting the command)")
    print("\nhaflow status, part by part on the node (bench/status.py --live; cibadmin and "
          "the local node id run side by side; crm_mon only runs when the CIB alone does "
          "not tell, never for these settled workflows):")
    print(f"{'':>38}" + "".join(f"{f'{steps} steps':>12}" for steps in parts))
    for part in next(iter(parts.values()), {}):
        print(f"  {part:<36}" + "".join(f"{p[part]:>11.3f}s" for p in parts.values()))
    return 0


def submits(layout: LabLayout, folder: Path, path: Path, steps: int,
            pcs_up_to: int | None) -> tuple[int, float, float, float | None]:
    """(steps, haflow on the node, haflow through --lab, the pcs script or None)."""
    from haflow.coordinator.workflow.compiler import compile_workflow
    from haflow.coordinator.workflow.loader import load

    name = f"bench{steps}"
    ids = len(compile_workflow(load(path)).ids())
    ours = submitted(layout, path, name, ids, on_node=True)
    via_lab = submitted(layout, path, name, ids, on_node=False)
    if pcs_up_to is not None and steps > pcs_up_to:
        return steps, ours, via_lab, None
    script = folder / f"{name}.sh"
    subprocess.run([sys.executable, "-m", "haflow.coordinator.cli", "export",
                    "--pcs", str(path), "-o", str(script)], check=True)
    started = time.perf_counter()
    pcs = control.run_on(layout, "node1", ["sh", str(script)], timeout=3600)
    theirs = time.perf_counter() - started
    if pcs.returncode != 0:
        sys.exit(f"the pcs script failed: {pcs.stderr[-500:]}")
    assert complete(layout, name, ids), "the pcs script left the CIB incomplete"
    clear(layout, name)
    return steps, ours, via_lab, theirs


def settle(layout: LabLayout) -> None:
    """Wait until Pacemaker has nothing left to do (every start and probe has run)."""
    control.run_on(layout, "node1", ["crm_resource", "--wait", "--timeout=600"], timeout=630)


if __name__ == "__main__":
    sys.exit(main())
