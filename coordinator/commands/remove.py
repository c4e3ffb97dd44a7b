"""``remove``: delete an undone workflow from the cluster, in one change, safely."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from haflow.coordinator.cluster.env import Env


def remove(env: Env, workflow: str, force: bool = False) -> list[str]:
    """Delete the workflow once nothing of it runs; returns the steps whose effect may
    remain (failed or blocked without an undo), which only ``force`` accepts."""
    from haflow.coordinator import status, workflows
    from haflow.coordinator.cluster import live_view
    from haflow.coordinator.status import StepState

    cib, mon = live_view.read_live(env)
    workflows.require_workflow(cib, workflow)
    wf = status.workflow_status(cib, mon, workflow)
    parsed = status.parse_mon(mon)

    def active(resource: str) -> bool:
        found = parsed.resources.get(resource)
        return found is not None and found.active

    # the root has no effect of its own: it does not count; a blocked step is a
    # leftover, not something still running
    running = [s.resource for s in wf.steps if s.state != StepState.BLOCKED and active(s.resource)]
    leftovers = [f"{s.name} ({s.state.value}{' on ' + s.node if s.node else ''})"
                 for s in wf.steps if s.state == StepState.BLOCKED
                 or (s.state == StepState.FAILED and not wf.aborted)]
    failed_stops = [s.resource for s in wf.steps
                    if s.state == StepState.BLOCKED and active(s.resource)]
    workflows.remove(env, workflow, running, force=force, leftovers=leftovers,
                     failed_stops=failed_stops)
    return leftovers
