"""How workflow and step names become CIB ids — shared by the compiler and the agents.

Stdlib only: agents import this on their monitor path.

Names are restricted so that every id below is a valid XML id, readable in
crm_mon, and collision-free between workflows: a name never contains ``.``,
so ``WF.STEP`` can only come from workflow ``WF`` and step ``STEP``.
"""

from __future__ import annotations

NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_-]{0,47}"
NAME_MAX = 48
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_NAME_CHARS = _LETTERS | frozenset("0123456789_-")

# a step may not be called this: the workflow's root resource uses the id
ROOT_STEP = "root"
PROVIDER = "haflow"

# framework parameters the compiler sets on every haflow step (see agents/framework.py)
PARAM_WORKFLOW = "workflow"
PARAM_STEP = "step"
PARAM_SUBMISSION = "submission"

# the step's failure policy (rollback or hold), a meta attribute of its primitive
FAILURE_POLICY_META = "haflow-failure-policy"
# whether a step's effect may exist ("pending" while do runs, "present" once done),
# a meta attribute next to its outputs: a rollback undoes whatever still has it
EFFECT_META = "haflow-effect"
# step outputs are meta attributes of the step's primitive, under this prefix
OUTPUT_META_PREFIX = "haflow-output-"
# the "step" of a fencing in a workflow's history (alert agent and ``haflow history``)
FENCING_STEP = "(fencing)"
# a meta attribute set of the root, added by the alert agent when the root's node was
# fenced during a rollback: target-role=Started there outranks the abort's Stopped
# until the root has started again, so that its stop (the sweep) runs on a survivor
SWEEP_SET_SUFFIX = ".sweep"
# transient node attributes a running action publishes (value: see agents/progress.py)
HEARTBEAT_ATTR_PREFIX = "haflow-hb-"


def valid_name(name: str) -> bool:
    """``name`` matches NAME_PATTERN (checked by hand: ``re`` costs milliseconds to import)."""
    return (0 < len(name) <= NAME_MAX and name[0] in _LETTERS
            and all(c in _NAME_CHARS for c in name))


def tag_id(workflow: str) -> str:
    """The tag holding every resource of a workflow: ``crm_mon --resource=WORKFLOW``."""
    return workflow


def root_id(workflow: str) -> str:
    """The workflow's root primitive: every step is ordered after it."""
    return f"{workflow}.{ROOT_STEP}"


def sweep_set_id(workflow: str) -> str:
    return root_id(workflow) + SWEEP_SET_SUFFIX


def step_id(workflow: str, step: str) -> str:
    return f"{workflow}.{step}"


def split_step_id(resource_id: str) -> tuple[str, str] | None:
    """(workflow, step) for a step or root id (clone suffix ``:N`` dropped); else None."""
    base = resource_id.split(":", 1)[0]
    workflow, sep, step = base.partition(".")
    if not sep or not valid_name(workflow) or not valid_name(step):
        return None
    return workflow, step
