"""Workflow -> CIB XML: the root, one primitive per step, constraints, a tag.

The encoding is chosen for the scheduler's sake (bench/schedule.py measures it):
steps that share their dependencies share one ordering constraint (resource
sets, not one constraint per edge); haflow steps are never probed (one
location constraint with ``resource-discovery="never"``), foreign agents are.

Ids: resources are ``WF.STEP`` (readable in crm_mon); everything else hangs
below ``WF.root.`` (``root`` is no step's name) or below its resource's id, so
ids never collide between workflows or between steps. Output is
deterministic: same workflow, same submission -> same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from functools import cached_property

from lxml import etree

from haflow.coordinator.codes import Code
from haflow.coordinator.reports import error
from haflow.coordinator.workflow.durations import to_pacemaker
from haflow.coordinator.workflow.gcpause import gc_paused
from haflow.coordinator.workflow.graph import topological_order
from haflow.coordinator.workflow.model import (
    DEFAULT_TIMEOUT_MS,
    NOT_XML,
    FailurePolicy,
    RuleOp,
    Step,
    Workflow,
)
from haflow.encoding.ids import (
    APART,
    DEFAULTS_SET,
    DISCOVERY,
    GATE,
    OP_DEFAULTS_SET,
    ORDER,
    PLACE,
    PROVIDER,
    ROOT_AGENT,
    STEP_DEFAULTS_SET,
    STOP_DEFAULTS_SET,
    STOP_LAST,
    WITH,
    approval_ticket,
    constraint_id,
    meta_set_id,
    nvpair_id,
    params_set_id,
    root_id,
    step_id,
    tag_id,
)
from haflow.encoding.meta import (
    FAILURE_POLICY_META,
    LAST_STEP_META,
    MIGRATION_THRESHOLD,
    PARAM_DESCRIPTION,
    PARAM_SUBMISSION,
    PARAM_WORKFLOW,
    POLICY_ROLLBACK,
    SKIPPED_META,
    STEP_AGENTS,
    STEP_MIGRATION_THRESHOLD,
    UNIT_META,
)
from haflow.encoding.value import to_cib

DEFAULT_SUBMISSION = "1"
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


class Node:
    """One XML element being compiled: a plain object, serialized once at the end.

    Building the CIB with lxml cost ~2 us per element (10,000 for 500 steps);
    these cost a fifth of that, and the text is written in one pass, the same
    bytes lxml's pretty printer wrote (golden tests).
    """

    __slots__ = ("attrs", "children", "tag")

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[Node] = []


_SPECIAL = re.compile('[&<>"\n\r\t]').search


class Rendered(Node):
    """An element already written as text (pretty, indented from column 0): ``attrs``
    holds only its id; what it contains is in ``text``."""

    __slots__ = ("text",)

    def __init__(self, tag: str, attrs: dict[str, str], text: str) -> None:
        super().__init__(tag, attrs)
        self.text = text


_INDENT = re.compile("\n *")


def _escape(value: str) -> str:
    """What libxml2 escapes in an attribute value."""
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;")
            .replace("\t", "&#9;"))


def _attr_text(attrs: dict[str, str], escape: bool) -> str:
    if escape:
        return "".join([f' {k}="{_escape(v)}"' for k, v in attrs.items()])
    return "".join([f' {k}="{v}"' for k, v in attrs.items()])


def _write(node: Node, depth: int, out: list[str], pretty: bool, escape: bool,
           values: list[str]) -> None:
    """``node`` as text into ``out``; its attribute values also into ``values``."""
    pad = "  " * depth if pretty else ""
    end = "\n" if pretty else ""
    values.extend(node.attrs.values())
    if not node.children:
        out.append(f"{pad}<{node.tag}{_attr_text(node.attrs, escape)}/>{end}")
        return
    out.append(f"{pad}<{node.tag}{_attr_text(node.attrs, escape)}>{end}")
    inner = "  " * (depth + 1) if pretty else ""
    for child in node.children:
        if type(child) is Rendered:  # escaped already
            text = child.text
            out.append(inner + text.replace("\n", "\n" + inner) + end if pretty
                       else _INDENT.sub("", text))
        elif child.children:
            _write(child, depth + 1, out, pretty, escape, values)
        else:  # most elements (nvpairs, ops, refs): no call per element
            values.extend(child.attrs.values())
            out.append(f"{inner}<{child.tag}{_attr_text(child.attrs, escape)}/>{end}")
    out.append(f"{pad}</{node.tag}>{end}")


def _text(node: Node, pretty: bool) -> str:
    """The tree as XML text. Written first without escaping, and again with it only
    when one of the values holds a character to escape (one search over all of them,
    not one per element: most workflows have none)."""
    out: list[str] = []
    values: list[str] = []
    _write(node, 0, out, pretty, False, values)
    if _SPECIAL("\0".join(values)) is not None:
        out = []
        _write(node, 0, out, pretty, True, [])
    return "".join(out)


@dataclass
class CompiledWorkflow:
    """The CIB elements of one workflow; ``to_xml()`` is its deterministic fragment."""

    workflow: str
    resource_nodes: list[Node] = field(default_factory=list)
    constraint_nodes: list[Node] = field(default_factory=list)
    tag_nodes: list[Node] = field(default_factory=list)

    def _config(self) -> Node:
        config = Node("configuration", {})
        for section, nodes in (("resources", self.resource_nodes),
                               ("constraints", self.constraint_nodes),
                               ("tags", self.tag_nodes),
                               *((section, [made]) for section, made in shared_defaults())):
            holder = Node(section, {})
            holder.children = nodes
            config.children.append(holder)
        return config

    @gc_paused
    def to_xml(self, pretty: bool = True) -> bytes:
        """The fragment as UTF-8 text, indented unless ``pretty`` is False: same
        workflow, same bytes."""
        return _text(self._config(), pretty).encode()

    def fragment(self) -> etree._Element:
        """``<configuration>`` holding the workflow's elements: a new tree per call."""
        parser = etree.XMLParser(huge_tree=True)
        return etree.fromstring(self.to_xml(pretty=False), parser)

    @cached_property
    def _parsed(self) -> etree._Element:
        return self.fragment()

    def _section(self, name: str) -> list[etree._Element]:
        holder = self._parsed.find(name)
        return [] if holder is None else list(holder)

    @property
    def resources(self) -> list[etree._Element]:
        """The elements, for reading (pcs export, tests); merge_into takes its own."""
        return self._section("resources")

    @property
    def constraints(self) -> list[etree._Element]:
        return self._section("constraints")

    @property
    def tags(self) -> list[etree._Element]:
        return self._section("tags")

    @property
    def defaults(self) -> list[tuple[str, etree._Element]]:
        """haflow's shared sets (shared_defaults), by section."""
        return [(name, made) for name in SHARED_SECTIONS for made in self._section(name)]

    def ids(self) -> set[str]:
        """Every id of the workflow's own elements (references included; not the shared
        defaults, which are no workflow's)."""
        return {str(e.get("id")) for section in self._parsed if section.tag not in
                SHARED_SECTIONS for e in section.iter() if e.get("id") is not None}

    def resource_ids(self) -> list[str]:
        return [node.attrs["id"] for node in self.resource_nodes]


def _sub(parent: Node, tag: str, **attrs: str) -> Node:
    child = Node(tag, attrs)
    parent.children.append(child)
    return child


def _esc(value: str) -> str:
    return value if _SPECIAL(value) is None else _escape(value)


def _primitive(pid: str, agent: tuple[str, str, str], params: list[tuple[str, str]],
               meta: list[tuple[str, str]], ops: list[dict[str, str]],
               op_meta: dict[str, list[tuple[str, str]]] | None = None) -> Rendered:
    """A primitive written straight as text: primitives are most of a workflow's
    elements, and all have this one shape (nvpair sets, then operations). ``op_meta``:
    an operation's own meta attributes, by its id (Pacemaker passes those to the agent,
    as ``CRM_meta_*``; a resource's are not passed)."""
    standard, provider, kind = (_esc(part) for part in agent)
    lines = [f'<primitive id="{_esc(pid)}" class="{standard}" provider="{provider}" '
             f'type="{kind}">']
    for tag, set_id, pairs in (("instance_attributes", params_set_id(pid), params),
                               ("meta_attributes", meta_set_id(pid), meta)):
        if pairs:
            lines.append(f'  <{tag} id="{_esc(set_id)}">')
            lines += [f'    <nvpair id="{_esc(nvpair_id(set_id, n))}" name="{_esc(n)}" '
                      f'value="{_esc(v)}"/>' for n, v in pairs]
            lines.append(f"  </{tag}>")
    if ops:
        lines.append("  <operations>")
    for op in ops:
        head = "    <op" + "".join([f' {k}="{_esc(v)}"' for k, v in op.items()])
        own = (op_meta or {}).get(op["id"])
        if not own:
            lines.append(head + "/>")
            continue
        set_id = meta_set_id(op["id"])
        lines += [head + ">", f'      <meta_attributes id="{_esc(set_id)}">']
        lines += [f'        <nvpair id="{_esc(nvpair_id(set_id, n))}" name="{_esc(n)}" '
                  f'value="{_esc(v)}"/>' for n, v in own]
        lines += ["      </meta_attributes>", "    </op>"]
    lines += ["  </operations>", "</primitive>"] if ops else ["</primitive>"]
    return Rendered("primitive", {"id": pid}, "\n".join(lines))


def _ops(rid: str, timeout_ms: int, interval_ms: int, on_fail: str | None,
         stop_on_fail: str | None, shared: bool = False) -> list[dict[str, str]]:
    """The resource's operations; ``shared``: a resource of haflow's agents, whose ops
    say only what differs from haflow's shared operation defaults (``shared_defaults``:
    the timeout, a stop's on-fail=block; a start's and a monitor's on-fail=restart is
    Pacemaker's own), and start or stop only if anything does."""
    timeout = {} if shared and timeout_ms == DEFAULT_TIMEOUT_MS else \
        {"timeout": to_pacemaker(timeout_ms)}
    fail = {"on-fail": on_fail} if on_fail and not (shared and on_fail == RESTART) else {}
    stop_fail = {"on-fail": stop_on_fail} if stop_on_fail and not (
        shared and stop_on_fail == SHARED_STOP_ON_FAIL) else {}
    ops = [
        {"id": f"{rid}.start", "name": "start", "interval": "0s", **timeout, **fail},
        {"id": f"{rid}.stop", "name": "stop", "interval": "0s", **timeout, **stop_fail},
    ]
    if shared:  # a start or stop that says nothing but its name is left out
        ops = [op for op in ops if set(op) - {"id", "name", "interval"}]
    if interval_ms:
        interval = to_pacemaker(interval_ms)
        ops.append({"id": f"{rid}.monitor-{interval}", "name": "monitor",
                    "interval": interval, **timeout, **fail})
    return ops


RESTART = "restart"
# What every resource of haflow's agents shares, said once for all of them in
# Pacemaker's resource and operation defaults (shared_defaults): each attribute on a
# primitive costs the scheduler per resource and node (bench/schedule.py), and every
# CIB write costs every node's daemons in proportion to the CIB's size
STAYING_META = (
    # a step stays where it runs: without this a joining node "rebalances" steps, each
    # move a stop and a start (measured with crm_simulate)
    ("resource-stickiness", INFINITY),
    # failures are never forgotten: otherwise retries would never run out
    ("failure-timeout", "0"),
)
SHARED_META = (
    *STAYING_META,
    # a planned move (standby, a ban) is a hand-over: migrate_to releases the effect,
    # migrate_from adopts it; no stop, no start. The root moves so too: moved by stop
    # and start beside a first step that migrates, the scheduler's graph is a loop (root
    # start, step migrate_to/from, step stop on the old node, root stop, root start)
    # and the node never shuts down
    ("allow-migrate", "true"),
)
# a failed undo of an external effect is not fixed by fencing the node: block instead
SHARED_STOP_ON_FAIL = "block"


def shared_defaults() -> list[tuple[str, Node]]:
    """haflow's sets in ``rsc_defaults`` and ``op_defaults`` (section, element): for the
    resources of haflow's agents only (a rule on ``ocf:haflow:*``), at score INFINITY, so
    that they outrank an admin's own defaults as a resource's own attributes would."""
    made = []
    for section, set_id, pairs, op in (
            ("rsc_defaults", DEFAULTS_SET, SHARED_META, None),
            ("rsc_defaults", STEP_DEFAULTS_SET,
             ((MIGRATION_THRESHOLD, str(STEP_MIGRATION_THRESHOLD)),), None),
            ("op_defaults", OP_DEFAULTS_SET, (("timeout", to_pacemaker(DEFAULT_TIMEOUT_MS)),),
             None),
            ("op_defaults", STOP_DEFAULTS_SET, (("on-fail", SHARED_STOP_ON_FAIL),), "stop")):
        nvset = Node("meta_attributes", {"id": set_id, "score": INFINITY})
        # the step defaults: any of haflow's step agents (not the root, not a daemon,
        # whose failures Pacemaker's own default, INFINITY, keeps retrying in place)
        types = STEP_AGENTS if set_id == STEP_DEFAULTS_SET else (None,)
        rule = _sub(nvset, "rule", id=f"{set_id}.rule", score=INFINITY,
                    **{"boolean-op": "or" if len(types) > 1 else "and"})
        for kind in types:
            _sub(rule, "rsc_expression", id=f"{set_id}.rule.{kind or 'agent'}",
                 **{"class": "ocf", "provider": PROVIDER, **({"type": kind} if kind else {})})
        if op:
            _sub(rule, "op_expression", id=f"{set_id}.rule.op", name=op)
        for name, value in pairs:
            _sub(nvset, "nvpair", id=nvpair_id(set_id, name), name=name, value=value)
        made.append((section, nvset))
    return made


def _root(wf: Workflow) -> Rendered:
    """The root: one primitive, started before the first steps, stopped after them.

    Optional, because a mandatory order from a root restarts every step when
    the root moves (its node lost: measured with crm_simulate, a 4-step
    workflow restarted all 4); an optional one only orders actions that
    happen in the same transition. On abort (target-role=Stopped on the root
    and every step, one patch) a one-way mandatory order makes the root stop
    after the first steps (_root_orders), so its stop is the rollback's last
    act. If the root's node is the one fenced during the undo, its stop is
    implied by the fencing and its sweep does not run: the DC's alert agent
    starts it again on a live node to stop it there (agents/alert/agent.py,
    fault scenario crash-undo). It used to be a clone on every node, which kept
    the order mandatory but cost the scheduler one instance per node and
    workflow (1,000 steps on 32 nodes: 2.6 s of CPU with the clone, 0.9 s
    without; bench/schedule).
    """
    rid = root_id(wf.name)
    params = [(PARAM_WORKFLOW, wf.name)]
    if wf.description:
        params.append((PARAM_DESCRIPTION, to_cib(wf.description)))
    # like its steps, it stays where it runs and a planned move hands it over: the
    # shared defaults (SHARED_META) say so
    meta = [(FAILURE_POLICY_META, str(wf.failure_policy))]
    if wf.skipped:
        meta.append((SKIPPED_META, " ".join(wf.skipped)))
    # no recurring monitor: the root has no effect to watch
    ops = _ops(rid, DEFAULT_TIMEOUT_MS, 0, None, SHARED_STOP_ON_FAIL, shared=True)
    return _primitive(rid, ("ocf", PROVIDER, ROOT_AGENT), params, meta, ops)


def last_haflow_steps(wf: Workflow, order: list[str]) -> set[str]:
    """The haflow steps no haflow step runs after (directly or through other steps): the
    one of them that finds every haflow step done when it starts checkpoints the
    workflow's live state (meta.LAST_STEP_META)."""
    followed: dict[str, bool] = {}  # step -> whether a haflow step runs after it
    dependents: dict[str, list[str]] = {}
    for name in order:
        for first in wf.steps[name].after:
            dependents.setdefault(first, []).append(name)
    for name in reversed(order):
        followed[name] = any(wf.steps[d].agent.is_haflow or followed[d]
                             for d in dependents.get(name, ()))
    return {n for n in order if wf.steps[n].agent.is_haflow and not followed[n]}


def _step(wf: Workflow, step: Step, submission: str, last: bool = False,
          haflow_steps: int = 0) -> Rendered:
    sid = step_id(wf.name, step.name)
    agent = step.agent
    # haflow's agents read values back with from_cib; a foreign agent's values hold no
    # control character (the validator's PARAM_NOT_KEEPABLE)
    params = [(n, to_cib(v) if agent.is_haflow else v) for n, v in step.params.items()]
    if agent.is_haflow:
        # the step's name is its id's part after the workflow's (agents/step.py)
        params += [(PARAM_WORKFLOW, wf.name), (PARAM_SUBMISSION, submission)]
    # retries on one node before moving on; then the alert acts on the policy. The
    # shared step defaults (shared_defaults) say the usual ones for haflow's agents
    threshold, policy = step.retries + 1, str(step.failure_policy)
    meta = []
    if not agent.is_haflow or threshold != STEP_MIGRATION_THRESHOLD:
        meta.append((MIGRATION_THRESHOLD, str(threshold)))
    if not agent.is_haflow:  # the shared defaults are for haflow's agents only
        meta += STAYING_META
    if not agent.is_haflow or policy != POLICY_ROLLBACK:
        meta.append((FAILURE_POLICY_META, policy))
    if step.unit:
        meta.append((UNIT_META, step.unit))
    hold = step.failure_policy == FailurePolicy.HOLD
    # foreign agents manage node-local things: a failed stop keeps Pacemaker's default
    # (fencing) unless the step holds
    stop_on_fail = SHARED_STOP_ON_FAIL if agent.is_haflow or hold else None
    ops = _ops(sid, step.timeout_ms, step.interval_ms, "block" if hold else RESTART,
               stop_on_fail, shared=agent.is_haflow)
    # the start of a last step checkpoints the workflow once its haflow steps are all
    # done (agents/checkpoint.py): it is told how many there are, on its start op
    op_meta = None
    if last:
        start = f"{sid}.start"
        if not any(op["id"] == start for op in ops):
            ops.insert(0, {"id": start, "name": "start", "interval": "0s"})
        op_meta = {start: [(LAST_STEP_META, str(haflow_steps))]}
    return _primitive(sid, (agent.standard, agent.provider, agent.type), params, meta, ops,
                      op_meta)


def _set(parent: Node, set_id: str, ids: list[str], sequential: bool) -> None:
    rset = _sub(parent, "resource_set", id=set_id, sequential="true" if sequential else "false")
    for rid in ids:
        _sub(rset, "resource_ref", id=rid)


def _order(cid: str, first: list[str], then: list[str], kind: str = "Mandatory",
           symmetrical: bool = True) -> Node:
    """``then`` starts after all of ``first`` (and, symmetrical, stops before them)."""
    if len(first) == 1 and len(then) == 1:
        return Node(
            "rsc_order",
            {
                "id": cid,
                "kind": kind,
                "first": first[0],
                "then": then[0],
                "symmetrical": str(symmetrical).lower(),
            },
        )
    order = Node("rsc_order", {"id": cid, "kind": kind,
                                        "symmetrical": str(symmetrical).lower()})
    _set(order, f"{cid}.0", first, sequential=len(first) == 1)
    _set(order, f"{cid}.1", then, sequential=len(then) == 1)
    return order


def _chain(cid: str, ids: list[str]) -> Node:
    """Each of ``ids`` after the one before it: one sequential set, not a constraint per edge."""
    if len(ids) == 2:
        return _order(cid, ids[:1], ids[1:])
    order = Node("rsc_order", {"id": cid, "kind": "Mandatory", "symmetrical": "true"})
    _set(order, f"{cid}.0", ids, sequential=True)
    return order


def _orders(wf: Workflow, order: list[str]) -> list[Node]:
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
    result = []
    for deps, names in groups.items():
        if len(deps) == 1 and len(names) == 1:
            if deps[0] in edge_from:
                continue  # inside a chain that starts earlier
            chain = [deps[0]]
            while chain[-1] in edge_to:
                chain.append(edge_to[chain[-1]])
            ids = [step_id(wf.name, n) for n in chain]
            result.append(_chain(constraint_id(wf.name, ORDER, chain[1]), ids))
            continue
        then = [step_id(wf.name, n) for n in names]
        if deps:
            first = [step_id(wf.name, d) for d in deps]
            result.append(_order(constraint_id(wf.name, ORDER, names[0]), first, then))
        else:  # the first steps, after the root (see _root)
            result += _root_orders(wf.name, names[0], then)
    return result


def _root_orders(workflow: str, first_name: str, first_steps: list[str]) -> list[Node]:
    """The root starts before the first steps (Optional: its move restarts nothing) and
    stops after them (Mandatory, one way: its stop, the rollback's last act, waits for
    their stops, and is blocked with them by a step whose stop cannot run yet, until
    abort's cleanup; a step that merely moves does not stop the root)."""
    root = root_id(workflow)
    starts = _order(constraint_id(workflow, ORDER, first_name), [root], first_steps,
                    kind="Optional", symmetrical=False)
    cid = constraint_id(workflow, STOP_LAST)
    if len(first_steps) == 1:
        stops = Node("rsc_order", {
            "id": cid, "kind": "Mandatory", "first": first_steps[0], "first-action": "stop",
            "then": root, "then-action": "stop", "symmetrical": "false"})
    else:
        stops = Node("rsc_order", {"id": cid, "kind": "Mandatory",
                                            "symmetrical": "false"})
        _set(stops, f"{cid}.0", first_steps, sequential=False)
        _set(stops, f"{cid}.1", [root], sequential=True)
        for rset in stops.children:
            rset.attrs["action"] = "stop"
    return [starts, stops]


def _colocations(wf: Workflow) -> list[Node]:
    result = []
    done: set[tuple[str, str]] = set()
    for step in wf.steps.values():
        for other in step.with_:
            if step.name in wf.steps[other].with_ and other < step.name:
                continue  # "a with b" and "b with a": one constraint (written for the first)
            result.append(
                Node(
                    "rsc_colocation",
                    {
                        "id": constraint_id(wf.name, WITH, step.name, other),
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
                Node(
                    "rsc_colocation",
                    {
                        "id": constraint_id(wf.name, APART, step.name, other),
                        "rsc": step_id(wf.name, step.name),
                        "with-rsc": step_id(wf.name, other),
                        "score": f"-{INFINITY}",
                    },
                )
            )
    return result


def _location(wf: Workflow, step: Step) -> Node | None:
    if not (step.nodes or step.avoid or step.rules):
        return None
    cid = constraint_id(wf.name, PLACE, step.name)
    loc = Node("rsc_location", {"id": cid, "rsc": step_id(wf.name, step.name)})

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


def _gates(wf: Workflow) -> list[Node]:
    """An approval gate: the steps it holds need a ticket that nobody holds until
    ``haflow approve`` grants it (crm_ticket --grant would too). Not granted, they cannot
    start, and everything ordered after them waits; an abort stops the rest as usual. A
    ticket revoked after the approval stops the steps (loss-policy stop) without undoing
    them: the effect stays, flagged, for the next start or the rollback's sweep."""
    result = []
    for gate, held in wf.gates.items():
        attrs = {"id": constraint_id(wf.name, GATE, gate),
                 "ticket": approval_ticket(wf.name, gate), "loss-policy": "stop"}
        ids = [step_id(wf.name, n) for n in held]
        if len(ids) == 1:
            result.append(Node("rsc_ticket", {"id": attrs["id"], "rsc": ids[0],
                                              **{k: v for k, v in attrs.items() if k != "id"}}))
            continue
        ticket = Node("rsc_ticket", attrs)
        _set(ticket, f"{attrs['id']}.set", ids, sequential=False)
        result.append(ticket)
    return result


def _no_discovery(wf: Workflow, ids: list[str]) -> Node:
    """haflow steps are never probed: their "running here" is a node-local marker."""
    cid = constraint_id(wf.name, DISCOVERY)
    loc = Node("rsc_location", {"id": cid, "resource-discovery": "never"})
    _set(loc, f"{cid}.set", ids, sequential=False)
    rule = _sub(loc, "rule", id=f"{cid}.rule", score="0")
    _sub(rule, "expression", id=f"{cid}.rule.0", attribute="#uname", operation="defined")
    return loc


@gc_paused
def compile_workflow(wf: Workflow, submission: str = DEFAULT_SUBMISSION) -> CompiledWorkflow:
    """The CIB elements of a validated workflow."""
    if not submission or NOT_XML.search(submission):
        # the file's own text is checked by the loader; this comes from the command line
        raise error(Code.BAD_SUBMISSION,
                    f"submission id {submission!r} cannot be stored in the CIB")
    out = CompiledWorkflow(wf.name)
    order = topological_order({n: s.after for n, s in wf.steps.items()})
    out.resource_nodes.append(_root(wf))
    last = last_haflow_steps(wf, order)
    count = sum(1 for n in order if wf.steps[n].agent.is_haflow)
    out.resource_nodes += [_step(wf, wf.steps[n], submission, n in last, count)
                           for n in order]
    constraints = out.constraint_nodes
    constraints += _orders(wf, order)
    constraints += _colocations(wf)
    constraints += [c for n in order if (c := _location(wf, wf.steps[n])) is not None]
    constraints += _gates(wf)
    undiscovered = [root_id(wf.name)] + [
        step_id(wf.name, n) for n in order if wf.steps[n].agent.is_haflow
    ]
    constraints.append(_no_discovery(wf, undiscovered))
    tag = Node("tag", {"id": tag_id(wf.name)})
    for rid in out.resource_ids():
        _sub(tag, "obj_ref", id=rid)
    out.tag_nodes.append(tag)
    return out


_IDS_OF = etree.XPath("//@id[. = $name or starts-with(., $prefix)]", smart_strings=False)


def merge_into(cib: etree._Element, compiled: CompiledWorkflow,
               at: Mapping[str, int] | None = None) -> etree._Element:
    """A copy of ``cib`` with the workflow added; raises HaflowError on any id collision.

    Its elements go first in each section of the configuration, or from index
    ``at[section]`` (where a replaced workflow's were: a replacement by the same
    elements is then no change at all). Not last: Pacemaker 2.1.5 places each element a
    patch creates by counting, for every sibling before it, the siblings before that
    one, so creating k elements behind s others costs every CIB manager and fencer
    about k*s*s steps (1,000 steps behind 2,000: 136 s of CPU each, measured with
    cibadmin on a file) and in front of them k*k*k/3 (3 s)."""
    new = deepcopy(cib)
    # every compiled id is the workflow's name or starts with "NAME." (module docstring):
    # only such ids can collide, and the compiled ones are listed only if one is there
    # (listing them was half of a 500-step merge)
    found = _IDS_OF(new, name=compiled.workflow, prefix=f"{compiled.workflow}.")
    taken = {str(i) for i in found} if isinstance(found, list) else set()
    clash = sorted(compiled.ids() & taken) if taken else []
    if clash:
        shown = ", ".join(clash[:5]) + (" ..." if len(clash) > 5 else "")
        raise error(
            Code.ID_COLLISION,
            f"the CIB already has ids of workflow '{compiled.workflow}': {shown}",
            details={"ids": clash},
        )
    config = new.find("configuration")
    if config is None:
        raise error(Code.BAD_CIB, "the CIB has no <configuration>")
    for section in compiled.fragment():  # a tree of our own: its elements move over
        holder = config.find(section.tag)
        if holder is None:
            holder = etree.SubElement(config, section.tag)
        index = (at or {}).get(section.tag, 0)
        for made in list(section):
            there = holder.find(f"{made.tag}[@id='{made.get('id')}']") \
                if section.tag in SHARED_SECTIONS else None
            if there is not None:  # every workflow's: the one there is replaced where it is
                there.addnext(made)
                holder.remove(there)
            elif section.tag in SHARED_SECTIONS:
                holder.append(made)
            else:
                holder.insert(index, made)
                index += 1
    return new


SHARED_SECTIONS = ("rsc_defaults", "op_defaults")  # shared_defaults()
