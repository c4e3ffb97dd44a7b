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

# whether a step's effect may exist: a rollback undoes whatever still has it
# (agents/sweep.py). EFFECT_META is the durable copy, a meta attribute next to the
# outputs (written by a checkpoint, agents/checkpoint.py); the live value is an
# attribute under the CIB's <status> element (EFFECT_STATUS_PREFIX + the step's id) and
# outranks it when set: "" once undone (and the durable copy "" once that is copied)
EFFECT_META = "haflow-effect"
EFFECT_PENDING = "pending"  # while do runs
EFFECT_PRESENT = "present"  # once done
# What an agent records as a step runs (its effect flag, its outputs, each start's and
# stop's history record) lives under the CIB's <status> element (encoding/live.py), not
# in the configuration: a change under /cib/configuration aborts the DC's transition
# and, under resources, makes every node's fencer recompute its devices (a scheduler run
# each), while the controller and the fencer pass over these (docs/architecture.md,
# "Where a step's state lives"). A checkpoint copies them into the configuration once
# per workflow run.
EFFECT_STATUS_PREFIX = "haflow-effect-"  # + step id: pending, present or "" (undone)
OUTPUTS_STATUS_PREFIX = "haflow-outputs-"  # + step id: the outputs as JSON, "" (cleared)
EVENT_STATUS_PREFIX = "haflow-event-"  # + workflow + "." + record key: a history record
# a meta attribute of the start operation of a workflow's last haflow steps (no haflow
# step runs after them), its value the number of haflow steps in the workflow: the
# start that finds that many done (flag present) checkpoints the workflow, once per
# run however wide it is. On the operation, as Pacemaker passes an operation's meta
# attributes to the agent (CRM_meta_haflow_last), not a resource's
LAST_STEP_META = "haflow-last"

# the durable copy of a step's outputs: meta attributes of its primitive, this prefix
OUTPUT_META_PREFIX = "haflow-output-"
# the durable events of a workflow's history: meta attributes of its root (record.py)
EVENT_META_PREFIX = "haflow-event-"
# transient node attributes a running action publishes (heartbeat.py)
HEARTBEAT_ATTR_PREFIX = "haflow-hb-"

# Pacemaker's own meta attributes that haflow reads or writes
TARGET_ROLE = "target-role"
STOPPED = "Stopped"
STARTED = "Started"
MIGRATION_THRESHOLD = "migration-threshold"
PACEMAKER_INFINITY = 1_000_000  # also migration-threshold's own default

# haflow's step agents (agents/registry.py, less the root and the daemons): the shared
# step defaults (ids.STEP_DEFAULTS_SET) are for their resources, whose primitives then
# carry a migration-threshold or a failure policy only where it differs from these
STEP_AGENTS = ("exec", "http", "test")
STEP_MIGRATION_THRESHOLD = 3  # the default retries (2) and the first try
