"""What agents read from and write to the CIB: a step's live state, and whether a stop means undo.

Only on the start/stop paths (never monitor); stdlib ElementTree and the
cluster's own command-line tools. ``CIB_file`` in the environment points all
of them at a file instead of the live CIB (Pacemaker's own convention), which
is how agents are tested without a cluster.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

from haflow.agents.xmltext import quoteattr
from haflow.encoding import live, read
from haflow.encoding.ids import ORDER, root_id, workflow_of
from haflow.encoding.meta import STOPPED, TARGET_ROLE

CIB_NO_SUCH_OBJECT = 105  # cibadmin: the xpath matched nothing
RESOURCE_TAGS = ("primitive", "clone", "group", "bundle")
# one history record: workflow, key (record.key), value (record.format_value)
Record = live.Record
MANY_WORKFLOWS = 40  # read more at once than this, and the whole configuration is read


class CibUnavailable(Exception):
    """The CIB could not be read or written; the message says why."""


def _cibadmin(args: list[str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["cibadmin", *args], capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CibUnavailable(f"cibadmin {args[0]}: {exc}") from exc


def query(xpath: str | None = None, scope: str | None = None) -> ET.Element | None:
    """The CIB (or what ``xpath``/``scope`` selects); None when the xpath matches nothing."""
    args = ["--query"]
    if xpath:
        args += ["--xpath", xpath]
    if scope:
        args += ["--scope", scope]
    result = _cibadmin(args)
    if result.returncode == CIB_NO_SUCH_OBJECT:
        return None
    if result.returncode != 0:
        raise CibUnavailable(f"reading the CIB failed: {result.stderr.strip()}")
    return ET.fromstring(result.stdout)


def _target_stopped(element: ET.Element) -> bool:
    return (read.configured_meta(element).get(TARGET_ROLE) or "").lower() == STOPPED.lower()


def _with_ancestors(resources: ET.Element, rid: str) -> list[ET.Element] | None:
    """The resource element ``rid`` and the clone/group/bundle around it; None if absent."""
    parents = {child: parent for parent in resources.iter() for child in parent}
    for element in resources.iter():
        if element.tag in RESOURCE_TAGS and element.get("id") == rid:
            chain = [element]
            parent = parents.get(element)
            while parent is not None and parent.tag in RESOURCE_TAGS:
                chain.append(parent)
                parent = parents.get(parent)
            return chain
    return None


def live_state(*workflows: str) -> ET.Element:
    """The CIB's ``<status>`` element with the steps' live state (encoding/live.py):
    its own attributes and its ``live.ELEMENT`` children (only ``workflows``', if any
    are given), in one query. None of the nodes' operation history: that is no agent's
    business."""
    wanted = [live.path(w) for w in sorted(set(workflows))] or [f"/cib/status/{live.ELEMENT}"]
    result = _cibadmin(["--query", "--no-children", "--xpath",
                        " | ".join(["/cib/status", *wanted])])
    status = ET.Element("status")
    if result.returncode == CIB_NO_SUCH_OBJECT:
        return status
    if result.returncode != 0:
        raise CibUnavailable(f"reading the CIB's status failed: {result.stderr.strip()}")
    found = ET.fromstring(result.stdout)
    for element in list(found) if found.tag == "xpath-query" else [found]:
        if element.tag == "status":
            status.attrib.update(element.attrib)
        else:
            status.append(element)
    return status


def version() -> ET.Element:
    """The ``<cib>`` element alone: its version (admin_epoch, epoch, num_updates)."""
    result = _cibadmin(["--query", "--no-children"])
    if result.returncode != 0:
        raise CibUnavailable(f"reading the CIB's version failed: {result.stderr.strip()}")
    return ET.fromstring(result.stdout)


def configuration() -> ET.Element:
    """The CIB's configuration, as a ``<cib>`` around it (what encoding.read expects),
    with every workflow's live state (``live_state``)."""
    found = query(scope="configuration")
    cib = ET.Element("cib")
    if found is not None:
        cib.append(found)
    cib.append(live_state())
    return cib


def workflow_configuration(workflow: str, resource: str | None = None) -> ET.Element:
    """``configuration()`` for one workflow: its top-level resources and its orders (what
    read.resources_of, read.root_of and read.dependencies look at), with its live
    state (``live_state``).

    The whole configuration costs the CIB manager and the agent time in proportion
    to every workflow in it (with 200 steps: 64 ms of the CIB manager and 0.3 s in
    all, against 5 ms for one workflow's part; measured on a lab), and every stop
    reads it. It is read whole only when ``resource`` or the workflow's root is not
    among these (wrapped by hand in a clone or group under another name): what is
    decided about a resource must see its parents."""
    return workflows_configuration([workflow], resource)


def workflows_configuration(workflows: list[str], resource: str | None = None
                            ) -> ET.Element:
    """``workflow_configuration`` for several workflows, in one query (the whole
    configuration beyond MANY_WORKFLOWS: a longer xpath costs more than it saves)."""
    if not workflows or len(workflows) > MANY_WORKFLOWS:
        return configuration()
    parts = []
    for workflow in workflows:
        mine = quoteattr(workflow + ".")
        orders = quoteattr(f"{root_id(workflow)}.{ORDER}.")
        parts += [f"/cib/configuration/resources/*[starts-with(@id, {mine})]",
                  f"/cib/configuration/constraints/rsc_order[starts-with(@id, {orders})]",
                  live.path(workflow)]
    # and their live state in the same query: <status> itself only where it has
    # attributes of its own (earlier versions' live state, until a compaction drops them)
    found = query(xpath=" | ".join([*parts, "/cib/status[@*]"]))
    matched = [] if found is None else list(found) if found.tag == "xpath-query" else [found]
    cib = ET.Element("cib")
    configuration_element = ET.SubElement(cib, "configuration")
    resources = ET.SubElement(configuration_element, "resources")
    constraints = ET.SubElement(configuration_element, "constraints")
    status = ET.Element("status")
    for element in matched:
        if element.tag == "status":
            status.attrib.update(element.attrib)
        elif element.tag == live.ELEMENT:
            status.append(element)
        else:
            (constraints if element.tag == "rsc_order" else resources).append(element)
    held = {e.get("id") for e in resources.iter() if e.tag in RESOURCE_TAGS}
    wanted = {root_id(w) for w in workflows} | ({resource} if resource else set())
    if not wanted <= held:
        return configuration()
    cib.append(status)
    return cib


def record_live(resource: str, effect: str | None = None,
                outputs: dict[str, str] | None = None, event: Record | None = None) -> None:
    """Record a step's action on its workflow's element under the CIB's ``<status>``
    (live.ELEMENT), in one change: its effect flag, its outputs and ``event`` in its
    workflow's history (live.step_state). A merge, attribute by attribute: steps of
    one workflow running at once on several nodes lose none of each other's writes.

    Replicated to every node before cibadmin returns, as a configuration change is, so
    it outlives the crash of this node; but the controller does not abort its
    transition for it, and no fencer recomputes its devices (docs/architecture.md,
    "Where a step's state lives"). What it does not outlive is the whole cluster
    stopping: a checkpoint (agents/checkpoint.py) copies it into the configuration."""
    attrs = live.step_state(resource, effect, outputs, event)
    if not attrs:
        return
    status = ET.Element("status")
    ET.SubElement(status, live.ELEMENT, {"id": workflow_of(resource), **attrs})
    result = _cibadmin(["--modify", "--scope", "status", "--xml-text",
                        ET.tostring(status, encoding="unicode")])
    if result.returncode != 0:
        raise CibUnavailable(f"recording {resource} failed: {result.stderr.strip()}")


def modify(cib: ET.Element) -> None:
    """Merge ``cib`` (a ``<cib>`` holding what is to be added or changed, anywhere in the
    CIB) into the CIB, element by element and id by id: all of it or nothing."""
    result = _cibadmin(["--modify", "--xml-text", ET.tostring(cib, encoding="unicode")])
    if result.returncode != 0:
        raise CibUnavailable(f"changing the CIB failed: {result.stderr.strip()}")


def patch(diff: ET.Element) -> None:
    """Apply a patch (crm_diff's formats; a versioned one only to the CIB of its source
    version): all of it or nothing."""
    result = _cibadmin(["--patch", "--xml-text", ET.tostring(diff, encoding="unicode")])
    if result.returncode != 0:
        raise CibUnavailable(f"patching the CIB failed: {result.stderr.strip()}")


def undo_meant(resource: str, workflow: str | None,
               cib: ET.Element | None = None) -> tuple[bool, str]:
    """Whether a stop of ``resource`` must undo its effect, and why (from ``cib``, a
    ``<cib>`` with the configuration; read here if None).

    Undo is meant when the step was removed from the CIB, or it or its
    workflow's root is meant to be stopped (target-role=Stopped: abort,
    rollback). Any other stop is Pacemaker moving the step.
    """
    resources = (configuration() if cib is None else cib).find("configuration/resources")
    if resources is None:
        return True, "the CIB has no resources: the step was removed"
    own = _with_ancestors(resources, resource)
    if own is None:
        return True, "the step was removed from the CIB"
    if any(_target_stopped(e) for e in own):
        return True, "the step is stopped on purpose (target-role=Stopped)"
    if workflow:
        root = _with_ancestors(resources, root_id(workflow))
        if root is None:
            return True, f"the root of workflow {workflow} was removed"
        if any(_target_stopped(e) for e in root):
            return True, f"workflow {workflow} is being rolled back (its root is stopped)"
    return False, "Pacemaker is moving or recovering the step; the effect stays for the next start"


def meta_attribute(resource: str, name: str) -> str | None:
    """A meta attribute of ``resource`` (None when the resource or attribute is absent)."""
    found = query(xpath=f"//primitive[@id={quoteattr(resource)}]/meta_attributes/"
                  f"nvpair[@name={quoteattr(name)}]")
    if found is None:
        return None
    nvpair = found if found.tag == "nvpair" else found.find(".//nvpair")
    return None if nvpair is None else nvpair.get("value")


def read_outputs(resources: list[str]) -> dict[str, dict[str, str]]:
    """Outputs of each of ``resources`` (resource id -> key -> value): the live ones, else
    their durable copy (read.step_outputs), in two queries."""
    if not resources:
        return {}
    condition = " or ".join(f"@id={quoteattr(r)}" for r in resources)
    found = query(xpath=f"//primitive[{condition}]")
    live_now = live.attributes_of(live_state(*map(workflow_of, resources)))
    result: dict[str, dict[str, str]] = {}
    primitives = [] if found is None else \
        [found] if found.tag == "primitive" else found.findall(".//primitive")
    for rid in resources:
        result[rid] = live.outputs(live_now, rid) or {}
    for primitive in primitives:
        result[primitive.get("id", "")] = read.step_outputs(primitive, live_now)
    return result


def delete_meta_set(set_id: str) -> None:
    """Delete the meta attribute set ``set_id``; absent is fine. Asked first: a delete
    that finds nothing still costs every node's CIB manager a search and a validation of
    the whole CIB (125 ms with 200 steps, against 5 ms for the query; measured on a
    lab), and every root's start asks."""
    if query(xpath=f"/cib/configuration/resources//meta_attributes[@id={quoteattr(set_id)}]"
             ) is None:
        return
    result = _cibadmin(["--delete", "--xml-text", f"<meta_attributes id={quoteattr(set_id)}/>"])
    if result.returncode not in (0, CIB_NO_SUCH_OBJECT):
        raise CibUnavailable(f"deleting {set_id} failed: {result.stderr.strip()}")
