"""Workflow and step states, read from ``crm_mon --output-as=xml --inactive`` and the CIB.

The CIB gives what was configured (steps, dependencies, policy, outputs) and
what happened (the status section: each node's operation history with
``exit-reason``, ``rc-code``, ``last-rc-change``, ``exec-time``; transient
attributes with fail counts and heartbeats). crm_mon adds what only the
scheduler knows: the role (Starting, Stopping), and whether a resource is
blocked or unmanaged.

By concept: model (the states and the status dataclasses), mon (crm_mon's
XML), node_state (the CIB's status section), config (the CIB's
configuration), compute (the state machine), render (XML), settled (crm_mon's view
read from the status section alone, where that tells it all). The names below
are the package's API; the encoding it reads is haflow.encoding's.
"""

from __future__ import annotations

from haflow.coordinator.status.compute import all_status, ordered, workflow_status
from haflow.coordinator.status.config import Config, dependencies
from haflow.coordinator.status.model import (
    INFINITY,
    SETTLED,
    STUCK_FACTOR,
    Failure,
    StepState,
    StepStatus,
    WorkflowState,
    WorkflowStatus,
)
from haflow.coordinator.status.mon import Mon, MonResource, parse_mon
from haflow.coordinator.status.node_state import PENDING_RC, RC_TEXT, NodeStates, Op
from haflow.coordinator.status.render import to_xml
from haflow.coordinator.status.settled import view_from_cib

__all__ = [
    "INFINITY", "PENDING_RC", "RC_TEXT", "SETTLED", "STUCK_FACTOR", "Config", "Failure", "Mon",
    "MonResource", "NodeStates", "Op", "StepState", "StepStatus", "WorkflowState",
    "WorkflowStatus", "all_status", "dependencies", "ordered", "parse_mon", "to_xml",
    "view_from_cib", "workflow_status",
]
