"""``remove``: delete an undone workflow from the cluster, in one change, safely.

The safety checks are made here, from the cluster's state, for every caller:
nothing of the workflow may still run, and a step whose effect may remain
(failed or blocked without an undo) is only removed with ``force``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from haflow.coordinator.cluster import live_view, livecib
from haflow.coordinator.cluster.quorum import require_quorum
from haflow.coordinator.codes import Code
from haflow.coordinator.commands.workflow_cib import require_workflow, without
from haflow.coordinator.reports import error
from haflow.encoding import tickets

if TYPE_CHECKING:
    from haflow.coordinator.cluster.env import Env

FORGET_TIMEOUT = 30.0  # seconds for Pacemaker to forget a failed stop once cleaned up


def remove(env: Env, workflow: str, force: bool = False) -> list[str]:
    """Delete the workflow once nothing of it runs; returns the steps whose effect may
    remain (failed or blocked without an undo), which only ``force`` accepts."""
    from haflow.coordinator import status
    from haflow.coordinator.status import StepState

    require_quorum(env, f"remove workflow '{workflow}'")
    cib, mon = live_view.read_live(env)
    require_workflow(cib, workflow)
    wf = status.workflow_status(cib, mon, workflow)
    parsed = status.parse_mon(mon)

    def active(resource: str) -> bool:
        return parsed.resource(resource).not_stopped

    # the root has no effect of its own: it does not count; a blocked step is a
    # leftover, not something still running
    running = [s.resource for s in wf.steps if s.state != StepState.BLOCKED and active(s.resource)]
    if running:
        raise error(Code.WORKFLOW_RUNNING, f"workflow '{workflow}' still runs "
                    f"({', '.join(running)}); abort it and wait until it is undone, then "
                    "remove it")
    leftovers = [f"{s.name} ({s.state.value}{' on ' + s.node if s.node else ''})"
                 for s in wf.steps if s.state == StepState.BLOCKED
                 or (s.state == StepState.FAILED and not wf.aborted)]
    if leftovers and not force:
        raise error(Code.EFFECTS_REMAIN, f"workflow '{workflow}' has steps that failed without "
                    f"being undone, their effects may remain: {', '.join(leftovers)}; "
                    "clean them up (or 'haflow retry' then 'haflow abort'), or remove with "
                    "--force")
    # blocked steps Pacemaker still counts as active because their stop failed
    failed_stops = [s.resource for s in wf.steps
                    if s.state == StepState.BLOCKED and active(s.resource)]
    if failed_stops:
        forget_failed_stops(env, workflow, failed_stops)
    old = live_view.query(env)
    require_workflow(old, workflow)
    new = without(old, workflow)
    tickets.forget_tickets(new, workflow)  # its approvals go with it
    livecib.push(env, old, new, f"removing workflow '{workflow}'")
    livecib.compact_status(env)  # and what its steps recorded under <status>
    return leftovers


def forget_failed_stops(env: Env, workflow: str, resources: list[str]) -> None:
    """Make Pacemaker forget the failed stops of ``resources`` before they are deleted.

    A deleted resource whose last stop failed is an orphan Pacemaker cannot
    know stopped, and it fences the node for it (crm_simulate shows the
    fencing). Cleaned up while still configured (target-role Stopped, no
    probe for haflow steps), it is simply stopped. A foreign step is probed
    again; if its stop fails again it stays, and nothing is deleted.
    """
    from haflow.coordinator import status

    for rid in resources:
        env.run(["crm_resource", "--cleanup", "--resource", rid])
    deadline = time.monotonic() + FORGET_TIMEOUT
    while True:
        _, mon = live_view.read_live(env)
        parsed = status.parse_mon(mon)
        still = [r for r in resources if parsed.resource(r).not_stopped]
        if not still:
            return
        if time.monotonic() > deadline:
            raise error(Code.STOP_STILL_FAILED, f"workflow '{workflow}': the failed stop of "
                        f"{', '.join(still)} did not clear; not removing it (Pacemaker would "
                        "fence its node for a deleted resource whose stop failed)")
        time.sleep(0.5)
