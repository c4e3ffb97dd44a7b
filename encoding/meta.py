"""Every attribute name haflow writes into the CIB, and the values it gives them.

Stdlib only and cheap: agents import this on their monitor path.
"""

from __future__ import annotations

# instance attributes (parameters) the compiler sets on every haflow step
# (agents/step.py declares them); the root carries PARAM_WORKFLOW and a description
PARAM_WORKFLOW = "workflow"
PARAM_STEP = "step"
PARAM_SUBMISSION = "submission"
PARAM_DESCRIPTION = "description"

# the failure policy of a step (and the workflow's, on its root), a meta attribute
FAILURE_POLICY_META = "haflow-failure-policy"
POLICY_ROLLBACK = "rollback"
POLICY_HOLD = "hold"

# the orchestration keys' traces (compiler): on a step made by for_each or a sub-workflow,
# the step of the file it was made from; on the root, the file's steps skipped by `when`
# (space-separated), for status and plan
UNIT_META = "haflow-unit"
SKIPPED_META = "haflow-skipped"

# whether a step's effect may exist, a meta attribute next to its outputs: a
# rollback undoes whatever still has it (agents/sweep.py); removed by a completed undo
EFFECT_META = "haflow-effect"
EFFECT_PENDING = "pending"  # while do runs
EFFECT_PRESENT = "present"  # once done
# "do began" is an attribute of the CIB's <status> element, named this prefix + the
# step's id, not a meta attribute: a change under /cib/configuration aborts the DC's
# transition and, under resources, makes every node's fencer recompute its devices
# (a scheduler run each), while the controller and the fencer pass over this one
# (docs/architecture.md, "Where a step's state lives"); cleared to "" by an undo
EFFECT_STATUS_PREFIX = "haflow-pending-"

# step outputs are meta attributes of the step's primitive, under this prefix
OUTPUT_META_PREFIX = "haflow-output-"
# the events of a workflow's history, meta attributes of its root (record.py)
EVENT_META_PREFIX = "haflow-event-"
# transient node attributes a running action publishes (heartbeat.py)
HEARTBEAT_ATTR_PREFIX = "haflow-hb-"

# Pacemaker's own meta attributes that haflow reads or writes
TARGET_ROLE = "target-role"
STOPPED = "Stopped"
STARTED = "Started"
MIGRATION_THRESHOLD = "migration-threshold"
