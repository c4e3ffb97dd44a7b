"""``history``: what ran where and when, with results, and the fencings among it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from haflow.coordinator.cluster.env import Env
    from haflow.coordinator.history import Event


@dataclass(frozen=True)
class History:
    events: list[Event]
    # why the fencing history could not be read (then no fencing is shown), or None
    fencing_unreadable: str | None = None


def workflow_history(env: Env, workflow: str) -> History:
    """The workflow's events from the CIB, merged with the fencer's history."""
    from haflow.coordinator import history, workflows
    from haflow.coordinator.cluster import live_view

    cib, (fencing,) = live_view.query_with(env, history.FENCING_HISTORY)
    workflows.require_workflow(cib, workflow)
    fence_xml, problem = history.read_fencing(env, fencing)
    return History(history.history(cib, fence_xml, workflow), problem)
