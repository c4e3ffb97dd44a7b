"""What only the scheduler knows, from ``crm_mon --output-as=xml --inactive``: each
resource's role (Starting, Stopping), whether it is blocked or unmanaged, and the
online nodes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lxml import etree


@dataclass
class MonResource:
    role: str
    active: bool
    blocked: bool
    managed: bool
    failed: bool
    nodes: list[str]

    @property
    def not_stopped(self) -> bool:
        """Running, or its stop still under way: crm_mon calls a resource whose only
        recorded operation on a node is a stop in flight (its start record overwritten)
        inactive, role Stopping; that stop is still running the agent."""
        return self.active or self.role == "Stopping"


# what crm_mon shows of a resource it does not list
STOPPED = MonResource("Stopped", False, False, True, False, [])


@dataclass
class Mon:
    resources: dict[str, MonResource]
    online: list[str]

    def resource(self, rid: str) -> MonResource:
        return self.resources.get(rid, STOPPED)


# which role a merged clone shows: something in flight first, then running
ROLE_RANK = ("Stopping", "Starting", "Started", "Stopped")


def parse_mon(mon: etree._Element) -> Mon:
    """Roles and flags of every primitive (clone instances merged under their id)."""
    resources: dict[str, MonResource] = {}
    for res in mon.iterfind("resources//resource"):
        rid = res.get("id", "").split(":", 1)[0]
        entry = MonResource(res.get("role", "Stopped"), res.get("active") == "true",
                            res.get("blocked") == "true", res.get("managed") != "false",
                            res.get("failed") == "true",
                            [n.get("name", "") for n in res.iterfind("node")])
        old = resources.get(rid)
        if old is not None:  # another instance of a clone: merge them
            roles = {old.role, entry.role}
            role = next((r for r in ROLE_RANK if r in roles), entry.role)
            entry = MonResource(role, entry.active or old.active,
                                entry.blocked or old.blocked, entry.managed and old.managed,
                                entry.failed or old.failed, old.nodes + entry.nodes)
        resources[rid] = entry
    online = [n.get("name", "") for n in mon.iterfind("nodes/node")
              if n.get("online") == "true"]
    return Mon(resources, online)
