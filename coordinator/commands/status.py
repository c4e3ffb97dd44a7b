"""``status`` and ``list``: the cluster's state read back as workflow state."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from haflow.coordinator.cluster.env import Env
    from haflow.coordinator.status import WorkflowStatus


def statuses(env: Env, workflow: str | None = None, sync_wait: float | None = None
             ) -> list[WorkflowStatus]:
    """Every workflow's status, or only ``workflow``'s (not found: HaflowError), from a
    synced view (``sync_wait``: how long to wait for one, default live_view.SYNC_WAIT)."""
    from haflow.coordinator import status
    from haflow.coordinator.cluster import live_view
    from haflow.encoding.read import root_of

    cib, snapshot = live_view.read_synced(
        env, live_view.SYNC_WAIT if sync_wait is None else sync_wait)
    # crm_mon only where the status section alone does not tell (0.23 s of 0.55 s on
    # 500 running steps): on the same snapshot, so both halves are of one CIB
    mon = status.view_from_cib(cib)
    if mon is None:
        mon = status.parse_mon(live_view.mon_of(env, snapshot))
    if workflow is not None:
        if root_of(cib, workflow) is None:  # the compiler's import is for the rare case
            from haflow.coordinator.commands.workflow_cib import require_workflow

            require_workflow(cib, workflow)
        return [status.workflow_status(cib, mon, workflow)]
    return status.all_status(cib, mon)
