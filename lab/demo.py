"""The README's first command: a 3-node lab, a node crash, failover, teardown.

Every step prints the ``haflow``/Pacemaker command an admin would type, then
its real output. The lab is always torn down, also when a step fails.
"""

from __future__ import annotations

import sys
import time

from haflow.coordinator.reports import HaflowError
from haflow.lab import control
from haflow.lab.layout import LabLayout

LAB = "demo"
RESOURCE = "demo-service"


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def show(layout: LabLayout, node: str, *argv: str) -> str:
    print(f"$ haflow lab exec --lab {layout.name} {node} -- {' '.join(argv)}", flush=True)
    result = control.run_on(layout, node, list(argv))
    print(result.stdout.rstrip() or result.stderr.rstrip(), flush=True)
    if result.returncode != 0:
        raise SystemExit(f"demo: {' '.join(argv)} failed on {node}")
    return result.stdout


def run(layout: LabLayout) -> None:
    say(f"haflow lab up --lab {LAB} --nodes 3")
    result = control.up(layout, 3)
    print(f"lab {LAB} is up: nodes {', '.join(result['nodes'])} online, DC {result['dc']}, "
          f"in {result['seconds']:.1f} s")
    say("every node online, the lab fence device started")
    show(layout, "node1", "crm_mon", "-1")

    say(f"a resource for the cluster to keep running: {RESOURCE} (ocf:pacemaker:Dummy)")
    show(layout, "node1", "pcs", "resource", "create", RESOURCE, "ocf:pacemaker:Dummy",
         "op", "monitor", "interval=2s")
    view = control.wait_until(layout, "node1", lambda v: bool(v.resources.get(RESOURCE)), 30)
    victim = view.resources[RESOURCE][0]
    survivor = next(n for n in result["nodes"] if n != victim)
    show(layout, survivor, "crm_resource", "--locate", "--resource", RESOURCE)

    say(f"haflow lab crash --lab {LAB} {victim}   (SIGKILL every process: a power cut)")
    crashed_at = time.monotonic()
    print(f"{victim} crashed: {control.crash(layout, victim)['processes_killed']} processes killed")
    view = control.wait_until(
        layout, survivor,
        lambda v: bool(v.resources.get(RESOURCE)) and victim not in v.resources[RESOURCE], 90)
    print(f"{RESOURCE} runs on {view.resources[RESOURCE][0]} again, "
          f"{time.monotonic() - crashed_at:.1f} s after the crash")
    say(f"{victim} was fenced (powered off and on by fence_haflow_lab) before recovery")
    show(layout, survivor, "stonith_admin", "--history", victim)
    control.wait_until(layout, survivor, lambda v: victim in v.online, 90)
    show(layout, survivor, "crm_mon", "-1")


def main() -> int:
    layout = control.layout_for(LAB)
    if control.exists(layout):
        say(f"removing the lab {LAB!r} left by an earlier run")
        control.teardown(layout)
    try:
        run(layout)
    except HaflowError as err:
        print(f"demo: {err}", file=sys.stderr)
        return int(err.exit_code)
    finally:
        if control.exists(layout):
            say(f"haflow lab down --lab {LAB}")
            down = control.down(layout)
            print(f"lab {LAB} is down: {down['processes_killed']} processes ended, "
                  f"{down['namespaces_removed']} namespaces removed")
    say("demo complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
