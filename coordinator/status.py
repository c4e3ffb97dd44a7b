"""Workflow and step states, read from ``crm_mon --output-as=xml --inactive`` and the CIB.

Pure functions over parsed XML (tests feed them recorded XML). The CIB gives
what was configured (steps, dependencies, policy, outputs) and what happened
(the status section: each node's operation history with ``exit-reason``,
``rc-code``, ``last-rc-change``, ``exec-time``; transient attributes with fail
counts and heartbeats). crm_mon adds what only the scheduler knows: the role
(Starting, Stopping), and whether a resource is blocked or unmanaged.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, cast

from lxml import etree

# the alert agent's placement check (ElementTree API: lxml elements have it too)
from haflow.agents.alert.agent import banned, configured_meta
from haflow.agents.progress import DEFAULT_INTERVAL, parse_value
from haflow.coordinator.workflow.roles import names, root_of
from haflow.encoding.ids import root_id
from haflow.encoding.meta import EFFECT_META, HEARTBEAT_ATTR_PREFIX, OUTPUT_META_PREFIX

STUCK_FACTOR = 3  # a heartbeat older than 3 intervals means the action is stuck
INFINITY = 1_000_000  # Pacemaker's score/fail-count infinity
PENDING_RC = 193  # rc-code of an operation in flight (op-status -1)
FAILURE_POLICY_META = "haflow-failure-policy"  # the compiler's meta attribute


class StepState(StrEnum):
    WAITING = "waiting"
    STARTING = "starting"
    DONE = "done"
    FAILED = "failed"
    UNDOING = "undoing"
    UNDONE = "undone"
    BLOCKED = "blocked"


class WorkflowState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    ROLLING_BACK = "rolling back"
    ROLLED_BACK = "rolled back"
    HELD = "held"
    BLOCKED = "blocked"


# states in which nothing of the workflow runs any more
SETTLED = (WorkflowState.DONE, WorkflowState.FAILED, WorkflowState.ROLLED_BACK,
           WorkflowState.HELD, WorkflowState.BLOCKED)


@dataclass
class Failure:
    operation: str  # e.g. start, monitor (30s), stop
    node: str
    rc: int
    rc_text: str
    exit_reason: str
    time: float | None  # epoch seconds of last-rc-change


@dataclass
class StepStatus:
    name: str
    resource: str
    agent: str
    state: StepState
    policy: str
    node: str | None = None
    waiting_on: list[str] = field(default_factory=list)
    progress: int | None = None
    message: str | None = None
    heartbeat: float | None = None  # epoch of the last heartbeat
    heartbeat_age: float | None = None
    stuck: bool = False
    started: float | None = None
    duration: float | None = None  # seconds the start took
    outputs: dict[str, str] = field(default_factory=dict)
    failure: Failure | None = None
    fail_count: dict[str, int] = field(default_factory=dict)  # node -> fail count
    migration_threshold: int = INFINITY
    retry_on: list[str] = field(default_factory=list)  # nodes where it may run again
    note: str | None = None  # why blocked, what happens next
    # its agent flagged in the CIB that an effect may exist (agents/step.py)
    effect_flagged: bool = False

    @property
    def problem(self) -> bool:
        return self.state in (StepState.FAILED, StepState.BLOCKED) or self.stuck

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        data["problem"] = self.problem
        return data


@dataclass
class WorkflowStatus:
    name: str
    state: WorkflowState
    policy: str
    aborted: bool
    submission: str | None
    steps: list[StepStatus]
    description: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for step in self.steps:
            out[step.state.value] = out.get(step.state.value, 0) + 1
        return out

    @property
    def problems(self) -> list[StepStatus]:
        return [s for s in self.steps if s.problem]

    def step(self, name: str) -> StepStatus:
        return next(s for s in self.steps if s.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state.value, "policy": self.policy,
                "aborted": self.aborted, "submission": self.submission,
                "description": self.description, "counts": self.counts,
                "steps": [s.to_dict() for s in self.steps]}


# ---- crm_mon ------------------------------------------------------------------------------


@dataclass
class MonResource:
    role: str
    active: bool
    blocked: bool
    managed: bool
    failed: bool
    nodes: list[str]


# what crm_mon shows of a resource it does not list
_STOPPED = MonResource("Stopped", False, False, True, False, [])


@dataclass
class Mon:
    resources: dict[str, MonResource]
    online: list[str]


# which role a merged clone shows: something in flight first, then running
ROLE_RANK = ("Stopping", "Starting", "Started", "Stopped")


def parse_mon(mon: etree._Element) -> Mon:
    """Roles and flags of every primitive (clone instances merged under their id)."""
    resources: dict[str, MonResource] = {}
    for res in mon.iterfind("resources//resource"):
        rid = res.get("id", "").split(":", 1)[0]
        entry = MonResource(res.get("role", "Stopped"), res.get("active") == "true",
                            res.get("blocked") == "true", res.get("managed") != "false",
                            res.get("failed") == "true",
                            [n.get("name", "") for n in res.iterfind("node")])
        old = resources.get(rid)
        if old is not None:  # another instance of a clone: merge them
            roles = {old.role, entry.role}
            role = next((r for r in ROLE_RANK if r in roles), entry.role)
            entry = MonResource(role, entry.active or old.active,
                                entry.blocked or old.blocked, entry.managed and old.managed,
                                entry.failed or old.failed, old.nodes + entry.nodes)
        resources[rid] = entry
    online = [n.get("name", "") for n in mon.iterfind("nodes/node")
              if n.get("online") == "true"]
    return Mon(resources, online)


# ---- the CIB's status section -------------------------------------------------------------


@dataclass
class Op:
    id: str
    operation: str
    interval: int  # ms
    rc: int
    op_status: int
    exit_reason: str
    last_rc_change: float | None
    exec_time: int  # ms
    node: str
    call_id: int

    @property
    def pending(self) -> bool:
        return self.op_status == -1 or self.rc == PENDING_RC

    def label(self) -> str:
        if self.operation == "monitor" and self.interval:
            return f"monitor ({self.interval // 1000}s)"
        if self.operation == "monitor":
            return "probe"
        return self.operation


@dataclass
class NodeStatus:
    ops: dict[str, list[Op]] = field(default_factory=dict)  # resource -> ops
    attrs: dict[str, str] = field(default_factory=dict)  # transient attributes


RC_TEXT = {0: "ok", 1: "error", 2: "invalid parameter", 3: "unimplemented feature",
           4: "insufficient privileges", 5: "not installed", 6: "not configured",
           7: "not running", 8: "running (promoted)", 9: "failed (promoted)",
           190: "degraded", 191: "degraded (promoted)", 193: "pending"}


def _int(text: str | None, default: int = 0) -> int:
    if text is None or text == "":
        return default
    if text.upper() in ("INFINITY", "+INFINITY"):
        return INFINITY
    try:
        return int(text)
    except ValueError:
        return default


def parse_node_status(cib: etree._Element) -> dict[str, NodeStatus]:
    """Per node (uname): operation history per resource, and transient attributes."""
    out: dict[str, NodeStatus] = {}
    for state in cib.iterfind("status/node_state"):
        node = state.get("uname", state.get("id", ""))
        status = out.setdefault(node, NodeStatus())
        for rsc in state.iterfind("lrm/lrm_resources/lrm_resource"):
            ops = status.ops.setdefault(rsc.get("id", ""), [])
            for op in rsc.iterfind("lrm_rsc_op"):
                change = op.get("last-rc-change")
                ops.append(Op(op.get("id", ""), op.get("operation", ""),
                              _int(op.get("interval")), _int(op.get("rc-code")),
                              _int(op.get("op-status")), op.get("exit-reason", ""),
                              float(change) if change else None, _int(op.get("exec-time")),
                              node, _int(op.get("call-id"))))
        for nvpair in state.iterfind("transient_attributes/instance_attributes/nvpair"):
            status.attrs[nvpair.get("name", "")] = nvpair.get("value", "")
    return out


def fail_counts(nodes: dict[str, NodeStatus], rid: str) -> dict[str, int]:
    """node -> the resource's fail count there (summed over its operations)."""
    prefix = f"fail-count-{rid}#"
    out = {}
    for node, status in nodes.items():
        total = sum(_int(v) for k, v in status.attrs.items() if k.startswith(prefix))
        if total:
            out[node] = min(total, INFINITY)
    return out


def _last_failure(nodes: dict[str, NodeStatus], rid: str) -> Op | None:
    found = [op for status in nodes.values() for op in status.ops.get(rid, [])
             if op.id.endswith("_last_failure_0")]
    return max(found, key=lambda o: o.last_rc_change or 0) if found else None


def _last_start(nodes: dict[str, NodeStatus], rid: str, node: str | None) -> Op | None:
    """The last completed or pending start of ``rid`` (on ``node`` if given)."""
    found = [op for n, status in nodes.items() if node in (None, n)
             for op in status.ops.get(rid, []) if op.operation == "start"
             and not op.id.endswith("_last_failure_0")]
    return max(found, key=lambda o: o.last_rc_change or 0) if found else None


# ---- the CIB's configuration --------------------------------------------------------------


def _meta(element: etree._Element) -> dict[str, str]:
    return configured_meta(cast(Any, element))


def _agent(primitive: etree._Element) -> str:
    provider = primitive.get("provider")
    parts = [primitive.get("class", ""), *([provider] if provider else []),
             primitive.get("type", "")]
    return ":".join(parts)


def dependencies(cib: etree._Element, workflow: str) -> dict[str, set[str]]:
    """resource -> the resources it starts after, from the workflow's ``rsc_order``s."""
    deps: dict[str, set[str]] = {}
    prefix = f"{root_id(workflow)}.order."
    for order in cib.iterfind("configuration/constraints/rsc_order"):
        if not order.get("id", "").startswith(prefix):
            continue
        first, then = order.get("first"), order.get("then")
        if first and then:
            deps.setdefault(then, set()).add(first)
            continue
        previous: list[str] = []
        for rset in order.iterfind("resource_set"):
            refs = [r.get("id", "") for r in rset.iterfind("resource_ref")]
            sequential = rset.get("sequential", "true") == "true"
            for i, ref in enumerate(refs):
                before = set(previous)
                if sequential and i:
                    before = {refs[i - 1]}
                deps.setdefault(ref, set()).update(before)
            if refs:
                previous = [refs[-1]] if sequential else refs
    return deps


# ---- putting it together ------------------------------------------------------------------


def workflow_status(cib: etree._Element, mon: etree._Element, workflow: str,
                    now: float | None = None,
                    heartbeat_interval: float = DEFAULT_INTERVAL) -> WorkflowStatus:
    """The state of ``workflow`` and of each of its steps (in dependency order)."""
    now = time.time() if now is None else now
    return _status(cib, parse_mon(mon), parse_node_status(cib), workflow, now,
                   heartbeat_interval)


def all_status(cib: etree._Element, mon: etree._Element, now: float | None = None,
               heartbeat_interval: float = DEFAULT_INTERVAL) -> list[WorkflowStatus]:
    now = time.time() if now is None else now
    parsed, nodes = parse_mon(mon), parse_node_status(cib)
    return [_status(cib, parsed, nodes, name, now, heartbeat_interval)
            for name in names(cib)]


def _status(cib: etree._Element, mon: Mon, nodes: dict[str, NodeStatus], workflow: str,
            now: float, interval: float) -> WorkflowStatus:
    resources = cib.find("configuration/resources")
    assert resources is not None
    root = root_of(cib, workflow)
    root_meta = _meta(root) if root is not None else {}
    aborted = root_meta.get("target-role", "").lower() == "stopped"
    policy = root_meta.get(FAILURE_POLICY_META, "rollback")
    description = None
    submission = None
    if root is not None:
        for nvpair in root.iterfind("instance_attributes/nvpair"):
            if nvpair.get("name") == "description":
                description = nvpair.get("value")
    deps = dependencies(cib, workflow)
    steps: list[StepStatus] = []
    by_id: dict[str, StepStatus] = {}
    primitives = [p for p in resources.iterfind("primitive") if p.get("id") != root_id(workflow)
                  and p.get("id", "").startswith(f"{workflow}.")]
    for prim in primitives:
        for nvpair in prim.iterfind("instance_attributes/nvpair"):
            if nvpair.get("name") == "submission":
                submission = nvpair.get("value")
        step = _step(cib, prim, mon, nodes, aborted, now, interval)
        steps.append(step)
        by_id[step.resource] = step
    # waiting: on which dependencies (ones not done yet)
    root_running = bool(mon.resources.get(root_id(workflow), _STOPPED).active)
    for step in steps:
        if step.state != StepState.WAITING:
            continue
        for dep in sorted(deps.get(step.resource, ())):
            if dep in by_id and by_id[dep].state != StepState.DONE:
                step.waiting_on.append(by_id[dep].name)
            elif dep == root_id(workflow) and not root_running:
                step.waiting_on.append("root")
        if not step.waiting_on and mon.online and not step.retry_on:
            step.note = "no online node may run it (placement, or fail counts)"
    if aborted and not root_running:
        for step in steps:
            if step.state == StepState.UNDOING and step.effect_flagged and \
                    not mon.resources.get(step.resource, _STOPPED).active:
                step.state = StepState.BLOCKED
                step.note = ("its effect may remain: the rollback could not undo it (the "
                             "workflow root's log says why); undo it by hand and 'haflow "
                             "remove --force', or 'haflow retry' then 'haflow abort'")
    steps = _ordered(steps, deps, by_id)
    state = _workflow_state(steps, aborted, policy,
                            root_active=root_running)
    return WorkflowStatus(workflow, state, policy, aborted, submission, steps, description)


def _ordered(steps: list[StepStatus], deps: dict[str, set[str]],
             by_id: dict[str, StepStatus]) -> list[StepStatus]:
    """Dependency order (stable: CIB order among equals), as the compiler wrote them."""
    done: set[str] = set()
    out: list[StepStatus] = []
    remaining = list(steps)
    while remaining:
        ready = [s for s in remaining
                 if all(d in done or d not in by_id for d in deps.get(s.resource, ()))]
        if not ready:  # a cycle cannot be compiled; hand-edited CIB: keep CIB order
            ready = remaining[:1]
        for step in ready:
            done.add(step.resource)
            out.append(step)
        # by id, not list.remove: comparing dataclasses field by field made 500 steps
        # cost 0.1 s
        remaining = [s for s in remaining if s.resource not in done]
    return out


def _step(cib: etree._Element, prim: etree._Element, mon: Mon,
          nodes: dict[str, NodeStatus], aborted: bool, now: float,
          interval: float) -> StepStatus:
    rid = prim.get("id", "")
    meta = _meta(prim)
    policy = meta.get(FAILURE_POLICY_META, "rollback")
    threshold = _int(meta.get("migration-threshold"), INFINITY) or INFINITY
    outputs = {k[len(OUTPUT_META_PREFIX):]: v for k, v in meta.items()
               if k.startswith(OUTPUT_META_PREFIX)}
    on_fail = {op.get("name", ""): op.get("on-fail", "")
               for op in prim.iterfind("operations/op")}
    self_stopped = meta.get("target-role", "").lower() == "stopped"
    res = mon.resources.get(rid, _STOPPED)
    counts = fail_counts(nodes, rid)
    failure_op = _last_failure(nodes, rid)
    failure = None
    if failure_op is not None:
        failure = Failure(failure_op.label(), failure_op.node, failure_op.rc,
                          RC_TEXT.get(failure_op.rc, "error"), failure_op.exit_reason,
                          failure_op.last_rc_change)
    node = res.nodes[0] if res.nodes else None
    step = StepStatus(rid.split(".", 1)[1], rid, _agent(prim), StepState.WAITING, policy,
                      node=node, outputs=outputs, failure=failure, fail_count=counts,
                      migration_threshold=threshold, effect_flagged=bool(meta.get(EFFECT_META)))
    step.retry_on = [n for n in mon.online if counts.get(n, 0) < threshold
                     and not banned(cast(Any, cib), rid, n)]
    undoing = aborted or self_stopped
    blocked = res.blocked or not res.managed
    if blocked:
        step.state = StepState.BLOCKED
        why = "unmanaged" if not res.managed else "blocked"
        failed_ops = [k for k, v in on_fail.items() if v == "block"]
        if failure is not None and failure.operation.split()[0] in failed_ops:
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
        start = _last_start(nodes, rid, node)
        if start is not None and start.last_rc_change is not None:
            step.duration = start.exec_time / 1000
            # last-rc-change is when the start began (a 3 s start read 3 s too early
            # when the duration was taken off it, before the submit)
            step.started = start.last_rc_change
    if step.state in (StepState.STARTING, StepState.UNDOING):
        _heartbeat(step, nodes, now, interval)
    return step


def _retry_note(step: StepStatus) -> str:
    if step.policy == "hold":
        return "failure policy hold: left as it is for an admin"
    if step.retry_on:
        return f"will be retried on {', '.join(step.retry_on)}"
    threshold = "INFINITY" if step.migration_threshold >= INFINITY else \
        str(step.migration_threshold)
    return f"will not be retried: fail count reached migration-threshold ({threshold}) on " \
        "every node"


def _heartbeat(step: StepStatus, nodes: dict[str, NodeStatus], now: float,
               interval: float) -> None:
    name = HEARTBEAT_ATTR_PREFIX + step.resource
    for node, status in nodes.items():
        value = status.attrs.get(name)
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
        if states <= {StepState.UNDONE} and not root_active:
            return WorkflowState.ROLLED_BACK
        return WorkflowState.ROLLING_BACK
    if StepState.BLOCKED in states:
        held = failed and (policy == "hold" or any(
            s.policy == "hold" for s in steps if s.state == StepState.BLOCKED))
        return WorkflowState.HELD if held else WorkflowState.BLOCKED
    if any(s.state == StepState.FAILED and not s.retry_on for s in steps):
        return WorkflowState.FAILED
    if steps and states == {StepState.DONE}:
        return WorkflowState.DONE
    return WorkflowState.RUNNING


def to_xml(workflows: list[WorkflowStatus]) -> etree._Element:
    """``--output-as xml``: one element per workflow and step, attributes as in JSON."""
    root = etree.Element("haflow-status")
    for wf in workflows:
        w = etree.SubElement(root, "workflow", name=wf.name, state=wf.state.value,
                             policy=wf.policy, aborted=str(wf.aborted).lower())
        for step in wf.steps:
            attrs = {k: str(v) for k, v in step.to_dict().items()
                     if v not in (None, [], {}) and not isinstance(v, dict | list)}
            s = etree.SubElement(w, "step", {k.replace("_", "-"): v for k, v in attrs.items()})
            for node in step.waiting_on:
                etree.SubElement(s, "waiting-on", step=node)
            for key, value in step.outputs.items():
                etree.SubElement(s, "output", name=key, value=value)
            for node, count in step.fail_count.items():
                etree.SubElement(s, "fail-count", node=node, count=str(count))
            if step.failure is not None:
                etree.SubElement(s, "failure", {k.replace("_", "-"): str(v) for k, v in
                                                asdict(step.failure).items() if v is not None})
    return root
