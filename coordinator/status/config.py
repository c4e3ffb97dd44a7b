"""The CIB's configuration as status reads it, grouped once per CIB: each workflow's
primitives and order constraints, each resource's location constraints.

Grouping first keeps status linear in the CIB's size: asked per step, "which
location rules name this resource" scanned every constraint for every step and
online node, and each workflow of ``all_status`` scanned every resource.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from haflow.encoding.ids import ORDER, root_id, workflow_of
from haflow.encoding.live import attributes
from haflow.encoding.read import banned_by, order_dependencies

if TYPE_CHECKING:
    from lxml import etree


def agent(primitive: etree._Element) -> str:
    """``class:provider:type`` (``class:type`` without a provider)."""
    provider = primitive.get("provider")
    parts = [primitive.get("class", ""), *([provider] if provider else []),
             primitive.get("type", "")]
    return ":".join(parts)


class Config:
    """The configuration's elements of one CIB, by workflow and by resource."""

    def __init__(self, cib: etree._Element) -> None:
        self.cib = cib
        # workflow -> its top-level primitives (root and steps), in CIB order
        self._primitives: dict[str, list[etree._Element]] = {}
        for prim in cib.iterfind("configuration/resources/primitive"):
            wf, dot, _ = prim.get("id", "").partition(".")
            if dot:
                self._primitives.setdefault(wf, []).append(prim)
        self._orders: dict[str, list[etree._Element]] = {}
        self._locations: dict[str, list[etree._Element]] = {}
        for order in cib.iterfind("configuration/constraints/rsc_order"):
            self._orders.setdefault(workflow_of(order.get("id", "")), []).append(order)
        for loc in cib.iterfind("configuration/constraints/rsc_location"):
            self._locations.setdefault(loc.get("rsc", ""), []).append(loc)
        # what the steps' agents recorded on <status> (encoding/live.py): effect flags,
        # outputs, history records
        self.live = attributes(cib)

    def root(self, workflow: str) -> etree._Element | None:
        rid = root_id(workflow)
        return next((p for p in self._primitives.get(workflow, ()) if p.get("id") == rid),
                    None)

    def primitives(self, workflow: str) -> list[etree._Element]:
        """The workflow's top-level primitives, its root's included, in CIB order."""
        return list(self._primitives.get(workflow, ()))

    def steps(self, workflow: str) -> list[etree._Element]:
        """The workflow's primitives but its root, in CIB order."""
        rid = root_id(workflow)
        return [p for p in self._primitives.get(workflow, ()) if p.get("id") != rid]

    def dependencies(self, workflow: str) -> dict[str, set[str]]:
        prefix = f"{root_id(workflow)}.{ORDER}."
        return order_dependencies([o for o in self._orders.get(workflow, ())
                                   if o.get("id", "").startswith(prefix)])

    def banned(self, rid: str, node: str) -> bool:
        locations = self._locations.get(rid)
        return locations is not None and banned_by(locations, node)


def dependencies(cib: etree._Element, workflow: str) -> dict[str, set[str]]:
    """resource -> the resources it starts after, from the workflow's ``rsc_order``s."""
    return Config(cib).dependencies(workflow)
