"""Approval gates and pauses: the ``rsc_ticket`` constraints the compiler and ``pause``
write, and the tickets' state in the status section that ``approve`` grants.

Stdlib only, ElementTree API (element.py), like read.py and write.py.
"""

from __future__ import annotations

import time

from haflow.encoding.ids import GATE, PAUSE, approval_ticket, constraint_id, run_ticket, tag_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from haflow.encoding.element import E

FREEZE = "freeze"


def _constraints(cib: E) -> E | None:
    return cib.find("configuration/constraints")


def gates(cib: E, workflow: str) -> dict[str, list[str]]:
    """Each approval gate of ``workflow`` (its file step) -> the resources it holds."""
    holder = _constraints(cib)
    prefix = constraint_id(workflow, GATE) + "."
    found: dict[str, list[str]] = {}
    for element in holder.findall("rsc_ticket") if holder is not None else []:
        cid = element.get("id", "")
        if not cid.startswith(prefix):
            continue
        rsc = element.get("rsc")
        held = [rsc] if rsc else [r.get("id", "") for r in element.iter("resource_ref")]
        found[cid[len(prefix):]] = held
    return found


def granted(cib: E, ticket: str) -> bool:
    """Whether ``ticket`` is granted (a ticket never written is not)."""
    for state in cib.findall("status/tickets/ticket_state"):
        if state.get("id") == ticket:
            return state.get("granted", "false").lower() == "true"
    return False


def approved(cib: E, workflow: str, gate: str) -> bool:
    return granted(cib, approval_ticket(workflow, gate))


def grant(cib: E, ticket: str, now: float | None = None) -> E:
    """Grant ``ticket`` in the status section, as ``crm_ticket --grant`` does."""
    status = cib.find("status")
    if status is None:
        status = cib.makeelement("status", {})
        cib.append(status)
    tickets = status.find("tickets")
    if tickets is None:
        tickets = status.makeelement("tickets", {})
        status.append(tickets)
    state = next((s for s in tickets.findall("ticket_state") if s.get("id") == ticket), None)
    if state is None:
        state = tickets.makeelement("ticket_state", {"id": ticket})
        tickets.append(state)
    state.set("granted", "true")
    state.set("last-granted", str(int(time.time() if now is None else now)))
    return state


def forget_tickets(cib: E, workflow: str) -> int:
    """Drop every ticket state of ``workflow`` (a new submission of the name starts with
    no approval given); how many there were."""
    tickets = cib.find("status/tickets")
    if tickets is None:
        return 0
    prefix = f"{workflow}.root."
    stale = [s for s in tickets.findall("ticket_state") if s.get("id", "").startswith(prefix)]
    for state in stale:
        tickets.remove(state)
    return len(stale)


def pause_constraint(cib: E, workflow: str) -> E | None:
    holder = _constraints(cib)
    cid = constraint_id(workflow, PAUSE)
    if holder is None:
        return None
    return next((c for c in holder.findall("rsc_ticket") if c.get("id") == cid), None)


def paused(cib: E, workflow: str) -> bool:
    """Whether ``workflow`` is paused: its pause constraint is there and its run ticket
    not granted (granted by hand, it runs again)."""
    return pause_constraint(cib, workflow) is not None and not granted(
        cib, run_ticket(workflow))


def add_pause(cib: E, workflow: str) -> E:
    """Every resource of ``workflow`` (its tag) needs the run ticket, which is never
    granted, with loss-policy freeze: what runs stays, nothing starts or stops."""
    holder = _constraints(cib)
    assert holder is not None
    element = holder.makeelement("rsc_ticket", {
        "id": constraint_id(workflow, PAUSE), "rsc": tag_id(workflow),
        "ticket": run_ticket(workflow), "loss-policy": FREEZE})
    holder.append(element)
    return element


def remove_pause(cib: E, workflow: str) -> bool:
    found = pause_constraint(cib, workflow)
    holder = _constraints(cib)
    if found is None or holder is None:
        return False
    holder.remove(found)
    return True
