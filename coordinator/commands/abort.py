"""``abort`` and ``retry``: one target-role on every resource of a workflow, in one change.

The root is ordered before the first steps by Optional orders (the compiler's
root), so stopping the root alone stops nothing else. An abort sets
target-role=Stopped on the root and on every step at once: the orders between
steps are mandatory and symmetrical, so Pacemaker stops the steps in reverse
dependency order, and the root last (its stop is the rollback's last act,
agents/sweep.py). A retry removes those target-roles again and clears failures.
"""

from __future__ import annotations

from copy import deepcopy
from typing import TYPE_CHECKING

from haflow.coordinator.cluster import live_view, livecib
from haflow.coordinator.cluster.quorum import require_quorum
from haflow.coordinator.codes import Code
from haflow.coordinator.commands.workflow_cib import add_event, require_root, require_workflow
from haflow.coordinator.reports import HaflowError, Report, error
from haflow.encoding import ids, read, tickets, write
from haflow.encoding.meta import STOPPED

if TYPE_CHECKING:
    from lxml import etree

    from haflow.coordinator.cluster.env import Env


def set_workflow_role(env: Env, workflow: str, role: str | None, what: str,
                      event: tuple[str, str] | None = None, resume: bool = False) -> bool:
    """Set target-role on the root and every step in one change (``None``: remove it),
    with ``event`` (task, text) in its history, and, ``resume``, its pause removed in the
    same change; True if changed."""
    old = live_view.query(env)
    require_root(old, workflow)
    new = deepcopy(old)
    write.set_role(new, workflow, role)
    if resume:
        tickets.remove_pause(new, workflow)
    if event is not None:
        add_event(new, env, workflow, *event)
    return livecib.push(env, old, new, what)


def abort(env: Env, workflow: str) -> bool:
    """Stop the workflow: Pacemaker undoes every step, in reverse dependency order."""
    return bool(abort_many(env, [workflow]))


def abort_many(env: Env, workflows: list[str] | None) -> list[str]:
    """Stop every workflow named (None: every one not aborted yet) in one change: all of
    them, or none (one unknown or already aborted, and nothing changes). Returns the
    workflows the change aborted.

    One change, not one per workflow: each configuration change makes Pacemaker's
    scheduler run again and aborts the transition under way (issue 15)."""
    names = "every workflow" if workflows is None else \
        "workflow " + ", ".join(f"'{w}'" for w in workflows)
    require_quorum(env, f"abort {names}")
    old, mon = live_view.read_live(env)
    if workflows is None:
        wanted = [w for w in read.workflows(old) if not read.aborted(old, w)]
    else:
        wanted = list(dict.fromkeys(workflows))
        problems = [report for w in wanted for report in _abort_problems(old, w)]
        if problems:
            raise HaflowError(*problems)
    if not wanted:
        return []
    # a step held after a failure (on-fail=block) would block the rollback for good:
    # its failure is forgotten once the abort is in (its partial effect is flagged, and
    # the root's stop undoes it). Decided from the view before the abort: a step whose
    # undo fails under this abort must keep that failure (seen in a CI run: read after
    # the push, the abort cleaned up its own failed stop, and Pacemaker forgot the step
    # ran). Only steps that stay failed: cleaning up a step that recovered and runs would
    # make Pacemaker forget it runs, and skip its undo.
    stuck = stuck_steps(old, mon, wanted)
    new = deepcopy(old)
    for workflow in wanted:
        write.set_role(new, workflow, STOPPED)
        # a paused workflow is frozen: nothing would stop. Aborting is the admin's word
        # that it should be undone, so the pause goes in the same change
        # (docs/workflow-format.md)
        was_paused = tickets.pause_constraint(old, workflow) is not None
        if was_paused:
            tickets.remove_pause(new, workflow)
        add_event(new, env, workflow, "abort", "every step is undone, in reverse "
                  "order" + (" (it was paused: the pause is lifted to undo it)"
                             if was_paused else ""))
    if not livecib.push(env, old, new, f"aborting {names}"):
        return []
    for rid in stuck:
        env.run(["crm_resource", "--cleanup", "--resource", rid])
    return wanted


def _abort_problems(cib: etree._Element, workflow: str) -> list[Report]:
    """Why ``workflow`` cannot be aborted (not there, no root, aborted already), if so."""
    try:
        require_root(cib, workflow)
    except HaflowError as exc:
        return list(exc.reports)
    if read.aborted(cib, workflow):
        return list(error(Code.ALREADY_ABORTED, f"workflow '{workflow}' is already aborted "
                          "(being undone, or undone); 'haflow retry' runs it again, 'haflow "
                          "remove' deletes it").reports)
    return []


def stuck_steps(cib: etree._Element, mon: etree._Element, workflows: list[str]) -> list[str]:
    """The workflows' steps that failed and do not run (failed or blocked), in ``cib``
    and crm_mon's view of it, ``mon``."""
    from haflow.coordinator import status

    parsed = status.parse_mon(mon)
    return [s.resource for workflow in workflows
            for s in status.workflow_status(cib, parsed, workflow).steps
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
    require_quorum(env, f"retry workflow '{workflow}'")
    cib = live_view.query(env)
    require_workflow(cib, workflow)
    resources = [p.get("id", "") for p in read.resources_of(cib, workflow)]
    if step is not None:
        wanted = ids.step_id(workflow, step)
        if wanted not in resources:
            steps = ", ".join(i.split(".", 1)[1] for i in resources
                              if i != ids.root_id(workflow))
            raise error(Code.STEP_NOT_FOUND, f"workflow '{workflow}' has no step '{step}' "
                        f"(steps: {steps})")
        resources = [wanted]
    what = f"failures of {step or 'every step'} cleared"
    if read.aborted(cib, workflow):
        set_workflow_role(env, workflow, None, f"restarting workflow '{workflow}'",
                          event=("retry", what + "; the workflow runs again"))
    else:
        record_event(env, workflow, "retry", what)
    for rid in resources:
        result = env.run(["crm_resource", "--cleanup", "--resource", rid])
        if result.returncode != 0:
            raise error(Code.CLEANUP_FAILED, f"clearing failures of {rid} failed: "
                        f"{result.stderr.strip()}")
    return resources
