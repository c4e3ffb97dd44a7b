"""Workflow and step states, from the CIB and crm_mon's XML of that same CIB.

Pure functions over parsed XML (tests feed them recorded XML). The CIB gives
what was configured (steps, dependencies, policy, outputs: config.py) and what
happened (the status section: node_state.py); crm_mon adds what only the
scheduler knows (mon.py). Each is indexed once per call, then every step is
looked up, not searched for: the cost is linear in the CIB's size.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from haflow.coordinator.status.config import Config, agent
from haflow.coordinator.status.model import (
    INFINITY,
    STUCK_FACTOR,
    Failure,
    StepState,
    StepStatus,
    WorkflowState,
    WorkflowStatus,
)
from haflow.coordinator.status.mon import Mon, parse_mon
from haflow.coordinator.status.node_state import RC_TEXT, NodeStates
from haflow.encoding import tickets
from haflow.encoding.heartbeat import DEFAULT_INTERVAL, parse_value
from haflow.encoding.ids import root_id, sweep_set_id
from haflow.encoding.meta import (
    FAILURE_POLICY_META,
    HEARTBEAT_ATTR_PREFIX,
    PARAM_DESCRIPTION,
    PARAM_SUBMISSION,
    POLICY_HOLD,
    POLICY_ROLLBACK,
    SKIPPED_META,
    STOPPED,
    TARGET_ROLE,
    UNIT_META,
)
from haflow.encoding.read import (
    checkpoint_pending,
    configured_meta,
    effect_flagged,
    migration_threshold,
    step_outputs,
    workflows,
)
from haflow.encoding.value import from_cib

if TYPE_CHECKING:
    from lxml import etree

BLOCKED_NOTE = ("its effect may remain: the rollback could not undo it (the workflow "
                "root's log says why); undo it by hand and 'haflow remove --force', or "
                "'haflow retry' then 'haflow abort'")


def workflow_status(cib: etree._Element, mon: etree._Element | Mon, workflow: str,
                    now: float | None = None,
                    heartbeat_interval: float = DEFAULT_INTERVAL) -> WorkflowStatus:
    """The state of ``workflow`` and of each of its steps (in dependency order), from the
    CIB and crm_mon's XML of it (or the view already read from either: ``Mon``)."""
    now = time.time() if now is None else now
    return _status(Config(cib), _parsed(mon), NodeStates(cib), workflow, now,
                   heartbeat_interval, cib)


def all_status(cib: etree._Element, mon: etree._Element | Mon, now: float | None = None,
               heartbeat_interval: float = DEFAULT_INTERVAL) -> list[WorkflowStatus]:
    """Every workflow's status, by name."""
    now = time.time() if now is None else now
    config, parsed, nodes = Config(cib), _parsed(mon), NodeStates(cib)
    return [_status(config, parsed, nodes, name, now, heartbeat_interval, cib)
            for name in workflows(cib)]


def _parsed(mon: etree._Element | Mon) -> Mon:
    return mon if isinstance(mon, Mon) else parse_mon(mon)


def _status(config: Config, mon: Mon, nodes: NodeStates, workflow: str, now: float,
            interval: float, cib: etree._Element) -> WorkflowStatus:
    root = config.root(workflow)
    paused = tickets.paused(cib, workflow)
    root_meta = configured_meta(root) if root is not None else {}
    aborted = root_meta.get(TARGET_ROLE, "").lower() == STOPPED.lower()
    policy = root_meta.get(FAILURE_POLICY_META, POLICY_ROLLBACK)
    description = None
    submission = None
    if root is not None:
        for nvpair in root.iterfind("instance_attributes/nvpair"):
            if nvpair.get("name") == PARAM_DESCRIPTION:
                description = from_cib(nvpair.get("value", ""))
    deps = config.dependencies(workflow)
    steps: list[StepStatus] = []
    by_id: dict[str, StepStatus] = {}
    for prim in config.steps(workflow):
        for nvpair in prim.iterfind("instance_attributes/nvpair"):
            if nvpair.get("name") == PARAM_SUBMISSION:
                submission = nvpair.get("value")
        step = _step(config, prim, mon, nodes, aborted, now, interval, paused)
        steps.append(step)
        by_id[step.resource] = step
    # waiting: on which dependencies (ones not done yet)
    root_rid = root_id(workflow)
    root_running = mon.resource(root_rid).not_stopped
    for step in steps:
        if step.state != StepState.WAITING:
            continue
        for dep in sorted(deps.get(step.resource, ())):
            if dep in by_id and by_id[dep].state != StepState.DONE:
                step.waiting_on.append(by_id[dep].name)
            elif dep == root_rid and not root_running:
                step.waiting_on.append("root")
        if not step.waiting_on and mon.online and not step.retry_on:
            step.note = "no online node may run it (placement, or fail counts)"
        if paused and not step.waiting_on:
            step.note = "the workflow is paused: it starts once resumed"
    if aborted and not root_running and not sweep_pending(root, nodes, workflow):
        for step in steps:
            if step.state == StepState.UNDOING and step.effect_flagged and \
                    not mon.resource(step.resource).not_stopped:
                step.state = StepState.BLOCKED
                step.note = BLOCKED_NOTE
    _awaiting_approval(cib, workflow, by_id)
    steps = ordered(steps, deps, by_id)
    steps += [StepStatus(name, "", "", StepState.SKIPPED, policy,
                         note="its condition (when) was false at submit")
              for name in root_meta.get(SKIPPED_META, "").split()]
    # the alert asked for the root's sweep: the root starts and stops again, so the
    # rollback is not over even with every step undone (it would read rolled back, then
    # rolling back while the root runs, then rolled back)
    state = WorkflowState.PAUSED if paused else _workflow_state(
        steps, aborted, policy, root_active=root_running or sweep_requested(root, workflow))
    pending = checkpoint_pending(config.primitives(workflow), workflow, config.live)
    return WorkflowStatus(workflow, state, policy, aborted, submission, steps, description,
                          paused=paused, checkpoint_pending=pending)


def _awaiting_approval(cib: etree._Element, workflow: str,
                       by_id: dict[str, StepStatus]) -> None:
    """A step held by a gate no one approved yet waits for that, not for a step."""
    for gate, held in tickets.gates(cib, workflow).items():
        if tickets.approved(cib, workflow, gate):
            continue
        for rid in held:
            step = by_id.get(rid)
            if step is not None and step.state == StepState.WAITING:
                step.state = StepState.AWAITING_APPROVAL
                step.note = f"waits for 'haflow approve {workflow} {gate}'"


def sweep_pending(root: etree._Element | None, nodes: NodeStates, workflow: str) -> bool:
    """Whether the root's stop — the rollback's last act, which finishes undos cut
    short (agents/sweep.py) — may still run, with the root not active.

    It will when the alert agent asked for it (the root's sweep set), and when no
    node's history shows the root stopped by its own stop or found stopped by a
    probe: then its stop was a fencing's, whose alert starts the root again so that
    it stops and sweeps (agents/alert/agent.py). Only a root whose stop ran, or that
    the cluster found stopped, leaves nothing to finish a step's undo: BLOCKED."""
    if root is None:
        return False
    if sweep_requested(root, workflow):
        return True
    return not any(not op.pending and ((op.operation == "stop" and op.rc == 0) or
                                       (op.operation == "monitor" and op.rc == 7))
                   for op in nodes.ops(root_id(workflow)))


def sweep_requested(root: etree._Element | None, workflow: str) -> bool:
    """Whether the alert agent asked for the root's sweep (its sweep set is there)."""
    return root is not None and any(m.get("id") == sweep_set_id(workflow)
                                    for m in root.iterfind("meta_attributes"))


def ordered(steps: list[StepStatus], deps: dict[str, set[str]],
            by_id: dict[str, StepStatus]) -> list[StepStatus]:
    """Dependency order, as the compiler wrote them: round by round, the steps whose
    dependencies (among ``steps``) are all in earlier rounds, each round in CIB order;
    a cycle (no compiled CIB has one: hand-edited) takes the first step left alone.

    Counting each step's unmet dependencies down, not checking every step left each
    round: a chain of 500 steps is 500 rounds."""
    position = {s.resource: i for i, s in enumerate(steps)}
    unmet: dict[str, int] = {}
    dependents: dict[str, list[str]] = {}
    for step in steps:
        within = [d for d in deps.get(step.resource, ()) if d in by_id]
        unmet[step.resource] = len(within)
        for dep in within:
            dependents.setdefault(dep, []).append(step.resource)
    done: set[str] = set()
    out: list[StepStatus] = []
    ready = [s for s in steps if not unmet[s.resource]]
    first_left = 0  # no step before this index is left (for a cycle)
    while len(done) < len(position):
        if not ready:
            while steps[first_left].resource in done:
                first_left += 1
            ready = [steps[first_left]]
        for step in ready:
            done.add(step.resource)
            out.append(step)
        unlocked: set[str] = set()
        for step in ready:
            for rid in dependents.get(step.resource, ()):
                unmet[rid] -= 1
                if not unmet[rid] and rid not in done:
                    unlocked.add(rid)
        ready = [by_id[rid] for rid in sorted(unlocked, key=position.__getitem__)]
    return out


def _step(config: Config, prim: etree._Element, mon: Mon, nodes: NodeStates,
          aborted: bool, now: float, interval: float, paused: bool = False) -> StepStatus:
    rid = prim.get("id", "")
    meta = configured_meta(prim)
    # the compiler writes a step's policy where it is not rollback (read.failure_policy)
    policy = meta.get(FAILURE_POLICY_META, POLICY_ROLLBACK)
    threshold = migration_threshold(config.cib, prim)
    self_stopped = meta.get(TARGET_ROLE, "").lower() == STOPPED.lower()
    res = mon.resource(rid)
    counts = nodes.fail_counts(rid)
    failure_op = nodes.last_failure(rid)
    failure = None
    if failure_op is not None:
        failure = Failure(failure_op.label(), failure_op.node, failure_op.rc,
                          RC_TEXT.get(failure_op.rc, "error"), failure_op.exit_reason,
                          failure_op.last_rc_change)
    node = res.nodes[0] if res.nodes else None
    step = StepStatus(rid.split(".", 1)[1], rid, agent(prim), StepState.WAITING, policy,
                      node=node, outputs=step_outputs(prim, config.live), failure=failure,
                      fail_count=counts,
                      migration_threshold=threshold,
                      effect_flagged=effect_flagged(prim, config.live),
                      unit=meta.get(UNIT_META))
    step.retry_on = [n for n in mon.online if counts.get(n, 0) < threshold
                     and not config.banned(rid, n)]
    undoing = aborted or self_stopped
    # a pause freezes what runs (unmanaged, blocked): that is the pause, not a problem
    frozen = paused and res.active and not res.failed
    if (res.blocked or not res.managed) and not frozen:
        step.state = StepState.BLOCKED
        why = "unmanaged" if not res.managed else "blocked"
        # by name: of two ops of one name (monitors), the last one's on-fail counts
        on_fail = {op.get("name", ""): op.get("on-fail", "")
                   for op in prim.iterfind("operations/op")}
        blocking = [name for name, value in on_fail.items() if value == "block"]
        if failure is not None and failure.operation.split()[0] in blocking:
            why = f"{failure.operation} failed with on-fail=block"
        step.note = f"{why}: Pacemaker leaves it as it is until an admin acts"
    elif res.role == "Starting" or (res.role == "Migrating"):
        step.state = StepState.STARTING
    elif res.role == "Stopping" or (res.active and undoing):
        step.state = StepState.UNDOING if undoing else StepState.STARTING
        if not undoing:
            step.note = f"being stopped on {node} to recover or move"
    elif res.active and res.failed:
        step.state = StepState.FAILED
        step.note = _retry_note(step)
    elif res.active:
        step.state = StepState.DONE
    elif undoing and step.effect_flagged:
        # stopped, but its undo was cut short (fencing) or it failed half-way: the
        # root's stop, the rollback's last act, undoes it (agents/sweep.py)
        step.state = StepState.UNDOING
        step.note = "stopped with its effect still flagged: the rollback's last act undoes it"
    elif undoing:
        step.state = StepState.UNDONE
    elif counts or failure is not None:
        step.state = StepState.FAILED
        step.note = _retry_note(step)
    if step.state == StepState.DONE:
        started = nodes.start_time(rid, node)
        if started is not None:
            step.started, step.duration = started
    if step.state in (StepState.STARTING, StepState.UNDOING):
        _heartbeat(step, nodes, now, interval)
    return step


def _retry_note(step: StepStatus) -> str:
    if step.policy == POLICY_HOLD:
        return "failure policy hold: left as it is for an admin"
    if step.retry_on:
        return f"will be retried on {', '.join(step.retry_on)}"
    threshold = "INFINITY" if step.migration_threshold >= INFINITY else \
        str(step.migration_threshold)
    return f"will not be retried: fail count reached migration-threshold ({threshold}) on " \
        "every node"


def _heartbeat(step: StepStatus, nodes: NodeStates, now: float, interval: float) -> None:
    name = HEARTBEAT_ATTR_PREFIX + step.resource
    for node, attrs in nodes.attrs.items():
        value = attrs.get(name)
        if not value:
            continue
        try:
            stamp, percent, message = parse_value(value)
        except ValueError:
            continue
        if step.heartbeat is None or stamp > step.heartbeat:
            step.heartbeat, step.progress, step.message = float(stamp), percent, message
            step.node = step.node or node
    if step.heartbeat is not None:
        step.heartbeat_age = max(0.0, now - step.heartbeat)
        step.stuck = step.heartbeat_age > STUCK_FACTOR * interval


def _workflow_state(steps: list[StepStatus], aborted: bool, policy: str,
                    root_active: bool) -> WorkflowState:
    states = {s.state for s in steps}
    failed = any(s.failure is not None or s.fail_count for s in steps)
    if aborted:
        if StepState.BLOCKED in states:
            return WorkflowState.BLOCKED
        if states <= {StepState.UNDONE, StepState.SKIPPED} and not root_active:
            return WorkflowState.ROLLED_BACK
        return WorkflowState.ROLLING_BACK
    if StepState.BLOCKED in states:
        held = failed and (policy == POLICY_HOLD or any(
            s.policy == POLICY_HOLD for s in steps if s.state == StepState.BLOCKED))
        return WorkflowState.HELD if held else WorkflowState.BLOCKED
    if any(s.state == StepState.FAILED and not s.retry_on for s in steps):
        return WorkflowState.FAILED
    if steps and states - {StepState.SKIPPED} == {StepState.DONE}:
        return WorkflowState.DONE
    return WorkflowState.RUNNING
