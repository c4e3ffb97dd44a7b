"""``haflow plan``: what Pacemaker will do with a workflow, asked of Pacemaker itself.

The workflow is compiled and merged into a shadow copy of a CIB (the live one,
read only, or a file), and the scheduler runs offline (:mod:`simulate`). The
plan is the transition graph reduced to the workflow's steps: which step
starts on which node, in which waves, in which order. What-ifs simulate on
from the state after the workflow has started: a node lost, or a step that
fails, followed through its failure policy.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from haflow.coordinator.cluster import simulate
from haflow.coordinator.cluster.env import Env
from haflow.coordinator.cluster.simulate import Action, Simulation, TransitionGraph
from haflow.coordinator.codes import Code
from haflow.coordinator.reports import error
from haflow.coordinator.workflow.model import FailurePolicy, Workflow
from haflow.encoding import ids, read, write
from haflow.encoding.meta import STOPPED

# a step that fails everywhere is tried on each node once: bound the rounds
MAX_FAIL_ROUNDS = 64
PLAN_SUBMISSION = "plan"


@dataclass(frozen=True)
class PlannedAction:
    step: str  # the step name ("root" for the workflow's root), or "" for fencing
    resource: str
    task: str
    node: str | None
    wave: int  # 1-based
    order: int  # 1-based position in a valid execution order (numbered across phases)
    fails: bool = False  # the what-if makes this action fail

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "resource": self.resource, "task": self.task,
                "node": self.node, "wave": self.wave, "order": self.order, "fails": self.fails}

    def __str__(self) -> str:
        where = f" on {self.node}" if self.node else ""
        what = self.step or self.resource
        return f"{self.task} {what}{where}" + (" -> FAILS" if self.fails else "")


def _gate_of(plan: Plan) -> dict[str, str]:
    return {step: gate for gate, held in plan.gates.items() for step in held}


@dataclass
class Phase:
    """One transition of the scheduler, reduced to the workflow's actions."""

    title: str
    actions: list[PlannedAction]
    edges: list[tuple[int, int]]  # (order of the input, order of the action waiting for it)
    seconds: float
    other_actions: int = 0  # actions on resources outside the workflow (probes excluded)
    aborted: int = 0  # actions not run: they wait for one that fails
    lost: list[str] = field(default_factory=list)  # nodes lost as this phase begins

    def waves(self) -> list[list[PlannedAction]]:
        grouped: dict[int, list[PlannedAction]] = {}
        for action in self.actions:
            grouped.setdefault(action.wave, []).append(action)
        return [grouped[k] for k in sorted(grouped)]

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "seconds": round(self.seconds, 4),
                "other_actions": self.other_actions, "aborted": self.aborted, "lost": self.lost,
                "waves": [[a.to_dict() for a in wave] for wave in self.waves()],
                "edges": [list(e) for e in self.edges]}


@dataclass
class Plan:
    workflow: str
    scenario: str
    nodes: list[str]
    phases: list[Phase] = field(default_factory=list)
    # step -> {"state": running|stopped|failed, "nodes": [...]} after the last phase
    placement: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # what the orchestration keys made: approval gate -> the steps it holds; steps whose
    # `when` is false; step -> the file's step it is an instance (or part) of
    gates: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"workflow": self.workflow, "scenario": self.scenario, "nodes": self.nodes,
                "placement": self.placement, "notes": self.notes,
                "gates": self.gates, "skipped": self.skipped, "units": self.units,
                "phases": [p.to_dict() for p in self.phases]}


def plan_file(path: str, env: Env | None = None, cib_file: str | None = None, *,
              node_down: str | None = None, fail: str | None = None,
              inputs: Mapping[str, object] | None = None, name: str | None = None) -> Plan:
    """The plan of the workflow in ``path`` (with ``inputs``, as instance ``name``) against
    ``cib_file``, else the live CIB."""
    from haflow.coordinator.cluster import live_view
    from haflow.coordinator.workflow.loader import load

    workflow = load(path, inputs=inputs, name=name)
    if cib_file:
        try:
            cib = etree.parse(cib_file).getroot()
        except (OSError, etree.XMLSyntaxError) as exc:
            raise error(Code.BAD_CIB, f"--cib {cib_file}: {exc}",
                        file=cib_file) from exc
    else:
        cib = live_view.query(env or Env())
    return make_plan(workflow, cib, node_down=node_down, fail=fail)


def make_plan(workflow: Workflow, cib: etree._Element, *, node_down: str | None = None,
              fail: str | None = None) -> Plan:
    """Plan ``workflow`` against ``cib`` (not modified), with at most one what-if."""
    from haflow.coordinator.commands.workflow_cib import with_workflow

    if fail is not None and fail not in workflow.steps:
        raise error(Code.STEP_NOT_FOUND, f"--fail {fail}: workflow {workflow.name} has no such "
                    f"step (steps: {', '.join(workflow.steps)})", step=fail)
    nodes = simulate.node_names(cib)
    if node_down is not None and node_down not in nodes:
        raise error(Code.NODE_NOT_FOUND, f"--node-down {node_down}: the CIB has no such node "
                    f"(nodes: {', '.join(nodes) or 'none'})")
    present = bool(read.elements_of(cib, workflow.name))
    # a workflow in the CIB already: what replacing it would do (its own submission)
    shadow, _ = with_workflow(cib, workflow, None if present else PLAN_SUBMISSION)
    scenario = ("submit" if node_down is None and fail is None else
                f"node {node_down} lost" if node_down else f"step {fail} fails")
    plan = Plan(workflow=workflow.name, scenario=scenario, nodes=nodes,
                gates={g: list(held) for g, held in workflow.gates.items()},
                skipped=list(workflow.skipped),
                units={s.name: s.unit for s in workflow.steps.values() if s.unit})
    if present:
        plan.notes.append(f"workflow {workflow.name} is in the CIB already: this is what "
                          "'haflow submit --replace' would do")
    mine = _selector(workflow.name)
    if fail is not None:
        _plan_failure(plan, workflow, shadow, fail, mine)
        return plan
    gated = bool(workflow.gates) and node_down is None
    first = simulate.run(shadow, keep_output=node_down is not None or gated)
    plan.phases.append(reduce(first, "start the workflow", mine))
    if gated:
        assert first.output is not None
        _plan_approval(plan, workflow, first.output, mine)
    if node_down is not None:
        assert first.output is not None
        # a crash, not a clean leave: the node's resources are lost and it is fenced
        state = simulate.run(first.output, node_fail=[node_down])
        recovery = reduce(state, f"recovery after {node_down} is lost", mine,
                          first_order=_next_order(plan))
        recovery.lost = [node_down]
        plan.phases.append(recovery)
    plan.placement = _placement(plan, workflow)
    return plan


def _plan_approval(plan: Plan, workflow: Workflow, state: etree._Element,
                   mine: Callable[[Action], bool]) -> None:
    """What follows once every gate is approved: the steps they held, and the rest."""
    from haflow.encoding import tickets

    approved = copy.deepcopy(state)
    for gate in workflow.gates:
        tickets.grant(approved, ids.approval_ticket(workflow.name, gate))
    names = ", ".join(workflow.gates)
    plan.phases.append(reduce(simulate.run(approved), f"once approved ({names})", mine,
                              first_order=_next_order(plan)))
    for gate, held in workflow.gates.items():
        plan.notes.append(f"{gate} waits for approval: 'haflow approve {workflow.name} "
                          f"{gate}' lets {', '.join(held)} start, and what runs after")


def _plan_failure(plan: Plan, workflow: Workflow, shadow: etree._Element, step: str,
                  mine: Callable[[Action], bool]) -> None:
    """The step's start fails wherever it is tried; follow the scheduler until it settles."""
    rid = ids.step_id(workflow.name, step)
    every_node = [f"{rid}_start_0@{node}=1" for node in plan.nodes]
    title = f"start the workflow; {step} fails"
    state = simulate.run(shadow, op_fail=every_node, keep_output=True)
    plan.phases.append(reduce(state, title, mine, failing=rid))
    # each node gets retries + 1 attempts: bound the rounds by that, plus slack
    rounds = (workflow.steps[step].retries + 1) * len(plan.nodes) + 2
    for attempt in range(1, min(rounds, MAX_FAIL_ROUNDS) + 1):
        assert state.output is not None
        state = simulate.run(state.output, op_fail=every_node, keep_output=True)
        phase = reduce(state, f"reaction {attempt} to the failure of {step}", mine,
                       failing=rid, first_order=_next_order(plan))
        if not phase.actions:
            break
        plan.phases.append(phase)
    attempts: dict[str, int] = {}
    for failed in (a for p in plan.phases for a in p.actions if a.fails and a.node):
        attempts[str(failed.node)] = attempts.get(str(failed.node), 0) + 1
    tried = ", ".join(f"{node} x{count}" for node, count in attempts.items())
    plan.notes.append(f"{step} was tried {sum(attempts.values())} time(s): {tried or 'never'} "
                      f"(retries: {workflow.steps[step].retries} per node)")
    policy = workflow.steps[step].failure_policy
    if policy == FailurePolicy.ROLLBACK:
        assert state.output is not None
        rollback = _stop_root(state.output, workflow.name)
        final = simulate.run(rollback)
        plan.phases.append(reduce(final, "rollback: the workflow is stopped, every step "
                                  "is undone in reverse order", mine,
                                  first_order=_next_order(plan)))
        plan.notes.append(f"policy rollback: once {step} has no node left to retry on, "
                          f"every resource of {workflow.name} gets target-role=Stopped")
    else:
        plan.notes.append(f"policy {policy.value}: {step} stays failed, the steps after it "
                          "wait, the rest stays in place for a human")
    plan.placement = _placement(plan, workflow)


def _next_order(plan: Plan) -> int:
    return 1 + sum(len(p.actions) for p in plan.phases)


def _stop_root(cib: etree._Element, workflow: str) -> etree._Element:
    """A copy of ``cib`` with the workflow stopped as abort/rollback stops it."""
    shadow = copy.deepcopy(cib)
    if read.root_of(shadow, workflow) is None:
        raise error(Code.WORKFLOW_DAMAGED, "the compiled workflow has no root resource "
                    f"{ids.root_id(workflow)}")
    write.set_role(shadow, workflow, STOPPED)
    return shadow


def _selector(workflow: str) -> Callable[[Action], bool]:
    def mine(action: Action) -> bool:
        if action.task == "stonith" and action.kind != "pseudo_event":
            return True  # fencing is part of any recovery
        split = ids.split_step_id(action.resource or "")
        return action.changes_state and split is not None and split[0] == workflow
    return mine


def reduce(sim: Simulation, title: str, mine: Callable[[Action], bool], *,
           failing: str | None = None, first_order: int = 1) -> Phase:
    """The workflow's state changes of one transition, in waves, with their direct edges.

    ``failing``: the resource whose starts fail. Pacemaker aborts the
    transition at a failure: what it did not get to run is not shown (counted
    as ``aborted``) and is scheduled again in the next phase.
    """
    graph = sim.graph
    failed = {a.id for a in graph.actions.values()
              if failing is not None and a.resource == failing and a.task == "start"}
    # not run: what the simulated transition did not get to (it aborts at a failure)
    dropped = {a.id for a in graph.actions.values() if not sim.ran(a)}
    waves = graph.waves(lambda a: mine(a) and a.id not in dropped)
    numbered: dict[int, PlannedAction] = {}
    order = first_order - 1
    for index, wave in enumerate(waves, start=1):
        for action in wave:
            order += 1
            split = ids.split_step_id(action.resource or "")
            numbered[action.id] = PlannedAction(
                step=split[1] if split else "", resource=action.resource or action.key,
                task=action.task, node=action.node, wave=index, order=order,
                fails=action.id in failed)
    edges = sorted({(numbered[src].order, numbered[dst].order)
                    for dst, srcs in _nearest_inputs(graph, set(numbered)).items()
                    for src in srcs})
    others = sum(1 for a in graph.actions.values()
                 if a.changes_state and a.id not in numbered and a.id not in dropped)
    aborted = sum(1 for a in graph.actions.values() if mine(a) and a.id in dropped)
    return Phase(title=title, actions=list(numbered.values()), edges=edges,
                 seconds=sim.seconds, other_actions=others, aborted=aborted)


def _nearest_inputs(graph: TransitionGraph, shown: set[int]) -> dict[int, set[int]]:
    """For each shown action, the shown actions it waits for with only hidden ones between."""
    through: dict[int, set[int]] = {}  # hidden action -> shown actions behind it
    for action in graph.topological():
        behind: set[int] = set()
        for p in action.inputs:
            if p in shown:
                behind.add(p)
            elif p in through:
                behind |= through[p]
        through[action.id] = behind
    return {a: through[a] for a in shown}


def _placement(plan: Plan, workflow: Workflow) -> dict[str, dict[str, Any]]:
    """Each step's state and nodes after the last phase (a list: a clone runs on several)."""
    steps = [ids.ROOT_STEP, *workflow.steps]
    running: dict[str, list[str]] = {s: [] for s in steps}
    failed: dict[str, list[str]] = {s: [] for s in steps}
    for phase in plan.phases:
        for table in (running, failed):  # what ran on a lost node is gone (no stop action)
            for nodes in table.values():
                nodes[:] = [n for n in nodes if n not in phase.lost]
        for action in sorted(phase.actions, key=lambda a: a.order):
            if action.step not in running or action.node is None:
                continue
            for table in (running, failed):
                if action.node in table[action.step]:
                    table[action.step].remove(action.node)
            if action.task in ("start", "migrate_from"):
                (failed if action.fails else running)[action.step].append(action.node)
    return {s: {"state": "running" if running[s] else "failed" if failed[s] else "stopped",
                "nodes": sorted(running[s] or failed[s])} for s in steps}


# -- rendering -------------------------------------------------------------------------


def to_text(plan: Plan) -> str:
    lines = [f"Plan for workflow {plan.workflow} ({plan.scenario}) on "
             f"{len(plan.nodes)} node(s): {', '.join(plan.nodes)}"]
    for phase in plan.phases:
        lines.append(f"\n{phase.title} (scheduled in {phase.seconds:.2f} s):")
        if not phase.actions:
            lines.append("  nothing to do")
        gate_of = _gate_of(plan)
        for number, wave in enumerate(phase.waves(), start=1):
            for index, action in enumerate(wave):
                head = f"wave {number}:" if index == 0 else ""
                extra = ""
                if action.step in gate_of and action.task == "start":
                    extra = f"  (waits for approval: {gate_of[action.step]})"
                lines.append(f"  {head:<9}{action.order:>4}. {action}{extra}")
        if phase.aborted:
            lines.append(f"  ({phase.aborted} action(s) not run: the failure aborts the "
                         "transition)")
        if phase.other_actions:
            lines.append(f"  (and {phase.other_actions} action(s) on other resources)")
    lines.append("\nat the end:")
    for step, place in plan.placement.items():
        nodes = f" on {', '.join(place['nodes'])}" if place["nodes"] else ""
        unit = f" ({plan.units[step]})" if step in plan.units else ""
        lines.append(f"  {step}{unit}: {place['state']}{nodes}")
    lines.extend(f"  {step}: skipped (its 'when' is false)" for step in plan.skipped)
    lines.extend(f"\nnote: {note}" for note in plan.notes)
    return "\n".join(lines)


COLORS = {"start": "darkgreen", "stop": "firebrick", "stonith": "purple"}


def to_dot(plan: Plan) -> str:
    """A Graphviz picture: one box per action labelled with its node, edges = waits-for."""
    out = [f'digraph "{_dot_escape(plan.workflow)}" {{', "  rankdir=TB;",
           '  node [shape=box, style=rounded, fontname="sans-serif"];']
    gate_of = _gate_of(plan)
    drawn: set[str] = set()
    for step in plan.skipped:
        out.append(f'  "skipped {_dot_escape(step)}" [label="{_dot_escape(step)}\\nskipped", '
                   "style=dashed, color=gray];")
    for p_index, phase in enumerate(plan.phases):
        out.append(f"  subgraph cluster_{p_index} {{")
        out.append(f'    label="{_dot_escape(phase.title)}";')
        for w_index, wave in enumerate(phase.waves(), start=1):
            names = " ".join(f"p{p_index}_{a.order}" for a in wave)
            out.append(f"    {{ rank=same; {names} }}  // wave {w_index}")
            for a in wave:
                unit = f" ({plan.units[a.step]})" if a.step in plan.units else ""
                label = f"{a.step or a.resource}{unit}\\n{a.task} on {a.node or '-'}"
                color = COLORS.get(a.task, "black")
                out.append(f'    p{p_index}_{a.order} [label="{_dot_escape(label)}", '
                           f"color={color}];")
                if a.step in gate_of and a.task == "start":
                    gate = f"p{p_index}_gate_{_dot_id(gate_of[a.step])}"
                    if gate not in drawn:
                        drawn.add(gate)
                        out.append(f'    {gate} [label="waits for approval\\n'
                                   f'{_dot_escape(gate_of[a.step])}", shape=diamond, '
                                   "color=orange];")
                    out.append(f"    {gate} -> p{p_index}_{a.order};")
        for src, dst in phase.edges:
            out.append(f"    p{p_index}_{src} -> p{p_index}_{dst};")
        out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_id(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


def _dot_escape(text: str) -> str:
    return text.replace('"', '\\"')
