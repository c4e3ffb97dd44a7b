"""A workflow in a copy of the CIB: found, added, replaced, removed, its events recorded.

Pure edits on lxml elements, no cluster: the commands read the live CIB, edit a
copy with these, and push the difference as one atomic patch
(:func:`haflow.coordinator.cluster.livecib.push`); ``haflow plan`` simulates the
same copy instead. Which elements are a workflow's, and how ids, meta
attributes and records are spelled, is the encoding's (haflow.encoding).
"""

from __future__ import annotations

import secrets
from copy import deepcopy
from typing import TYPE_CHECKING

from lxml import etree

from haflow.coordinator.codes import Code
from haflow.coordinator.reports import error
from haflow.coordinator.workflow.compiler import CompiledWorkflow, compile_workflow, merge_into
from haflow.coordinator.workflow.model import Workflow
from haflow.encoding import ids, read, tickets, write
from haflow.encoding.meta import STOPPED
from haflow.encoding.record import Event

if TYPE_CHECKING:
    from haflow.coordinator.cluster.env import Env

ALERT_ID = "haflow-alert"


def require_workflow(cib: etree._Element, workflow: str) -> list[etree._Element]:
    """The workflow's elements; WORKFLOW_NOT_FOUND (naming those there are) if none."""
    found = read.elements_of(cib, workflow)
    if not found:
        known = ", ".join(read.workflows(cib)) or "none"
        raise error(Code.WORKFLOW_NOT_FOUND, f"no workflow named '{workflow}' in the cluster "
                    f"(workflows: {known})")
    return found


def require_root(cib: etree._Element, workflow: str) -> etree._Element:
    """The workflow's root; WORKFLOW_DAMAGED if the workflow has none."""
    require_workflow(cib, workflow)
    root = read.root_of(cib, workflow)
    if root is None:
        raise error(Code.WORKFLOW_DAMAGED, f"workflow '{workflow}' has no root "
                    f"({ids.root_id(workflow)}); was it changed by hand?")
    return root


def without(cib: etree._Element, workflow: str) -> etree._Element:
    """A copy of ``cib`` with nothing of ``workflow`` left in its configuration."""
    new = deepcopy(cib)
    for element in read.elements_of(new, workflow):
        element.getparent().remove(element)  # type: ignore[union-attr]
    return new


def new_submission_id() -> str:
    return secrets.token_hex(4)


def with_workflow(old: etree._Element, wf: Workflow, submission: str | None = None
                  ) -> tuple[etree._Element, CompiledWorkflow]:
    """A copy of ``old`` with ``wf`` in it: added, or replacing the workflow of that name
    as ``submit --replace`` does (same submission, so nothing unchanged restarts; the
    outputs and history the cluster wrote are kept; an aborted one stays aborted)."""
    present = bool(read.elements_of(old, wf.name))
    submission = submission or read.submission_of(old, wf.name) or new_submission_id()
    compiled = compile_workflow(wf, submission=submission)
    new = _merge(without(old, wf.name), compiled, _places(old, wf.name))
    _keep_runtime_sets(old, new, wf.name, compiled.ids())
    if present and read.aborted(old, wf.name):
        write.set_role(new, wf.name, STOPPED)  # replacing does not resume it: retry does
    if present and tickets.pause_constraint(old, wf.name) is not None:
        tickets.add_pause(new, wf.name)  # nor a paused one: resume does
    if not present:
        # approvals given to a removed workflow of this name are not this one's
        tickets.forget_tickets(new, wf.name)
    return new, compiled


def _places(cib: etree._Element, workflow: str) -> dict[str, int]:
    """Where the workflow's elements begin in each section of the configuration (those
    before the first are not its own: their indexes stay once it is taken out)."""
    places: dict[str, int] = {}
    for element in read.elements_of(cib, workflow):
        section = element.getparent()
        assert section is not None
        places.setdefault(section.tag, section.index(element))
    return places


def _merge(cib: etree._Element, compiled: CompiledWorkflow,
           places: dict[str, int]) -> etree._Element:
    """merge_into on the configuration only: the status section names resources that
    ran (``lrm_resource id=WF.STEP``), which are no id collision for a replacement."""
    status = cib.find("status")
    if status is not None:
        cib.remove(status)
    try:
        merged = merge_into(cib, compiled, places)
    finally:
        if status is not None:
            cib.append(status)
    if status is not None:
        merged.append(deepcopy(status))
    return merged


def _keep_runtime_sets(old: etree._Element, new: etree._Element, workflow: str,
                       compiled_ids: set[str]) -> None:
    """A replacement keeps what the cluster wrote at run time: step outputs (later
    steps read them), the history and a sweep under way, sets the compiler never makes."""
    for prim in read.resources_of(old, workflow):
        target = read.primitive(new, prim.get("id", ""))
        if target is None:
            continue
        for meta in prim.findall("meta_attributes"):
            if meta.get("id") not in compiled_ids:
                target.append(deepcopy(meta))


def add_event(cib: etree._Element, env: Env, workflow: str, task: str, text: str,
              step: str = ids.ROOT_STEP) -> None:
    """Record what an admin (or an API caller: ``env.actor``) did on ``env``'s node in
    ``cib`` (as the alert agent records what ran), so that it goes into the same atomic
    patch as the doing of it."""
    import getpass
    import time

    root = read.root_of(cib, workflow)
    if root is None:
        return
    event = Event(time.time(), env.node_name, step, task, 0, 0, "ok",
                  f"{text} (by {env.actor or getpass.getuser()})")
    write.add_event(root, workflow, event, task)


def alert_element(path: str | None = None) -> etree._Element:
    """haflow's ``<alert>`` (from cib_templates/alerts.xml), for the installed agent."""
    from haflow.agents import install
    from haflow.cib_templates import render

    where = path or str(install.alert_path(install.ocf_root()))
    return etree.fromstring(render("alerts.xml", alert_id=ALERT_ID, path=where).encode())


def with_alert(cib: etree._Element, path: str | None = None) -> bool:
    """Add (or repair) haflow's alert in ``cib``'s configuration; True if it changed."""
    config = cib.find("configuration")
    assert config is not None
    alerts = config.find("alerts")
    wanted = alert_element(path)
    if alerts is None:
        # the schema orders the sections: alerts come after constraints, before tags
        alerts = etree.Element("alerts")
        after = config.find("constraints")
        if after is not None:
            after.addnext(alerts)
        else:
            config.append(alerts)
    existing = alerts.find(f"alert[@id='{ALERT_ID}']")
    if existing is not None:
        # an older haflow's alert (e.g. one that did not select fencing) is replaced
        if etree.tostring(existing).split() == etree.tostring(wanted).split():
            return False
        alerts.remove(existing)
    alerts.append(wanted)
    return True
