"""Every id haflow gives an element of the CIB, and the names ids are made of.

Stdlib only and cheap: agents import this on their monitor path.

Names are restricted so that every id below is a valid XML id, readable in
crm_mon, and collision-free between workflows: a name never contains ``.``,
so ``WF.STEP`` can only come from workflow ``WF`` and step ``STEP``, and
everything else of a workflow hangs below ``WF.root.`` (``root`` is no
step's name) or below its resource's id.
"""

from __future__ import annotations

NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_-]{0,47}"
NAME_MAX = 48
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_NAME_CHARS = _LETTERS | frozenset("0123456789_-")

# a step may not be called this: the workflow's root resource uses the id
ROOT_STEP = "root"
PROVIDER = "haflow"
# the root's agent, ocf:haflow:workflow (no step may use it)
ROOT_AGENT = "workflow"

# meta attribute sets haflow adds to a resource besides the compiler's
# RESOURCE.params and RESOURCE.meta; the id of an nvpair is SET.NAME (nvpair_id)
PARAMS_SET_SUFFIX = ".params"
META_SET_SUFFIX = ".meta"
# the step's outputs and effect flag, written by the step's agent
OUTPUTS_SET_SUFFIX = ".outputs"
# the workflow's history, on its root: written by the alert agent and the coordinator
HISTORY_SET_SUFFIX = ".history"
# on the root, added by the alert agent when the root's node was fenced during a
# rollback: target-role=Started there outranks the abort's Stopped until the root
# has started again, so that its stop (the sweep) runs on a survivor
SWEEP_SET_SUFFIX = ".sweep"

# the kinds of constraint the compiler writes: WF.root.KIND.PARTS (constraint_id)
# haflow's shared defaults (coordinator/workflow/compiler.py): Pacemaker's resource
# and operation defaults for every resource of haflow's agents, said once
DEFAULTS_SET = "haflow-defaults"  # rsc_defaults
OP_DEFAULTS_SET = "haflow-op-defaults"  # op_defaults: every operation
STOP_DEFAULTS_SET = "haflow-stop-defaults"  # op_defaults: the stop
STEP_DEFAULTS_SET = "haflow-step-defaults"  # rsc_defaults: haflow's step agents only
ORDER = "order"
STOP_LAST = "stop-last"
WITH = "with"
APART = "apart"
PLACE = "place"
DISCOVERY = "discovery"
# rsc_ticket constraints: an approval gate's (WF.root.gate.STEP) and a pause's (WF.root.pause)
GATE = "gate"
PAUSE = "pause"
# tickets (status section: ticket_state ids, so never equal to a configuration id)
APPROVAL_TICKET = "approval"
RUN_TICKET = "run"


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


def step_id(workflow: str, step: str) -> str:
    return f"{workflow}.{step}"


def workflow_of(element_id: str) -> str:
    """The workflow an element belongs to: its id up to the first ``.`` (see read.owned_by)."""
    return element_id.partition(".")[0]


def split_step_id(resource_id: str) -> tuple[str, str] | None:
    """(workflow, step) for a step or root id (clone suffix ``:N`` dropped); else None."""
    base = resource_id.split(":", 1)[0]
    workflow, sep, step = base.partition(".")
    if not sep or not valid_name(workflow) or not valid_name(step):
        return None
    return workflow, step


def constraint_id(workflow: str, kind: str, *parts: str) -> str:
    """``WF.root.KIND.PART...``: a constraint of the workflow (``kind`` one of ORDER ...)."""
    return ".".join((root_id(workflow), kind, *parts))


def nvpair_id(set_id: str, name: str) -> str:
    """The id of the nvpair ``name`` in the set ``set_id``."""
    return f"{set_id}.{name}"


def params_set_id(resource: str) -> str:
    return resource + PARAMS_SET_SUFFIX


def meta_set_id(resource: str) -> str:
    return resource + META_SET_SUFFIX


def outputs_set_id(resource: str) -> str:
    return resource + OUTPUTS_SET_SUFFIX


def history_set_id(workflow: str) -> str:
    return root_id(workflow) + HISTORY_SET_SUFFIX


def sweep_set_id(workflow: str) -> str:
    return root_id(workflow) + SWEEP_SET_SUFFIX


def runtime_set(set_id: str) -> bool:
    """Whether a meta attribute set is one the cluster writes as a workflow runs (outputs,
    history), not one the compiler made."""
    return set_id.endswith((OUTPUTS_SET_SUFFIX, HISTORY_SET_SUFFIX))


def approval_ticket(workflow: str, step: str) -> str:
    """The ticket an approval gate waits for: granted by ``haflow approve WF STEP``."""
    return ".".join((root_id(workflow), APPROVAL_TICKET, step))


def run_ticket(workflow: str) -> str:
    """The ticket a paused workflow's resources are frozen on (never granted by haflow:
    ``resume`` removes the pause constraint; granting it by hand resumes too)."""
    return ".".join((root_id(workflow), RUN_TICKET))


def ticket_owner(ticket: str) -> str | None:
    """The workflow a ticket of ours belongs to, else None."""
    workflow, sep, rest = ticket.partition(".")
    if not sep or not rest.startswith(f"{ROOT_STEP}.") or not valid_name(workflow):
        return None
    return workflow
