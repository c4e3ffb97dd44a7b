"""``status`` and ``list``: the cluster's state read back as workflow state."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lxml import etree

    from haflow.coordinator.cluster.env import Env
    from haflow.coordinator.status import Mon, WorkflowStatus


def statuses(env: Env, workflow: str | None = None, sync_wait: float | None = None
             ) -> list[WorkflowStatus]:
    """Every workflow's status, or only ``workflow``'s (not found: HaflowError), from a
    synced view (``sync_wait``: how long to wait for one, default live_view.SYNC_WAIT)."""
    from haflow.coordinator.cluster import live_view

    cib, snapshot = live_view.read_synced(
        env, live_view.SYNC_WAIT if sync_wait is None else sync_wait)
    mon = view_of(env, cib, snapshot)
    if workflow is None:
        return all_statuses(cib, mon)
    return [one_status(cib, mon, workflow)]


def view_of(env: Env, cib: etree._Element, snapshot: str) -> Mon:
    """The resources' roles in ``cib``: crm_mon only where the status section alone does
    not tell (0.23 s of 0.55 s on 500 running steps), on the same snapshot, so both halves
    are of one CIB."""
    from haflow.coordinator import status
    from haflow.coordinator.cluster import live_view

    mon = status.view_from_cib(cib)
    return mon if mon is not None else status.parse_mon(live_view.mon_of(env, snapshot))


def all_statuses(cib: etree._Element, mon: etree._Element | Mon) -> list[WorkflowStatus]:
    """Every workflow's status in a CIB and crm_mon's view of it, by name."""
    from haflow.coordinator import status

    return status.all_status(cib, mon)


def one_status(cib: etree._Element, mon: etree._Element | Mon, workflow: str
               ) -> WorkflowStatus:
    """``workflow``'s status in a CIB and crm_mon's view of it (not found: HaflowError)."""
    from haflow.coordinator import status
    from haflow.encoding.read import root_of

    if root_of(cib, workflow) is None:  # the compiler's import is for the rare case
        from haflow.coordinator.commands.workflow_cib import require_workflow

        require_workflow(cib, workflow)
    return status.workflow_status(cib, mon, workflow)
