"""``submit``: a workflow applied to the cluster as one atomic change; haflow's alert with it."""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from haflow.coordinator.cluster import live_view, livecib
from haflow.coordinator.cluster.quorum import require_quorum
from haflow.coordinator.codes import Code
from haflow.coordinator.commands.workflow_cib import (
    add_event,
    new_submission_id,
    with_alert,
    with_workflow,
)
from haflow.coordinator.reports import HaflowError, error
from haflow.encoding import ids, read, write
from haflow.encoding.service import IDEMPOTENCY_META

if TYPE_CHECKING:
    from lxml import etree

    from haflow.coordinator.cluster.env import Env
    from haflow.coordinator.workflow.model import Workflow

# a concurrent writer that created an id this submit creates too: tries before giving up
SUBMIT_ATTEMPTS = 5


@dataclass
class Submitted:
    workflow: str
    submission: str
    replaced: bool
    changed: bool
    resources: list[str] = field(default_factory=list)
    # True when an earlier submit with the same idempotency key made it: nothing was done
    replayed: bool = False


def submit(env: Env, wf: Workflow, replace: bool = False,
           idempotency: str | None = None) -> Submitted:
    """Apply ``wf`` as one atomic CIB change (all of it, or nothing).

    A name in use is refused unless ``replace``; a replacement keeps the
    submission id, so unchanged steps keep their idempotency keys and are
    neither restarted nor redone. When the cluster refuses the patch because
    a concurrent writer created an id it also creates (two first submits both
    adding the alert), the submit starts over from the CIB as it is now: a
    different workflow never makes it fail, the same name does.

    ``idempotency`` (a client's key and a digest of its request) is kept on the root in
    the same patch: a submit retried with it returns the first one's result, also when
    another node answers the retry (the API's Idempotency-Key).
    """
    require_quorum(env, f"submit workflow '{wf.name}'")
    for attempt in range(1, SUBMIT_ATTEMPTS + 1):
        try:
            return _submit_once(env, wf, replace, idempotency)
        except HaflowError as exc:
            if attempt == SUBMIT_ATTEMPTS or exc.reports[0].code != Code.CIB_CONFLICT:
                raise
            if read.elements_of(live_view.query(env), wf.name) and not replace:
                raise error(Code.WORKFLOW_EXISTS, f"workflow '{wf.name}' was submitted by "
                            "someone else at the same time; nothing of this submit was "
                            "applied") from exc
    raise AssertionError("unreachable")


def _submit_once(env: Env, wf: Workflow, replace: bool, idempotency: str | None) -> Submitted:
    old = live_view.query(env)
    if idempotency is not None:
        done = replayed(old, idempotency)
        if done is not None:
            return done
    present = read.elements_of(old, wf.name)
    if present and not replace:
        raise error(Code.WORKFLOW_EXISTS, f"a workflow named '{wf.name}' is already in the "
                    "cluster; use --replace to change it, or remove it first")
    # kept by a replacement; a fresh one even for a workflow of foreign agents only
    # (no step carries it, but its history names it)
    submission = read.submission_of(old, wf.name) or new_submission_id()
    new, compiled = with_workflow(old, wf, submission)
    # the alert that rolls back and records history rides in the same patch
    with_alert(new)
    if idempotency is not None:
        root = read.root_of(new, wf.name)
        assert root is not None
        write.set_nvpair(write.meta_set(root, ids.meta_set_id(root.get("id", ""))),
                         IDEMPOTENCY_META, idempotency)
    if present and livecib.diff(old, new) is None:
        return Submitted(wf.name, submission, True, False, compiled.resource_ids())
    verb = "replace" if present else "submit"
    add_event(new, env.node_name, wf.name, verb,
              f"submission {submission}, {len(wf.steps)} steps")
    doing = "replacing" if present else "submitting"
    changed = livecib.push(env, old, new, f"{doing} workflow '{wf.name}'")
    return Submitted(wf.name, submission, bool(present), changed, compiled.resource_ids())


def replayed(cib: etree._Element, idempotency: str) -> Submitted | None:
    """The submit that already used ``idempotency``'s key, or None; the same key with a
    different request (its digest) is refused."""
    key, _, digest = idempotency.partition(" ")
    for workflow in read.workflows(cib):
        root = read.root_of(cib, workflow)
        found = read.configured_meta(root).get(IDEMPOTENCY_META, "") if root is not None else ""
        if found.partition(" ")[0] != key:
            continue
        if found != idempotency:
            raise error(Code.IDEMPOTENCY_KEY_REUSED, f"Idempotency-Key {key!r} was used for "
                        f"another request (it made workflow '{workflow}'); nothing was done",
                        details={"workflow": workflow, "digest": digest})
        return Submitted(workflow, read.submission_of(cib, workflow) or "", False, False,
                         [p.get("id", "") for p in read.resources_of(cib, workflow)],
                         replayed=True)
    return None


def submit_file(env: Env, path: str, replace: bool = False, *,
                inputs: Mapping[str, object] | None = None, name: str | None = None
                ) -> Submitted:
    """Load, validate and submit the workflow in ``path`` with ``inputs``, as the instance
    ``name`` (else the file's name): all of it, or nothing."""
    from haflow.coordinator.workflow.loader import load

    return submit(env, load(path, inputs=inputs, name=name), replace=replace)


def configure_alert(env: Env, path: str | None = None) -> bool:
    """Install haflow's alert in the live CIB (one patch); True if it changed."""
    old = live_view.query(env)
    new = deepcopy(old)
    if not with_alert(new, path):
        return False
    return livecib.push(env, old, new, "configuring haflow's alert agent")


def missing_alert_agent(env: Env) -> str | None:
    """Why rollback and history will not work on ``env``'s node, or None: both need the
    alert agent installed on every node."""
    from haflow.agents import install

    path = str(install.alert_path(install.ocf_root()))
    if env.run(["test", "-x", path]).returncode == 0:
        return None
    return (f"the alert agent is not installed at {path} on {env.description}: failure "
            "policy rollback and 'haflow history' need it on every node "
            "('haflow agents install')")
