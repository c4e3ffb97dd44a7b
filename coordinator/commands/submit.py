"""``submit``: a workflow applied to the cluster as one atomic change; haflow's alert with it."""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from dataclasses import replace as replace_field
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
from haflow.coordinator.reports import HaflowError, Report, error
from haflow.encoding import ids, live, read, write
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
    return submit_many(env, [wf], replace, idempotency)[0]


def submit_many(env: Env, workflows: list[Workflow], replace: bool = False,
                idempotency: str | None = None) -> list[Submitted]:
    """Apply every workflow in one atomic CIB change, as :func:`submit` applies one: all
    of them, or none (one name in use, or twice among them, and nothing is applied).

    One change, not one per workflow: each configuration change makes Pacemaker's
    scheduler run again and aborts the transition under way (issue 15). ``idempotency``
    is :func:`submit`'s, for one workflow."""
    assert idempotency is None or len(workflows) == 1, "an idempotency key is one submit's"
    names = [wf.name for wf in workflows]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise error(Code.DUPLICATE_WORKFLOW, f"workflow {', '.join(map(repr, twice))} is "
                    "given more than once; nothing was applied")
    require_quorum(env, f"submit workflow {_named(names)}")
    for attempt in range(1, SUBMIT_ATTEMPTS + 1):
        try:
            return _submit_once(env, workflows, replace, idempotency)
        except HaflowError as exc:
            if attempt == SUBMIT_ATTEMPTS or exc.reports[0].code != Code.CIB_CONFLICT:
                raise
            now = live_view.query(env)
            taken = [n for n in names if read.elements_of(now, n)]
            if taken and not replace:
                raise error(Code.WORKFLOW_EXISTS, f"workflow {_named(taken)} was submitted "
                            "by someone else at the same time; nothing of this submit was "
                            "applied") from exc
    raise AssertionError("unreachable")


def _named(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _submit_once(env: Env, workflows: list[Workflow], replace: bool,
                 idempotency: str | None) -> list[Submitted]:
    old = live_view.query(env)
    if idempotency is not None:
        done_before = replayed(old, idempotency)
        if done_before is not None:
            return [done_before]
    present = {wf.name for wf in workflows if read.elements_of(old, wf.name)}
    # what the agents of a removed workflow recorded (of the same name: not this one's)
    # and what a compaction left: agents drop only their own workflow's
    status = old.find("status")
    if status is not None and live.compaction_patch(old, status, read.durable_copies(old)):
        livecib.compact_status(env)
        old = live_view.query(env)
    if present and not replace:
        raise HaflowError(*(error(Code.WORKFLOW_EXISTS, f"a workflow named '{name}' is "
                                  "already in the cluster; use --replace to change it, or "
                                  "remove it first").reports[0]
                            for name in sorted(present)))
    new = old
    done: list[Submitted] = []
    events: list[tuple[str, str, str]] = []
    for wf in workflows:
        # kept by a replacement; a fresh one even for a workflow of foreign agents only
        # (no step carries it, but its history names it)
        submission = read.submission_of(old, wf.name) or new_submission_id()
        before = new
        new, compiled = with_workflow(new, wf, submission)
        replaced = wf.name in present
        changed = not replaced or livecib.diff(before, new) is not None
        if changed:
            events.append((wf.name, "replace" if replaced else "submit",
                           f"submission {submission}, {len(wf.steps)} steps"))
        done.append(Submitted(wf.name, submission, replaced, changed,
                              compiled.resource_ids()))
    if idempotency is not None:
        root = read.root_of(new, workflows[0].name)
        assert root is not None
        write.set_nvpair(write.meta_set(root, ids.meta_set_id(root.get("id", ""))),
                         IDEMPOTENCY_META, idempotency)
        if done[0].replaced and not done[0].changed and livecib.diff(old, new) is not None:
            events.append((done[0].workflow, "replace", f"submission {done[0].submission}, "
                           f"{len(workflows[0].steps)} steps"))
            done[0] = replace_field(done[0], changed=True)
    # the alert that rolls back and records history rides in the same patch; one to
    # repair makes a replacement by the same workflows a change too
    if with_alert(new) and not events:
        events = [(d.workflow, "replace", f"submission {d.submission}, "
                   f"{len(wf.steps)} steps") for d, wf in zip(done, workflows, strict=True)]
        done = [replace_field(d, changed=True) for d in done]
    if not events:
        return done  # every workflow replaced by itself
    for name, verb, text in events:
        add_event(new, env, name, verb, text)
    doing = "replacing" if present else "submitting"
    livecib.push(env, old, new, f"{doing} workflow {_named([wf.name for wf in workflows])}")
    return done


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
    return submit_files(env, [path], replace, inputs=inputs, name=name)[0]


def submit_files(env: Env, paths: list[str], replace: bool = False, *,
                 inputs: Mapping[str, object] | None = None, name: str | None = None
                 ) -> list[Submitted]:
    """Load and validate every file (each with ``inputs``, as ``name``: for one file),
    then submit them all in one change; any file's errors (all of them, every file's)
    and nothing is applied."""
    from haflow.coordinator.workflow.loader import load

    workflows: list[Workflow] = []
    reports: list[Report] = []
    for path in paths:
        try:
            workflows.append(load(path, inputs=inputs, name=name))
        except HaflowError as exc:
            reports.extend(exc.reports)
    if reports:
        raise HaflowError(*reports)
    return submit_many(env, workflows, replace=replace)


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
