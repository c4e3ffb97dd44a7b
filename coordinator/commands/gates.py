"""``approve``, ``pause`` and ``resume``: a ticket granted, a freeze added or taken away,
each one atomic change with its event in the workflow's history.

An approval gate is a ticket no one holds (the compiler's ``rsc_ticket``): approving
grants it, in the status section, as ``crm_ticket --grant`` would. A pause is an
``rsc_ticket`` on the workflow's tag for a ticket no one holds, with loss-policy
``freeze``: Pacemaker starts and stops nothing of the workflow (what runs finishes
its action and stays), and resuming removes it. Both hold with no haflow process
alive, through a failover of the DC: they are the CIB's.
"""

from __future__ import annotations

from copy import deepcopy
from typing import TYPE_CHECKING

from haflow.coordinator.cluster import live_view, livecib
from haflow.coordinator.cluster.quorum import require_quorum
from haflow.coordinator.codes import Code
from haflow.coordinator.commands.workflow_cib import add_event, require_root
from haflow.coordinator.reports import error
from haflow.encoding import ids, read, tickets

if TYPE_CHECKING:
    from haflow.coordinator.cluster.env import Env


def approve(env: Env, workflow: str, step: str, by: str | None = None) -> str:
    """Grant the approval gate of ``step``: it and the steps after it may start. Returns
    the ticket; ``by`` names who approved in the history (else the user running this)."""
    require_quorum(env, f"approve step '{step}' of workflow '{workflow}'")
    old = live_view.query(env)
    require_root(old, workflow)
    gates = tickets.gates(old, workflow)
    if step not in gates:
        steps = {p.get("id", "").split(".", 1)[1] for p in read.resources_of(old, workflow)}
        if step not in steps and not any(s.startswith(f"{step}-") for s in steps):
            raise error(Code.STEP_NOT_FOUND, f"workflow '{workflow}' has no step '{step}'",
                        step=step)
        raise error(Code.NOT_A_GATE, f"step '{step}' of workflow '{workflow}' has no "
                    f"approval gate (gates: {', '.join(gates) or 'none'})", step=step)
    ticket = ids.approval_ticket(workflow, step)
    if tickets.granted(old, ticket):
        raise error(Code.ALREADY_APPROVED, f"step '{step}' of workflow '{workflow}' is "
                    "approved already", step=step)
    new = deepcopy(old)
    tickets.grant(new, ticket)
    who = f"; approved by {by}" if by else ""
    add_event(new, env, workflow, "approve", f"gate {step} approved{who}",
              step=step)
    livecib.push(env, old, new, f"approving step '{step}' of workflow '{workflow}'")
    return ticket


def pause(env: Env, workflow: str) -> None:
    """Freeze the workflow: no step starts or stops any more; those running finish."""
    require_quorum(env, f"pause workflow '{workflow}'")
    old = live_view.query(env)
    require_root(old, workflow)
    if tickets.paused(old, workflow):
        raise error(Code.ALREADY_PAUSED, f"workflow '{workflow}' is paused already "
                    "('haflow resume' runs it on)")
    new = deepcopy(old)
    tickets.remove_pause(new, workflow)  # one granted by hand: paused again
    tickets.add_pause(new, workflow)
    add_event(new, env, workflow, "pause",
              "nothing starts or stops until resumed")
    livecib.push(env, old, new, f"pausing workflow '{workflow}'")


def resume(env: Env, workflow: str) -> None:
    """Let Pacemaker start and stop the workflow's steps again."""
    require_quorum(env, f"resume workflow '{workflow}'")
    old = live_view.query(env)
    require_root(old, workflow)
    if tickets.pause_constraint(old, workflow) is None:
        raise error(Code.NOT_PAUSED, f"workflow '{workflow}' is not paused")
    new = deepcopy(old)
    tickets.remove_pause(new, workflow)
    add_event(new, env, workflow, "resume", "steps start and stop again")
    livecib.push(env, old, new, f"resuming workflow '{workflow}'")
