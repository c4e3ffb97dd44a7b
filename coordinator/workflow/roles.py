"""Abort and resume: one target-role on every resource of a workflow, in one change.

The root is ordered before the first steps by Optional orders (see
compiler._root), so stopping the root alone stops nothing else. An abort
sets target-role=Stopped on the root and on every step at once: the orders
between steps are mandatory and symmetrical, so Pacemaker stops the steps in
reverse dependency order, and the root last (its stop is the rollback's last
act, agents/sweep.py). Resuming removes those target-roles again.

Used on the live CIB (``haflow abort``/``retry``) and on the shadow copy
``haflow plan`` simulates a rollback on; the alert agent does the same with
the stdlib (agents/alert_haflow.py), since it must not import lxml.
"""

from __future__ import annotations

from lxml import etree

from haflow.encoding.ids import root_id, sweep_set_id

TARGET_ROLE = "target-role"


def names(cib: etree._Element) -> list[str]:
    """Every workflow in the CIB: resources of agent ocf:haflow:workflow (here, not in
    coordinator/workflows.py: ``haflow status`` needs no compiler)."""
    resources = cib.find("configuration/resources")
    if resources is None:
        return []
    return sorted({r.get("id", "").rsplit(".", 1)[0] for r in resources.iter("primitive")
                   if r.get("class") == "ocf" and r.get("provider") == "haflow"
                   and r.get("type") == "workflow"})


def resources_of(cib: etree._Element, workflow: str) -> list[etree._Element]:
    """The workflow's primitives: its root and its steps (ids ``WF.*``)."""
    resources = cib.find("configuration/resources")
    if resources is None:
        return []
    prefix = f"{workflow}."
    return [p for p in resources.iterfind("primitive") if p.get("id", "").startswith(prefix)]


def root_of(cib: etree._Element, workflow: str) -> etree._Element | None:
    return cib.find(f"configuration/resources/primitive[@id='{root_id(workflow)}']")


def target_role(cib: etree._Element, workflow: str) -> str | None:
    """The root's target-role (None when unset or when there is no root); a sweep set is
    a passing override of the alert agent, not the workflow's role."""
    root = root_of(cib, workflow)
    if root is None:
        return None
    found = next((n for m in root.iterfind("meta_attributes")
                  if m.get("id") != sweep_set_id(workflow)
                  for n in m.iterfind(f"nvpair[@name='{TARGET_ROLE}']")), None)
    return None if found is None else found.get("value")


def set_role(cib: etree._Element, workflow: str, role: str | None) -> None:
    """Set ``role`` as target-role of every resource of ``workflow`` in ``cib`` (in place);
    ``None`` removes it. Any target-role set by hand on one of them is replaced, and so is
    the root's sweep set (agents/alert_haflow.py), which would outrank it."""
    for primitive in resources_of(cib, workflow):
        for sweep in primitive.findall(f"meta_attributes[@id='{sweep_set_id(workflow)}']"):
            primitive.remove(sweep)
        for nvpair in primitive.findall(f"meta_attributes/nvpair[@name='{TARGET_ROLE}']"):
            nvpair.getparent().remove(nvpair)  # type: ignore[union-attr]
        if role is None:
            continue
        meta = primitive.find("meta_attributes")
        if meta is None:
            meta = etree.Element("meta_attributes", id=f"{primitive.get('id')}.meta")
            # the schema wants meta attributes before the operations
            primitive.insert(len(primitive.findall("instance_attributes")), meta)
        etree.SubElement(meta, "nvpair", id=f"{meta.get('id')}.{TARGET_ROLE}",
                         name=TARGET_ROLE, value=role)
