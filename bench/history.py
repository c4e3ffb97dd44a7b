"""What the history costs the scheduler: workflows started with and without haflow's alert.

Every CIB configuration change makes Pacemaker's controller abort its transition and
schedule again, so one history write per step event made 300 steps start 3-4× slower
(agents/alert/spool.py). On a 1-node lab, in one run: a workflow of N steps (chains of
10) is submitted in maintenance mode, the alert removed or kept, and timed from the end
of maintenance mode until every step runs, then aborted, waited for and removed.

- haflow's ``test`` steps: their start carries its history record in the write of its
  outputs (agents/step.py), the alert skips it; against no alert at all.
- ``ocf:pacemaker:Dummy`` steps: the alert spools their events (one write every 3 s);
  against no alert at all.

The ratio is the cost of the history; goal: ``test`` steps ≈ 1× (no write of their own).
Beside it, the configuration writes (CIB changes outside the status section, from the
node's log) made while the steps started: for ``test`` steps the alert adds none.

    python bench/history.py [--steps 300]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from haflow.coordinator.commands.abort import abort
from haflow.coordinator.commands.remove import remove
from haflow.coordinator.commands.submit import submit
from haflow.coordinator.commands.wait import wait
from haflow.coordinator.workflow.loader import loads
from haflow.lab import control
from haflow.lab.layout import LabLayout
from haflow.lab.workload import lab_env


def workflow(name: str, steps: int, agent: str, state: Path) -> str:
    body = {}
    for i in range(steps):
        step: dict[str, object] = {"agent": agent}
        if agent == "test":
            step["params"] = {"state_dir": str(state)}
        if i % 10:
            step["after"] = [f"s{i - 1}"]
        body[f"s{i}"] = step
    return json.dumps({"name": name, "steps": body})


def running(layout: LabLayout, name: str) -> int:
    done = control.run_on(layout, "node1", ["crm_mon", "-1", "--output-as=xml"])
    mon = ET.fromstring(done.stdout)
    return sum(1 for r in mon.iter("resource") if r.get("id", "").startswith(f"{name}.s")
               and r.get("role") == "Started")


def log_lines(layout: LabLayout) -> list[str]:
    log = layout.node_dir("node1") / "fs/var/log/pacemaker/pacemaker.log"
    return log.read_text(errors="replace").splitlines()


def configuration_writes(lines: list[str]) -> int:
    """CIB changes outside the status section (each aborts the transition in flight)."""
    return sum(1 for line in lines if "Completed cib_" in line and "cib_query" not in line
               and "section status" not in line and "(rc=0" in line)


def started_in(layout: LabLayout, name: str, text: str, steps: int,
               alert: bool) -> tuple[float, int]:
    """Seconds until every step runs, and the configuration writes meanwhile."""
    env = lab_env(layout)
    control.run_on(layout, "node1", ["pcs", "property", "set", "maintenance-mode=true"])
    submit(env, loads(text, f"{name}.json"))
    if not alert:
        control.run_on(layout, "node1", ["cibadmin", "--delete", "--xml-text",
                                         '<alert id="haflow-alert"/>'])
    began = time.monotonic()
    control.run_on(layout, "node1", ["pcs", "property", "set", "maintenance-mode=false"])
    first = len(log_lines(layout))
    while running(layout, name) < steps:
        time.sleep(0.5)
    took = time.monotonic() - began
    writes = configuration_writes(log_lines(layout)[first:])
    abort(env, name)
    wait(env, name, timeout=900)
    remove(env, name, force=True)
    return took, writes


def main() -> int:
    control.end_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="haflow-bench-") as root:
        layout = control.layout_for("benchhist", Path(root))
        state = Path(root) / "state"
        state.mkdir()
        control.up(layout, 1)
        try:
            for agent in ("test", "ocf:pacemaker:Dummy"):
                times, writes = {}, {}
                for alert in (False, True):
                    name = f"h{'a' if alert else 'n'}{agent.rsplit(':', 1)[-1].lower()}"
                    text = workflow(name, args.steps, agent, state)
                    times[alert], writes[alert] = started_in(layout, name, text, args.steps,
                                                             alert)
                    print(f"... {agent} {'with' if alert else 'without'} the alert: "
                          f"{times[alert]:.1f} s, {writes[alert]} configuration writes",
                          file=sys.stderr, flush=True)
                rows.append((agent, times[False], times[True], writes[False], writes[True]))
        finally:
            control.teardown(layout)
    print(f"{args.steps} steps (chains of 10) started on a 1-node lab, from the end of "
          "maintenance mode until all run\n")
    print(f"{'steps of':<22}{'no alert':>10}{'history':>10}{'ratio':>8}"
          f"{'writes without':>16}{'with':>6}")
    for agent, bare, history, plain, recorded in rows:
        print(f"{agent:<22}{bare:>9.1f}s{history:>9.1f}s{history / bare:>7.2f}×"
              f"{plain:>16}{recorded:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
