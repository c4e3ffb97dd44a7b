"""Workflows on a live cluster: submit, abort, retry, remove — each one atomic CIB change.

Every write goes through :mod:`haflow.coordinator.cluster.livecib` (one versionless
patch: all of it or nothing, and nobody else's concurrent change is lost),
and refuses without quorum, naming the partition's members.

A workflow's elements are found by id: the tag is the workflow's name, and
every resource and constraint id starts with ``NAME.`` (names never contain
a dot, so no other workflow's id can match).
"""

from __future__ import annotations

import secrets
from copy import deepcopy
from dataclasses import dataclass, field

from lxml import etree

from haflow.agents.alert.spool import EVENT_PREFIX, history_set_id
from haflow.coordinator.cluster import live_view
from haflow.coordinator.cluster import livecib as livecib  # re-exported: lab/workload.py uses it
from haflow.coordinator.cluster.env import Env
from haflow.coordinator.cluster.quorum import require_quorum
from haflow.coordinator.codes import Code
from haflow.coordinator.reports import HaflowError, error
from haflow.coordinator.workflow import roles
from haflow.coordinator.workflow.compiler import CompiledWorkflow, merge_into
from haflow.coordinator.workflow.compiler import (
    compile_workflow as compile_workflow,  # re-exported: lab/faults.py uses it
)
from haflow.coordinator.workflow.model import Workflow
from haflow.encoding.ids import root_id

SECTIONS = ("resources", "constraints", "tags")
ALERT_ID = "haflow-alert"
SUBMISSION_PARAM_XPATH = "instance_attributes/nvpair[@name='submission']"


def xpath(element: etree._Element, expr: str) -> list[etree._Element]:
    """``element.xpath(expr)`` for expressions that select elements (typed for mypy)."""
    found = element.xpath(expr)
    assert isinstance(found, list)
    return [e for e in found if isinstance(e, etree._Element)]


def owned_by(element_id: str, workflow: str) -> bool:
    return element_id == workflow or element_id.startswith(f"{workflow}.")


def elements_of(cib: etree._Element, workflow: str) -> list[etree._Element]:
    """The workflow's top-level resources, constraints and tag in ``cib``."""
    found = []
    for section in SECTIONS:
        holder = cib.find(f"configuration/{section}")
        if holder is not None:
            found += [e for e in holder if owned_by(e.get("id", ""), workflow)]
    return found


def require_workflow(cib: etree._Element, workflow: str) -> list[etree._Element]:
    found = elements_of(cib, workflow)
    if not found:
        known = ", ".join(roles.names(cib)) or "none"
        raise error(Code.WORKFLOW_NOT_FOUND, f"no workflow named '{workflow}' in the cluster "
                    f"(workflows: {known})")
    return found


def submission_of(cib: etree._Element, workflow: str) -> str | None:
    """The submission id the workflow's steps carry (None if it has no haflow step)."""
    for element in elements_of(cib, workflow):
        for nvpair in element.iter("nvpair"):
            if nvpair.get("name") == "submission" and \
                    nvpair.getparent().tag == "instance_attributes":  # type: ignore[union-attr]
                return nvpair.get("value")
    return None


def without(cib: etree._Element, workflow: str) -> etree._Element:
    """A copy of ``cib`` with nothing of ``workflow`` left in its configuration."""
    new = deepcopy(cib)
    for element in elements_of(new, workflow):
        element.getparent().remove(element)  # type: ignore[union-attr]
    return new


@dataclass
class Submitted:
    workflow: str
    submission: str
    replaced: bool
    changed: bool
    resources: list[str] = field(default_factory=list)


SUBMIT_ATTEMPTS = 5


def submit(env: Env, wf: Workflow, replace: bool = False) -> Submitted:
    """Apply ``wf`` as one atomic CIB change (all of it, or nothing).

    A name in use is refused unless ``replace``; a replacement keeps the
    submission id, so unchanged steps keep their idempotency keys and are
    neither restarted nor redone. When the cluster refuses the patch because
    a concurrent writer created an id it also creates (two first submits both
    adding the alert), the submit starts over from the CIB as it is now: a
    different workflow never makes it fail, the same name does.
    """
    require_quorum(env, f"submit workflow '{wf.name}'")
    for attempt in range(1, SUBMIT_ATTEMPTS + 1):
        try:
            return _submit_once(env, wf, replace)
        except HaflowError as exc:
            if attempt == SUBMIT_ATTEMPTS or exc.reports[0].code != Code.CIB_CONFLICT:
                raise
            if elements_of(live_view.query(env), wf.name) and not replace:
                raise error(Code.WORKFLOW_EXISTS, f"workflow '{wf.name}' was submitted by "
                            "someone else at the same time; nothing of this submit was "
                            "applied") from exc
    raise AssertionError("unreachable")


def _submit_once(env: Env, wf: Workflow, replace: bool) -> Submitted:
    old = live_view.query(env)
    present = elements_of(old, wf.name)
    if present and not replace:
        raise error(Code.WORKFLOW_EXISTS, f"a workflow named '{wf.name}' is already in the "
                    "cluster; use --replace to change it, or remove it first")
    # kept by a replacement; a fresh one even for a workflow of foreign agents only
    # (no step carries it, but its history names it)
    submission = submission_of(old, wf.name) or new_submission_id()
    new, compiled = with_workflow(old, wf, submission)
    # the alert that rolls back and records history rides in the same patch
    with_alert(new)
    if present and livecib.diff(old, new) is None:
        return Submitted(wf.name, submission, True, False, compiled.resource_ids())
    verb = "replace" if present else "submit"
    add_event(new, env, wf.name, verb, f"submission {submission}, {len(wf.steps)} steps")
    doing = "replacing" if present else "submitting"
    changed = livecib.push(env, old, new, f"{doing} workflow '{wf.name}'")
    return Submitted(wf.name, submission, bool(present), changed, compiled.resource_ids())


def with_workflow(old: etree._Element, wf: Workflow, submission: str | None = None
                  ) -> tuple[etree._Element, CompiledWorkflow]:
    """A copy of ``old`` with ``wf`` in it: added, or replacing the workflow of that name
    as ``submit --replace`` does (same submission, so nothing unchanged restarts; the
    outputs and history the cluster wrote are kept; an aborted one stays aborted)."""
    present = bool(elements_of(old, wf.name))
    submission = submission or submission_of(old, wf.name) or new_submission_id()
    compiled = compile_workflow(wf, submission=submission)
    new = _merge(without(old, wf.name), compiled)
    _keep_runtime_sets(old, new, wf.name, compiled.ids())
    if present and is_aborted(old, wf.name):
        roles.set_role(new, wf.name, "Stopped")  # replacing does not resume it: retry does
    return new, compiled


def add_event(cib: etree._Element, env: Env, workflow: str, task: str, text: str,
              step: str = "root") -> None:
    """Add a history event (as the alert agent writes them) to ``cib``, so that what an
    admin did goes into the same atomic patch as the doing of it."""
    import getpass
    import os
    import time

    roots = xpath(cib, f"configuration/resources//primitive[@id='{root_id(workflow)}']")
    if not roots:
        return
    set_id = history_set_id(workflow)
    meta = roots[0].find(f"meta_attributes[@id='{set_id}']")
    if meta is None:
        meta = etree.SubElement(roots[0], "meta_attributes", id=set_id)
    node = env.description.split()[0] if env.prefix else os.uname().nodename
    now = time.time()
    suffix = f"{now:.6f}".replace(".", "-") + f"-{node}-{task}"
    text = f"{text} (by {getpass.getuser()})"
    etree.SubElement(meta, "nvpair", id=f"{set_id}.{suffix}", name=f"{EVENT_PREFIX}{suffix}",
                     value=f"{step} {now:.6f} {node} {task} 0 0 ok {' '.join(text.split())}")


def _merge(cib: etree._Element, compiled: CompiledWorkflow) -> etree._Element:
    """merge_into on the configuration only: the status section names resources that
    ran (``lrm_resource id=WF.STEP``), which are no id collision for a replacement."""
    status = cib.find("status")
    if status is not None:
        cib.remove(status)
    try:
        merged = merge_into(cib, compiled)
    finally:
        if status is not None:
            cib.append(status)
    if status is not None:
        merged.append(deepcopy(status))
    return merged


def _keep_runtime_sets(old: etree._Element, new: etree._Element, workflow: str,
                       compiled_ids: set[str]) -> None:
    """A replacement keeps what the cluster wrote at run time: step outputs (later
    steps read them) and the history, both meta attribute sets the compiler never makes."""
    resources = new.find("configuration/resources")
    if resources is None:
        return
    for element in elements_of(old, workflow):
        for prim in element.iter("primitive"):
            target = xpath(resources, f".//primitive[@id='{prim.get('id')}']")
            if not target:
                continue
            for meta in prim.findall("meta_attributes"):
                if meta.get("id") not in compiled_ids:
                    target[0].append(deepcopy(meta))


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


def configure_alert(env: Env, path: str | None = None) -> bool:
    """Install haflow's alert in the live CIB (one patch); True if it changed."""
    old = live_view.query(env)
    new = deepcopy(old)
    if not with_alert(new, path):
        return False
    return livecib.push(env, old, new, "configuring haflow's alert agent")


def new_submission_id() -> str:
    return secrets.token_hex(4)


def set_workflow_role(env: Env, workflow: str, role: str | None, what: str,
                      event: tuple[str, str] | None = None) -> bool:
    """Set target-role on the root and every step in one change (``None``: remove it);
    True if changed."""
    old = live_view.query(env)
    require_workflow(old, workflow)
    if roles.root_of(old, workflow) is None:
        raise error(Code.WORKFLOW_DAMAGED, f"workflow '{workflow}' has no root "
                    f"({root_id(workflow)}); was it changed by hand?")
    new = deepcopy(old)
    roles.set_role(new, workflow, role)
    if event is not None:
        add_event(new, env, workflow, *event)
    return livecib.push(env, old, new, what)


def is_aborted(cib: etree._Element, workflow: str) -> bool:
    return (roles.target_role(cib, workflow) or "").lower() == "stopped"


def abort(env: Env, workflow: str) -> bool:
    """Stop the workflow: Pacemaker undoes every step, in reverse dependency order."""
    require_quorum(env, f"abort workflow '{workflow}'")
    cib = live_view.query(env)
    require_workflow(cib, workflow)
    if is_aborted(cib, workflow):
        raise error(Code.ALREADY_ABORTED, f"workflow '{workflow}' is already aborted (being "
                    "undone, or undone); 'haflow retry' runs it again, 'haflow remove' "
                    "deletes it")
    changed = set_workflow_role(env, workflow, "Stopped", f"aborting workflow '{workflow}'",
                                event=("abort", "every step is undone, in reverse order"))
    # a step held after a failure (on-fail=block) would block the rollback for good:
    # forget its failure; its partial effect is flagged and the root's stop undoes it.
    # Only steps that stay failed: cleaning up a step that recovered and runs would
    # make Pacemaker forget it runs, and skip its undo.
    for rid in stuck_steps(env, workflow):
        env.run(["crm_resource", "--cleanup", "--resource", rid])
    return changed


def stuck_steps(env: Env, workflow: str) -> list[str]:
    """The workflow's steps that failed and do not run (failed or blocked)."""
    from haflow.coordinator import status

    cib, mon = live_view.read_live(env)
    found = status.workflow_status(cib, mon, workflow)
    return [s.resource for s in found.steps
            if s.state in (status.StepState.FAILED, status.StepState.BLOCKED)]


def record_event(env: Env, workflow: str, task: str, text: str) -> None:
    """One history event of the workflow, as its own patch."""
    old = live_view.query(env)
    new = deepcopy(old)
    add_event(new, env, workflow, task, text)
    livecib.push(env, old, new, f"recording {task} of workflow '{workflow}'")


def retry(env: Env, workflow: str, step: str | None = None) -> list[str]:
    """Clear failures (of one step, or all) so the steps run again; un-abort the workflow.

    Returns the resources whose failures were cleared.
    """
    from haflow.encoding.ids import step_id

    require_quorum(env, f"retry workflow '{workflow}'")
    cib = live_view.query(env)
    found = require_workflow(cib, workflow)
    ids = [e.get("id", "") for e in found if e.tag == "primitive"]
    if step is not None:
        wanted = step_id(workflow, step)
        if wanted not in ids:
            steps = ", ".join(i.split(".", 1)[1] for i in ids if i != root_id(workflow))
            raise error(Code.STEP_NOT_FOUND, f"workflow '{workflow}' has no step '{step}' "
                        f"(steps: {steps})")
        ids = [wanted]
    what = f"failures of {step or 'every step'} cleared"
    if is_aborted(cib, workflow):
        set_workflow_role(env, workflow, None, f"restarting workflow '{workflow}'",
                          event=("retry", what + "; the workflow runs again"))
    else:
        record_event(env, workflow, "retry", what)
    for rid in ids:
        result = env.run(["crm_resource", "--cleanup", "--resource", rid])
        if result.returncode != 0:
            raise error(Code.CLEANUP_FAILED, f"clearing failures of {rid} failed: "
                        f"{result.stderr.strip()}")
    return ids


def remove(env: Env, workflow: str, active: list[str], force: bool = False,
           leftovers: list[str] | None = None, failed_stops: list[str] | None = None) -> None:
    """Delete the workflow in one change, once nothing of it runs.

    ``active`` are its resources still running somewhere (from crm_mon);
    ``leftovers`` the steps whose effect may remain (failed or blocked
    without an undo); ``failed_stops`` the blocked ones Pacemaker still
    counts as active because their stop failed. Without ``force``
    ``active`` and ``leftovers`` must be empty; with it, only ``active`` —
    and the caller tells the admin about the leftovers.
    """
    require_quorum(env, f"remove workflow '{workflow}'")
    old = live_view.query(env)
    require_workflow(old, workflow)
    if active:
        raise error(Code.WORKFLOW_RUNNING, f"workflow '{workflow}' still runs ({', '.join(active)})"
                    "; abort it and wait until it is undone, then remove it")
    if leftovers and not force:
        raise error(Code.EFFECTS_REMAIN, f"workflow '{workflow}' has steps that failed without "
                    f"being undone, their effects may remain: {', '.join(leftovers)}; "
                    "clean them up (or 'haflow retry' then 'haflow abort'), or remove with "
                    "--force")
    if failed_stops:
        forget_failed_stops(env, workflow, failed_stops)
        old = live_view.query(env)
    livecib.push(env, old, without(old, workflow), f"removing workflow '{workflow}'")


FORGET_TIMEOUT = 30.0


def forget_failed_stops(env: Env, workflow: str, resources: list[str]) -> None:
    """Make Pacemaker forget the failed stops of ``resources`` before they are deleted.

    A deleted resource whose last stop failed is an orphan Pacemaker cannot
    know stopped, and it fences the node for it (crm_simulate shows the
    fencing). Cleaned up while still configured (target-role Stopped, no
    probe for haflow steps), it is simply stopped. A foreign step is probed
    again; if its stop fails again it stays, and nothing is deleted.
    """
    import time

    from haflow.coordinator import status

    for rid in resources:
        env.run(["crm_resource", "--cleanup", "--resource", rid])
    deadline = time.monotonic() + FORGET_TIMEOUT
    while True:
        _, mon = live_view.read_live(env)
        parsed = status.parse_mon(mon)
        still = [r for r in resources if parsed.resources.get(r) and parsed.resources[r].active]
        if not still:
            return
        if time.monotonic() > deadline:
            raise error(Code.STOP_STILL_FAILED, f"workflow '{workflow}': the failed stop of "
                        f"{', '.join(still)} did not clear; not removing it (Pacemaker would "
                        "fence its node for a deleted resource whose stop failed)")
        time.sleep(0.5)
