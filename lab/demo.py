"""The README's first command: a workflow's whole life on a 3-node lab.

A lab comes up; a tenant-provisioning workflow is validated, planned and
submitted — a VM (the test agent), an address on the lab network (the stock
``ocf:heartbeat:IPaddr2``), its configuration (shell commands, using the VM's
id as output of the first step) and an announcement. It completes; the node
running a step is crashed, fenced, and the step is adopted on a survivor
(one effect, not two); the workflow is aborted and every step is undone in
reverse order. Every step prints the command an admin would type, then its
real output. The lab is always torn down, also when a step fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from haflow.agents.alert.spool import FLUSH_DELAY
from haflow.coordinator.reports import HaflowError
from haflow.lab import control, records
from haflow.lab.layout import LabLayout
from haflow.lab.workload import last_fenced, wait_fenced, wait_for, wait_healthy

LAB = "demo"
WORKFLOW = "tenant"
ADDRESS = "10.99.0.200"

WORKFLOW_TEXT = """\
name: tenant
description: provision a tenant - a VM, its address, its configuration
failure_policy: rollback
steps:
  vm:
    agent: test                  # stands in for a cloud API call; records what it does
    params: {{state_dir: {state}, duration: 3, output: acme}}
  address:
    agent: ocf:heartbeat:IPaddr2 # any installed OCF agent is a step
    params: {{ip: {address}, cidr_netmask: "24"}}
    interval: 10s
  configure:
    agent: exec
    after: [vm]
    params:
      do: >-
        echo "configured ${{steps.vm.id}}" > {state}/config &&
        echo "vm=${{steps.vm.id}}" >> "$HAFLOW_OUTPUTS"
      check: test -e {state}/config
      undo: rm -f {state}/config
  announce:
    agent: test
    after: [configure, address]
    params: {{state_dir: {state}, output: "tenant ready on ${{steps.configure.vm}}"}}
"""


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def haflow(layout: LabLayout, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    """Run the real CLI against the lab, as an admin would, and show its output."""
    print(f"$ haflow {' '.join(args)}", flush=True)
    argv = [sys.executable, "-m", "haflow.coordinator.cli", *args]
    result = subprocess.run(argv, capture_output=True, text=True,
                            env=dict(os.environ, HAFLOW_LAB=layout.name,
                                     HAFLOW_LAB_ROOT=str(layout.root)))
    print((result.stdout + result.stderr).rstrip(), flush=True)
    if result.returncode not in ok:
        raise SystemExit(f"demo: haflow {' '.join(args)} exited {result.returncode}")
    return result.stdout


def show(layout: LabLayout, node: str, *argv: str) -> str:
    print(f"$ haflow lab exec {node} -- {' '.join(argv)}", flush=True)
    result = control.run_on(layout, node, list(argv))
    print(result.stdout.rstrip() or result.stderr.rstrip(), flush=True)
    return result.stdout


def where(layout: LabLayout, node: str, step: str) -> str | None:
    view = control.cluster_view(layout, node)
    nodes = view.resources.get(f"{WORKFLOW}.{step}", []) if view else []
    return nodes[0] if nodes and view and view.roles.get(f"{WORKFLOW}.{step}") == "Started" \
        else None


def run(layout: LabLayout) -> None:
    say(f"haflow lab up --lab {layout.name} --nodes 3")
    result = control.up(layout, 3)
    print(f"lab {layout.name} is up: nodes {', '.join(result['nodes'])} online, DC {result['dc']}, "
          f"in {result['seconds']:.1f} s")
    show(layout, "node1", "crm_mon", "-1")

    state = layout.dir / "tenant-state"  # shared by the nodes, like a cloud's API would be
    state.mkdir()
    path = layout.dir / "tenant.yaml"
    path.write_text(WORKFLOW_TEXT.format(state=state, address=ADDRESS))
    say(f"the workflow, {path}")
    print(path.read_text().rstrip())
    haflow(layout, "validate", str(path))
    say("what Pacemaker will do, before anything changes")
    haflow(layout, "plan", str(path))

    say("submit it (one atomic CIB change) and wait until it is done")
    haflow(layout, "submit", str(path), "--wait", "--timeout", "120")
    haflow(layout, "status", WORKFLOW)
    show(layout, "node1", "crm_mon", "-1", f"--resource={WORKFLOW}")

    victim = where(layout, "node1", "configure") or "node2"
    survivor = next(n for n in result["nodes"] if n != victim)
    say(f"haflow lab crash {victim}   (the node running step 'configure' loses power)")
    fenced_before = last_fenced(layout, survivor, victim)
    crashed_at = time.monotonic()
    control.crash(layout, victim)
    wait_fenced(layout, survivor, victim, fenced_before)
    moved = wait_for("configure started elsewhere",
                     lambda: (n := where(layout, survivor, "configure")) != victim and n, 120)
    print(f"{victim} was fenced; 'configure' runs on {moved} again, "
          f"{time.monotonic() - crashed_at:.1f} s after the crash (its effect adopted, "
          "not made twice)")
    haflow(layout, "wait", WORKFLOW, "--timeout", "120", "--node", survivor)
    haflow(layout, "status", WORKFLOW, "--node", survivor)
    wait_healthy(layout)

    say("abort: Pacemaker undoes every step, in reverse dependency order")
    haflow(layout, "abort", WORKFLOW)
    haflow(layout, "wait", WORKFLOW, "--timeout", "120", ok=(8,))  # 8: rolled back
    say("what the VM steps did, and where (the test agent's own records)")
    for record in records.read(state):
        print(f"  {time.strftime('%H:%M:%S', time.localtime(record.time))} {record.node:<6} "
              f"{record.resource:<18} {record.event:<6} {record.detail}")
    time.sleep(FLUSH_DELAY + 1)  # the alert agent writes what went well every few seconds
    haflow(layout, "history", WORKFLOW)
    haflow(layout, "remove", WORKFLOW)


def main(argv: list[str] | None = None) -> int:
    control.end_on_sigterm()  # a killed run still takes its lab down
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default=LAB, help=f"the lab's name (default: {LAB})")
    layout = control.layout_for(parser.parse_args(argv).lab)  # under $HAFLOW_LAB_ROOT
    if control.exists(layout):
        say(f"removing the lab {layout.name!r} left by an earlier run")
        control.teardown(layout)
    try:
        run(layout)
    except HaflowError as err:
        print(f"demo: {err}", file=sys.stderr)
        return int(err.exit_code)
    finally:
        if control.exists(layout):
            say(f"haflow lab down --lab {layout.name}")
            down = control.down(layout)
            print(f"lab {layout.name} is down: {down['processes_killed']} processes ended, "
                  f"{down['namespaces_removed']} namespaces removed")
    say("demo complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
