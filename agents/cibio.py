"""What agents read from and write to the CIB: outputs, and whether a stop means undo.

Only on the start/stop paths (never monitor); stdlib ElementTree and the
cluster's own command-line tools. ``CIB_file`` in the environment points all
of them at a file instead of the live CIB (Pacemaker's own convention), which
is how agents are tested without a cluster.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

from haflow.agents.xmltext import quoteattr
from haflow.encoding import read, write
from haflow.encoding.ids import outputs_set_id, root_id
from haflow.encoding.meta import EFFECT_PENDING, EFFECT_STATUS_PREFIX, STOPPED, TARGET_ROLE

CIB_NO_SUCH_OBJECT = 105  # cibadmin: the xpath matched nothing
RESOURCE_TAGS = ("primitive", "clone", "group", "bundle")


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


def configuration() -> ET.Element:
    """The CIB's configuration, as a ``<cib>`` around it (what encoding.read expects),
    with the ``<status>`` element's own attributes (the steps whose ``do`` began) but
    none of its children: the nodes' operation history is no agent's business."""
    found = query(scope="configuration")
    cib = ET.Element("cib")
    if found is not None:
        cib.append(found)
    result = _cibadmin(["--query", "--scope", "status", "--no-children"])
    if result.returncode == 0:
        cib.append(ET.fromstring(result.stdout))
    elif result.returncode != CIB_NO_SUCH_OBJECT:
        raise CibUnavailable(f"reading the CIB's status failed: {result.stderr.strip()}")
    return cib


def _pending_status(resource: str, pending: bool) -> ET.Element:
    """``<status>`` with the step's "do began" flag (meta.EFFECT_STATUS_PREFIX) set or
    cleared; cleared is "", as no change of a ``--modify`` or patch removes an attribute."""
    return ET.Element("status", {EFFECT_STATUS_PREFIX + resource: EFFECT_PENDING if pending
                                 else ""})


def flag_pending(resource: str) -> None:
    """Record that the step's ``do`` begins: a rollback must undo it from here on.

    On the ``<status>`` element: replicated to every node before cibadmin returns,
    as a configuration change is, so it outlives the crash of this node; but the
    controller does not abort its transition for it, and the fencer does not
    recompute its devices (a change under ``resources`` makes it run a scheduler).
    What it does not outlive is the whole cluster stopping (Pacemaker rebuilds the
    status section then): docs/architecture.md says what that costs."""
    result = _cibadmin(["--modify", "--scope", "status", "--xml-text",
                        ET.tostring(_pending_status(resource, True), encoding="unicode")])
    if result.returncode != 0:
        raise CibUnavailable(f"flagging {resource} failed: {result.stderr.strip()}")


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
    """Outputs of each of ``resources`` (resource id -> key -> value), in one query."""
    if not resources:
        return {}
    condition = " or ".join(f"@id={quoteattr(r)}" for r in resources)
    found = query(xpath=f"//primitive[{condition}]")
    result: dict[str, dict[str, str]] = {r: {} for r in resources}
    if found is None:
        return result
    primitives = [found] if found.tag == "primitive" else found.findall(".//primitive")
    for primitive in primitives:
        result[primitive.get("id", "")] = read.outputs(read.configured_meta(primitive))
    return result


# one history record: workflow, key (record.key), value (record.format_value)
Record = tuple[str, str, str]


def outputs_xml(resource: str, outputs: dict[str, str], effect: str | None = None,
                event: Record | None = None) -> str:
    """``cibadmin --modify`` input: the outputs and effect flag (encoding/write.py), and
    with ``event`` the record in its workflow's history, in the same change."""
    primitive = ET.Element("primitive", id=resource)
    write.outputs(primitive, outputs, effect)
    if event is None:
        return ET.tostring(primitive, encoding="unicode")
    out = ET.Element("resources")
    out.append(primitive)
    workflow, key, value = event
    write.add_record(ET.SubElement(out, "primitive", id=root_id(workflow)), workflow, key, value)
    return ET.tostring(out, encoding="unicode")


def write_outputs(resource: str, outputs: dict[str, str], effect: str | None = None,
                  event: Record | None = None) -> bool:
    """Store outputs (and the effect flag) as meta attributes of the step's primitive,
    and ``event`` in the workflow's history, in one CIB update; True when the event
    was recorded.

    Meta attributes are not part of the operation digest, so this never
    restarts the step. A workflow whose root is gone fails the change as a whole:
    then the outputs are stored alone, and the event is left to the alert agent.
    """
    if not outputs and effect is None and event is None:
        return False
    if event is not None:
        result = _cibadmin(["--modify", "--scope", "resources", "--xml-text",
                            outputs_xml(resource, outputs, effect, event)])
        if result.returncode == 0:
            return True
        if not outputs and effect is None:
            return False
    result = _cibadmin(["--modify", "--scope", "resources", "--xml-text",
                        outputs_xml(resource, outputs, effect)])
    if result.returncode == CIB_NO_SUCH_OBJECT:
        return False  # not a resource of this CIB: an agent run by hand (ocf-tester, a test)
    if result.returncode != 0:
        raise CibUnavailable(f"storing outputs of {resource} failed: {result.stderr.strip()}")
    return False


def cleared_xml(resource: str, event: Record | None = None, pending: bool = True) -> str:
    """``cibadmin --patch`` input (a versionless patch, as crm_diff writes one) that
    deletes the step's outputs set, clears its "do began" flag on ``<status>`` (with
    ``pending``: a resource that sets none has none to clear), and with ``event`` adds
    that record to its workflow's history.

    Applied whole or not at all; an outputs set already gone is fine, and a
    workflow whose root is gone gets no record."""
    diff = ET.Element("diff", format="1")
    removed = ET.SubElement(ET.SubElement(ET.SubElement(ET.SubElement(
        diff, "diff-removed"), "cib"), "configuration"), "resources")
    ET.SubElement(ET.SubElement(removed, "primitive", id=resource), "meta_attributes",
                  {"id": outputs_set_id(resource), "__crm_diff_marker__": "removed:top"})
    added = ET.SubElement(ET.SubElement(diff, "diff-added"), "cib")
    if event is not None:
        workflow, key, value = event
        root = ET.SubElement(ET.SubElement(ET.SubElement(added, "configuration"),
                                           "resources"), "primitive", id=root_id(workflow))
        write.add_record(root, workflow, key, value).set("__crm_diff_marker__", "added:top")
    if pending:
        added.append(_pending_status(resource, False))
    return ET.tostring(diff, encoding="unicode")


def clear_outputs(resource: str, event: Record | None = None, pending: bool = True) -> None:
    """Forget a step's outputs and effect flags (its effect was undone), in one change;
    absent is fine. With ``event``, its record goes into the workflow's history in the
    same change.

    The history set is written by submit with the workflow's first event, so the
    record always has its set (a patch adds nothing under an element it lacks)."""
    result = _cibadmin(["--patch", "--xml-text", cleared_xml(resource, event, pending)])
    if result.returncode != 0:
        raise CibUnavailable(f"clearing outputs of {resource} failed: {result.stderr.strip()}")


def record_event(event: Record) -> bool:
    """Add one record to its workflow's history (a merge: nothing else changes)."""
    workflow, key, value = event
    root = ET.Element("primitive", id=root_id(workflow))
    write.add_record(root, workflow, key, value)
    result = _cibadmin(["--modify", "--scope", "resources", "--xml-text",
                        ET.tostring(root, encoding="unicode")])
    return result.returncode == 0


def delete_meta_set(set_id: str) -> None:
    """Delete the meta attribute set ``set_id``; absent is fine."""
    result = _cibadmin(["--delete", "--xml-text", f"<meta_attributes id={quoteattr(set_id)}/>"])
    if result.returncode not in (0, CIB_NO_SUCH_OBJECT):
        raise CibUnavailable(f"deleting {set_id} failed: {result.stderr.strip()}")
