"""Workflow -> CIB XML: the root, one primitive per step, constraints, a tag.

The encoding is chosen for the scheduler's sake (see DESIGN.md "Scale"):
steps that share their dependencies share one ordering constraint (resource
sets, not one constraint per edge); haflow steps are never probed (one
location constraint with ``resource-discovery="never"``), foreign agents are.

Ids: resources are ``WF.STEP`` (readable in crm_mon); everything else hangs
below ``WF.root.`` (``root`` is no step's name) or below its resource's id, so
ids never collide between workflows or between steps. Output is
deterministic: same workflow, same submission -> same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from copy import deepcopy
from dataclasses import dataclass, field

from lxml import etree

from haflow.agents.naming import (
    FAILURE_POLICY_META,
    PARAM_STEP,
    PARAM_SUBMISSION,
    PARAM_WORKFLOW,
    PROVIDER,
    root_id,
    step_id,
    tag_id,
)
from haflow.coordinator.exitcodes import ExitCode
from haflow.coordinator.reports import HaflowError, Report
from haflow.coordinator.workflow.durations import to_pacemaker
from haflow.coordinator.workflow.graph import topological_order
from haflow.coordinator.workflow.model import (
    DEFAULT_TIMEOUT_MS,
    NOT_XML,
    FailurePolicy,
    RuleOp,
    Step,
    Workflow,
)

DEFAULT_SUBMISSION = "1"
ROOT_AGENT = "workflow"
INFINITY = "INFINITY"
# a node must NOT run the step when the negation of one of its rules holds
_NEGATE = {
    RuleOp.EQ: "ne",
    RuleOp.NE: "eq",
    RuleOp.LT: "gte",
    RuleOp.GTE: "lt",
    RuleOp.GT: "lte",
    RuleOp.LTE: "gt",
    RuleOp.DEFINED: "not_defined",
    RuleOp.NOT_DEFINED: "defined",
}

_NEEDS_ATTRIBUTE = (RuleOp.EQ, RuleOp.LT, RuleOp.LTE, RuleOp.GT, RuleOp.GTE)


@dataclass
class CompiledWorkflow:
    """The CIB elements of one workflow; ``to_xml()`` is its deterministic fragment."""

    workflow: str
    resources: list[etree._Element] = field(default_factory=list)
    constraints: list[etree._Element] = field(default_factory=list)
    tags: list[etree._Element] = field(default_factory=list)

    def fragment(self) -> etree._Element:
        """``<configuration>`` holding copies of the elements."""
        config = etree.Element("configuration")
        for section, items in self._sections():
            etree.SubElement(config, section).extend(deepcopy(e) for e in items)
        return config

    def to_xml(self) -> bytes:
        """The fragment as indented UTF-8 text: same workflow, same bytes."""
        config = etree.Element("configuration")
        moved: list[etree._Element] = []
        try:
            for section, items in self._sections():
                holder = etree.SubElement(config, section)
                for element in items:
                    if element.getparent() is None:
                        holder.append(element)  # borrowed, not copied: 5,000 primitives
                        moved.append(element)
                    else:
                        holder.append(deepcopy(element))
            return etree.tostring(config, pretty_print=True, encoding="utf-8")
        finally:
            for element in moved:
                parent = element.getparent()
                if parent is not None:
                    parent.remove(element)
                element.tail = None

    def _sections(self) -> list[tuple[str, list[etree._Element]]]:
        return [
            ("resources", self.resources),
            ("constraints", self.constraints),
            ("tags", self.tags),
        ]

    def ids(self) -> set[str]:
        return {str(i) for e in (*self.resources, *self.constraints, *self.tags) for i in _ids(e)}

    def resource_ids(self) -> list[str]:
        return [str(e.get("id")) for e in self.resources]


def _ids(element: etree._Element) -> list[str]:
    """Every id at or below ``element``."""
    return [str(e.get("id")) for e in element.iter() if isinstance(e.tag, str) and e.get("id")]


def _sub(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, tag, attrs)


def _nvpairs(
    parent: etree._Element, tag: str, set_id: str, pairs: Iterable[tuple[str, str]]
) -> None:
    pairs = list(pairs)
    if not pairs:
        return
    holder = _sub(parent, tag, id=set_id)
    for name, value in pairs:
        _sub(holder, "nvpair", id=f"{set_id}.{name}", name=name, value=value)


def _ops(
    prim: etree._Element,
    rid: str,
    timeout_ms: int,
    interval_ms: int,
    on_fail: str | None,
    stop_on_fail: str | None,
) -> None:
    ops = _sub(prim, "operations")
    timeout = to_pacemaker(timeout_ms)
    fail = {"on-fail": on_fail} if on_fail else {}
    _sub(ops, "op", id=f"{rid}.start", name="start", interval="0s", timeout=timeout, **fail)
    stop_fail = {"on-fail": stop_on_fail} if stop_on_fail else {}
    _sub(ops, "op", id=f"{rid}.stop", name="stop", interval="0s", timeout=timeout, **stop_fail)
    if interval_ms:
        interval = to_pacemaker(interval_ms)
        _sub(
            ops,
            "op",
            id=f"{rid}.monitor-{interval}",
            name="monitor",
            interval=interval,
            timeout=timeout,
            **fail,
        )


def _root(wf: Workflow) -> etree._Element:
    """The root: one primitive, started before the first steps, stopped after them.

    Optional, because a mandatory order from a root restarts every step when
    the root moves (its node lost: measured with crm_simulate, a 4-step
    workflow restarted all 4); an optional one only orders actions that
    happen in the same transition. On abort (target-role=Stopped on the root
    and every step, one patch) a one-way mandatory order makes the root stop
    after the first steps (_root_orders), so its stop is the rollback's last
    act. If the root's node is the one fenced during the undo, its stop is
    implied by the fencing and its sweep does not run: the DC's alert agent
    starts it again on a live node to stop it there (agents/alert_haflow.py,
    fault scenario crash-undo). It used to be a clone on every node, which kept
    the order mandatory but cost the scheduler one instance per node and
    workflow (1,000 steps on 32 nodes: 2.6 s of CPU with the clone, 0.9 s
    without; bench/schedule).
    """
    rid = root_id(wf.name)
    prim = etree.Element(
        "primitive", {"id": rid, "class": "ocf", "provider": PROVIDER, "type": ROOT_AGENT}
    )
    params = [(PARAM_WORKFLOW, wf.name)]
    if wf.description:
        params.append(("description", wf.description))
    _nvpairs(prim, "instance_attributes", f"{rid}.params", params)
    meta = [
        (FAILURE_POLICY_META, str(wf.failure_policy)),
        # a joining node must not draw the root over: a move is a stop and a start
        ("resource-stickiness", INFINITY),
    ]
    _nvpairs(prim, "meta_attributes", f"{rid}.meta", meta)
    # no recurring monitor: the root has no effect to watch
    _ops(prim, rid, DEFAULT_TIMEOUT_MS, 0, None, "block")
    return prim


def _step(wf: Workflow, step: Step, submission: str) -> etree._Element:
    sid = step_id(wf.name, step.name)
    agent = step.agent
    prim = etree.Element(
        "primitive",
        {"id": sid, "class": agent.standard, "provider": agent.provider, "type": agent.type},
    )
    params = list(step.params.items())
    if agent.is_haflow:
        params += [
            (PARAM_WORKFLOW, wf.name),
            (PARAM_STEP, step.name),
            (PARAM_SUBMISSION, submission),
        ]
    _nvpairs(prim, "instance_attributes", f"{sid}.params", params)
    meta = [
        # retries on one node before moving on; then the alert acts on the policy
        ("migration-threshold", str(step.retries + 1)),
        # failures are never forgotten: otherwise retries would never run out
        ("failure-timeout", "0"),
        # a step stays where it runs: without this a joining node "rebalances"
        # steps, each move a stop and a start (measured with crm_simulate)
        ("resource-stickiness", INFINITY),
        (FAILURE_POLICY_META, str(step.failure_policy)),
    ]
    if agent.is_haflow:
        # a planned move (standby, a ban) is a hand-over: migrate_to releases the
        # effect, migrate_from adopts it; no stop, no start
        meta.append(("allow-migrate", "true"))
    _nvpairs(prim, "meta_attributes", f"{sid}.meta", meta)
    hold = step.failure_policy == FailurePolicy.HOLD
    # a failed undo of an external effect is not fixed by fencing the node: block
    # instead; foreign agents manage node-local things and keep Pacemaker's default
    stop_on_fail = "block" if agent.is_haflow or hold else None
    _ops(prim, sid, step.timeout_ms, step.interval_ms, "block" if hold else "restart", stop_on_fail)
    return prim


def _set(parent: etree._Element, set_id: str, ids: list[str], sequential: bool) -> None:
    rset = _sub(parent, "resource_set", id=set_id, sequential="true" if sequential else "false")
    for rid in ids:
        _sub(rset, "resource_ref", id=rid)


def _order(cid: str, first: list[str], then: list[str], kind: str = "Mandatory",
           symmetrical: bool = True) -> etree._Element:
    """``then`` starts after all of ``first`` (and, symmetrical, stops before them)."""
    if len(first) == 1 and len(then) == 1:
        return etree.Element(
            "rsc_order",
            {
                "id": cid,
                "kind": kind,
                "first": first[0],
                "then": then[0],
                "symmetrical": str(symmetrical).lower(),
            },
        )
    order = etree.Element("rsc_order", {"id": cid, "kind": kind,
                                        "symmetrical": str(symmetrical).lower()})
    _set(order, f"{cid}.0", first, sequential=len(first) == 1)
    _set(order, f"{cid}.1", then, sequential=len(then) == 1)
    return order


def _chain(cid: str, ids: list[str]) -> etree._Element:
    """Each of ``ids`` after the one before it: one sequential set, not a constraint per edge."""
    if len(ids) == 2:
        return _order(cid, ids[:1], ids[1:])
    order = etree.Element("rsc_order", {"id": cid, "kind": "Mandatory", "symmetrical": "true"})
    _set(order, f"{cid}.0", ids, sequential=True)
    return order


def _orders(wf: Workflow, order: list[str]) -> list[etree._Element]:
    """As few ordering constraints as the graph allows.

    Steps with the same dependencies share one constraint (two resource sets:
    all of ``after``, then all of them). A group of one step after one step is
    a plain edge; runs of such edges (a -> b -> c, the common case) become one
    sequential resource set instead of a constraint per edge.
    """
    groups: dict[tuple[str, ...], list[str]] = {}
    for name in order:
        # steps with no dependency run after the root
        groups.setdefault(tuple(sorted(set(wf.steps[name].after))), []).append(name)
    # single edges between steps: each step has at most one in and one out
    edge_to = {
        deps[0]: names[0] for deps, names in groups.items() if len(deps) == 1 and len(names) == 1
    }
    edge_from = {then: first for first, then in edge_to.items()}
    base = root_id(wf.name)
    result = []
    for deps, names in groups.items():
        if len(deps) == 1 and len(names) == 1:
            if deps[0] in edge_from:
                continue  # inside a chain that starts earlier
            chain = [deps[0]]
            while chain[-1] in edge_to:
                chain.append(edge_to[chain[-1]])
            ids = [step_id(wf.name, n) for n in chain]
            result.append(_chain(f"{base}.order.{chain[1]}", ids))
            continue
        then = [step_id(wf.name, n) for n in names]
        if deps:
            first = [step_id(wf.name, d) for d in deps]
            result.append(_order(f"{base}.order.{names[0]}", first, then))
        else:  # the first steps, after the root (see _root)
            result += _root_orders(base, names[0], then)
    return result


def _root_orders(root: str, first_name: str, first_steps: list[str]) -> list[etree._Element]:
    """The root starts before the first steps (Optional: its move restarts nothing) and
    stops after them (Mandatory, one way: its stop, the rollback's last act, waits for
    their stops, and is blocked with them by a step whose stop cannot run yet, until
    abort's cleanup; a step that merely moves does not stop the root)."""
    starts = _order(f"{root}.order.{first_name}", [root], first_steps, kind="Optional",
                    symmetrical=False)
    cid = f"{root}.stop-last"
    if len(first_steps) == 1:
        stops = etree.Element("rsc_order", {
            "id": cid, "kind": "Mandatory", "first": first_steps[0], "first-action": "stop",
            "then": root, "then-action": "stop", "symmetrical": "false"})
    else:
        stops = etree.Element("rsc_order", {"id": cid, "kind": "Mandatory",
                                            "symmetrical": "false"})
        _set(stops, f"{cid}.0", first_steps, sequential=False)
        _set(stops, f"{cid}.1", [root], sequential=True)
        for rset in stops:
            rset.set("action", "stop")
    return [starts, stops]


def _colocations(wf: Workflow) -> list[etree._Element]:
    base = root_id(wf.name)
    result = []
    done: set[tuple[str, str]] = set()
    for step in wf.steps.values():
        for other in step.with_:
            if step.name in wf.steps[other].with_ and other < step.name:
                continue  # "a with b" and "b with a": one constraint (written for the first)
            result.append(
                etree.Element(
                    "rsc_colocation",
                    {
                        "id": f"{base}.with.{step.name}.{other}",
                        "rsc": step_id(wf.name, step.name),
                        "with-rsc": step_id(wf.name, other),
                        "score": INFINITY,
                    },
                )
            )
        for other in step.apart:
            pair = (min(step.name, other), max(step.name, other))
            if pair in done:
                continue  # "a apart b" and "b apart a" say the same
            done.add(pair)
            result.append(
                etree.Element(
                    "rsc_colocation",
                    {
                        "id": f"{base}.apart.{step.name}.{other}",
                        "rsc": step_id(wf.name, step.name),
                        "with-rsc": step_id(wf.name, other),
                        "score": f"-{INFINITY}",
                    },
                )
            )
    return result


def _location(wf: Workflow, step: Step) -> etree._Element | None:
    if not (step.nodes or step.avoid or step.rules):
        return None
    cid = f"{root_id(wf.name)}.place.{step.name}"
    loc = etree.Element("rsc_location", {"id": cid, "rsc": step_id(wf.name, step.name)})

    def rule(kind: str, boolean_op: str, exprs: list[dict[str, str]]) -> None:
        rid = f"{cid}.{kind}"
        r = _sub(loc, "rule", id=rid, score=f"-{INFINITY}", **{"boolean-op": boolean_op})
        for i, attrs in enumerate(exprs):
            _sub(r, "expression", id=f"{rid}.{i}", **attrs)

    # each rule bans the nodes it matches
    if step.nodes:
        rule(
            "nodes",
            "and",
            [{"attribute": "#uname", "operation": "ne", "value": n} for n in step.nodes],
        )
    if step.avoid:
        rule(
            "avoid",
            "or",
            [{"attribute": "#uname", "operation": "eq", "value": n} for n in step.avoid],
        )
    if step.rules:
        exprs: list[dict[str, str]] = []
        for r in step.rules:
            attrs = {"attribute": r.attribute, "operation": _NEGATE[r.op]}
            if r.value is not None:
                attrs["value"] = r.value
                attrs["type"] = r.type
            exprs.append(attrs)
            # a comparison is false on a node without the attribute: ban those too
            # ("ne" holds there, and so does the negation of "defined")
            missing = {"attribute": r.attribute, "operation": "not_defined"}
            if r.op in _NEEDS_ATTRIBUTE and missing not in exprs:
                exprs.append(missing)
        rule("rules", "or", exprs)
    return loc


def _no_discovery(wf: Workflow, ids: list[str]) -> etree._Element:
    """haflow steps are never probed: their "running here" is a node-local marker."""
    cid = f"{root_id(wf.name)}.discovery"
    loc = etree.Element("rsc_location", {"id": cid, "resource-discovery": "never"})
    _set(loc, f"{cid}.set", ids, sequential=False)
    rule = _sub(loc, "rule", id=f"{cid}.rule", score="0")
    _sub(rule, "expression", id=f"{cid}.rule.0", attribute="#uname", operation="defined")
    return loc


def compile_workflow(wf: Workflow, submission: str = DEFAULT_SUBMISSION) -> CompiledWorkflow:
    """The CIB elements of a validated workflow."""
    if not submission or NOT_XML.search(submission):
        # the file's own text is checked by the loader; this comes from the command line
        raise HaflowError(
            Report("bad-submission", f"submission id {submission!r} cannot be stored in the CIB"),
            exit_code=ExitCode.USAGE,
        )
    out = CompiledWorkflow(wf.name)
    order = topological_order({n: s.after for n, s in wf.steps.items()})
    out.resources.append(_root(wf))
    out.resources += [_step(wf, wf.steps[n], submission) for n in order]
    out.constraints += _orders(wf, order)
    out.constraints += _colocations(wf)
    out.constraints += [c for n in order if (c := _location(wf, wf.steps[n])) is not None]
    undiscovered = [root_id(wf.name)] + [
        step_id(wf.name, n) for n in order if wf.steps[n].agent.is_haflow
    ]
    out.constraints.append(_no_discovery(wf, undiscovered))
    tag = etree.Element("tag", id=tag_id(wf.name))
    for rid in out.resource_ids():
        _sub(tag, "obj_ref", id=rid)
    out.tags.append(tag)
    return out


_IDS_OF = etree.XPath("//@id[. = $name or starts-with(., $prefix)]", smart_strings=False)


def merge_into(cib: etree._Element, compiled: CompiledWorkflow) -> etree._Element:
    """A copy of ``cib`` with the workflow added; raises HaflowError on any id collision."""
    new = deepcopy(cib)
    # every compiled id is the workflow's name or starts with "NAME." (module docstring):
    # only such ids can collide, and the compiled ones are listed only if one is there
    # (listing them was half of a 500-step merge)
    found = _IDS_OF(new, name=compiled.workflow, prefix=f"{compiled.workflow}.")
    taken = {str(i) for i in found} if isinstance(found, list) else set()
    clash = sorted(compiled.ids() & taken) if taken else []
    if clash:
        shown = ", ".join(clash[:5]) + (" ..." if len(clash) > 5 else "")
        raise HaflowError(
            Report(
                "id-collision",
                f"the CIB already has ids of workflow '{compiled.workflow}': {shown}",
                details={"ids": clash},
            ),
            exit_code=ExitCode.CONFLICT,
        )
    config = new.find("configuration")
    if config is None:
        raise HaflowError(Report("bad-cib", "the CIB has no <configuration>"))
    for section, items in (
        ("resources", compiled.resources),
        ("constraints", compiled.constraints),
        ("tags", compiled.tags),
    ):
        holder = config.find(section)
        if holder is None:
            holder = etree.SubElement(config, section)
        holder.extend(deepcopy(e) for e in items)
    return new
