"""Refuse to write without quorum: a partition without it must not change the CIB.

``submit``, ``abort``, ``retry`` and ``remove`` call :func:`require_quorum`
before writing. Pacemaker would refuse to act on a minority partition's
changes anyway; refusing up front tells the user why, naming who is in the
partition, instead of a write that silently never takes effect.
"""

from __future__ import annotations

from typing import Any

from haflow.coordinator.cluster.env import Env
from haflow.coordinator.codes import Code
from haflow.coordinator.reports import error


def quorum_state(env: Env) -> dict[str, Any]:
    """Quorate?, votes and the partition's members, from Corosync on ``env``'s node."""
    from haflow.coordinator.cluster.corosync_remote import collect

    return collect(env, "--quorum")


def without_corosync_ipc(env: Env) -> bool:
    """Corosync's IPC answers root (and its uidgid entries) only: a member of haclient
    that Pacemaker's ACLs let in asks Pacemaker's controller instead."""
    import os

    return not env.prefix and os.geteuid() != 0


def require_quorum(env: Env, action: str = "write to the cluster") -> dict[str, Any]:
    """Return the quorum state, or raise NO_QUORUM naming the partition's members."""
    if without_corosync_ipc(env):
        answer = env.run(["crm_node", "--quorum"])
        if answer.stdout.strip() != "1":
            raise error(Code.NO_QUORUM, f"refusing to {action}: the partition of "
                        f"{env.description} has no quorum (crm_node --quorum: "
                        f"{(answer.stdout or answer.stderr).strip()})")
        return {"quorate": True}
    state = quorum_state(env)
    if not state["quorate"]:
        names = ", ".join(m["name"] for m in state["members"]) or "none"
        raise error(
            Code.NO_QUORUM,
            f"refusing to {action}: the partition of {env.description} has no quorum "
            f"(members: {names}; {state['total_votes']} of {state['expected_votes']} expected "
            f"votes, {state['quorum']} needed)",
            details={"members": [m["name"] for m in state["members"]],
                     "total_votes": state["total_votes"], "quorum": state["quorum"]},
        )  # fmt: skip
    return state
