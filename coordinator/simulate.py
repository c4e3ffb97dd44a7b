"""Pacemaker's own scheduler, offline: run ``crm_simulate`` on a CIB and read its plan.

haflow does not predict what Pacemaker will do; it asks the scheduler. A CIB
(a shadow copy of the live one, or a file) is written to a temporary directory,
``crm_simulate`` computes the transition graph, and the graph is parsed into
actions with their dependencies, from which waves (topological levels) and an
order follow. Nothing here prints and nothing touches a cluster.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from haflow.coordinator.env import Env
from haflow.coordinator.exitcodes import ExitCode
from haflow.coordinator.reports import error

# actions that change what runs where; probes and recurring monitors only observe
CHANGING_TASKS = frozenset({"start", "stop", "promote", "demote", "migrate_to",
                            "migrate_from", "stonith", "do_shutdown"})


@dataclass(frozen=True)
class Action:
    """One action of a transition graph (an rsc_op, pseudo_event or crm_event)."""

    id: int
    key: str  # operation_key, e.g. ``W.a_start_0``
    task: str  # start, stop, monitor, stonith, running, ...
    kind: str  # rsc_op, pseudo_event or crm_event
    resource: str | None = None
    node: str | None = None
    interval_ms: int = 0
    inputs: tuple[int, ...] = ()  # ids of the actions this one waits for

    @property
    def is_probe(self) -> bool:
        return self.task == "monitor" and self.interval_ms == 0

    @property
    def changes_state(self) -> bool:
        """True for what a plan shows: starts, stops, moves, fencing (not probes or pseudo)."""
        return self.kind != "pseudo_event" and self.task in CHANGING_TASKS

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "key": self.key, "task": self.task, "kind": self.kind,
                "resource": self.resource, "node": self.node, "interval_ms": self.interval_ms,
                "inputs": list(self.inputs)}


@dataclass
class TransitionGraph:
    """The scheduler's transition graph: actions and what each waits for."""

    actions: dict[int, Action] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.actions)

    def find(self, resource: str, task: str, interval_ms: int = 0) -> list[Action]:
        return [a for a in self.actions.values()
                if a.resource == resource and a.task == task and a.interval_ms == interval_ms]

    def topological(self) -> list[Action]:
        """Every action after its inputs (ties by id: stable for a given graph)."""
        pending = {i: sum(1 for p in a.inputs if p in self.actions)
                   for i, a in self.actions.items()}
        users: dict[int, list[int]] = {i: [] for i in self.actions}
        for a in self.actions.values():
            for p in a.inputs:
                if p in users:
                    users[p].append(a.id)
        ready = sorted(i for i, n in pending.items() if n == 0)
        order: list[Action] = []
        while ready:
            current = ready.pop(0)
            order.append(self.actions[current])
            for user in users[current]:
                pending[user] -= 1
                if pending[user] == 0:
                    ready.append(user)
            ready.sort()
        if len(order) != len(self.actions):
            raise error("GRAPH_CYCLE", "the transition graph has a cycle; the scheduler "
                        "produced a graph haflow cannot order")
        return order

    def waves(self, shown: Callable[[Action], bool] | None = None) -> list[list[Action]]:
        """Actions that ``shown`` selects (default: state changes) in topological levels.

        An action's wave is the number of shown actions on its longest chain of
        inputs, so dependencies through probes and pseudo actions still count,
        and actions of one wave can run at the same time.
        """
        keep = shown or (lambda a: a.changes_state)
        level: dict[int, int] = {}
        for action in self.topological():
            level[action.id] = max(
                (level[p] + (1 if keep(self.actions[p]) else 0)
                 for p in action.inputs if p in level), default=0)
        waves: dict[int, list[Action]] = {}
        for action in self.actions.values():
            if keep(action):
                waves.setdefault(level[action.id], []).append(action)
        # renumber from 0 without gaps; inside a wave, by resource then node
        return [sorted(waves[k], key=lambda a: (a.resource or "", a.task, a.node or ""))
                for k in sorted(waves)]

    def ancestors(self, action_id: int) -> set[int]:
        """Every action ``action_id`` waits for, directly or through others."""
        seen: set[int] = set()
        stack = list(self.actions[action_id].inputs)
        while stack:
            current = stack.pop()
            if current in seen or current not in self.actions:
                continue
            seen.add(current)
            stack.extend(self.actions[current].inputs)
        return seen


@dataclass
class Simulation:
    """What one crm_simulate run returned."""

    graph: TransitionGraph
    dot: str
    seconds: float  # wall time of crm_simulate itself
    output: etree._Element | None = None  # the resulting CIB, with simulate=True


def parse_graph(xml: bytes | str) -> TransitionGraph:
    """Parse crm_simulate's ``--save-graph`` XML (``<transition_graph>`` of synapses)."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    graph = TransitionGraph()
    for synapse in root.iterfind("synapse"):
        action_set = synapse.find("action_set")
        if action_set is None or len(action_set) == 0:
            continue
        inputs = tuple(int(t[0].get("id", "-1")) for t in synapse.iterfind("inputs/trigger")
                       if len(t))
        for element in action_set:
            action = _action(element, inputs)
            graph.actions[action.id] = action
    return graph


def _action(element: etree._Element, inputs: tuple[int, ...]) -> Action:
    primitive = element.find("primitive")
    attributes = element.find("attributes")
    interval = attributes.get("CRM_meta_interval", "0") if attributes is not None else "0"
    resource = None
    if primitive is not None:
        # long-id is the clone instance (W.x:0); id is what the configuration names
        resource = primitive.get("id")
    return Action(id=int(element.get("id", "-1")), key=element.get("operation_key", ""),
                  task=element.get("operation", ""), kind=str(element.tag), resource=resource,
                  node=element.get("on_node"), interval_ms=int(interval), inputs=inputs)


def run(cib: etree._Element, *, simulate: bool = True, node_up: Iterable[str] = (),
        node_down: Iterable[str] = (), node_fail: Iterable[str] = (),
        op_inject: Iterable[str] = (), op_fail: Iterable[str] = (),
        keep_output: bool = False, env: Env | None = None,
        timeout: float = 900.0) -> Simulation:
    """Run the scheduler on ``cib``; with ``simulate`` also execute the graph (-S).

    ``op_inject`` and ``op_fail`` take crm_simulate's OPSPEC
    (``RSC_TASK_INTERVAL@NODE=RC``). ``keep_output`` returns the CIB after the
    simulated transition, to simulate the next event from there.
    """
    runner = env or Env()
    with tempfile.TemporaryDirectory(prefix="haflow-simulate-") as tmp:
        folder = Path(tmp)
        paths = {name: folder / f"{name}" for name in ("in.xml", "graph.xml", "graph.dot",
                                                      "out.xml")}
        paths["in.xml"].write_bytes(etree.tostring(cib))
        argv = ["crm_simulate", "--simulate" if simulate else "--run", "--quiet",
                "--xml-file", str(paths["in.xml"]), "--save-graph", str(paths["graph.xml"]),
                "--save-dotfile", str(paths["graph.dot"])]
        if keep_output:
            argv += ["--save-output", str(paths["out.xml"])]
        argv += _repeat("--node-up", node_up) + _repeat("--node-down", node_down)
        argv += _repeat("--node-fail", node_fail) + _repeat("--op-inject", op_inject)
        argv += _repeat("--op-fail", op_fail)
        # crm_simulate keeps its working shadow copy under TMPDIR: keep it in ours
        scoped = Env(prefix=runner.prefix, description=runner.description,
                     extra_env={**runner.extra_env, "TMPDIR": tmp})
        started = time.perf_counter()
        result = scoped.run(argv, timeout=timeout)
        seconds = time.perf_counter() - started
        if result.returncode != 0 or not paths["graph.xml"].exists():
            raise simulate_error(result.returncode, result.stderr)
        graph = parse_graph(paths["graph.xml"].read_bytes())
        dot = paths["graph.dot"].read_text() if paths["graph.dot"].exists() else ""
        output = None
        if keep_output and paths["out.xml"].exists():
            output = etree.parse(str(paths["out.xml"])).getroot()
    return Simulation(graph=graph, dot=dot, seconds=seconds, output=output)


def _repeat(option: str, values: Iterable[str]) -> list[str]:
    return [arg for value in values for arg in (option, value)]


def simulate_error(code: int, stderr: str) -> Exception:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    feature = next((ln for ln in lines if "feature set" in ln), None)
    if feature:
        return error("SIMULATE_VERSION", "the CIB was written by a newer Pacemaker than this "
                     f"node's crm_simulate: {feature.split(': ', 1)[-1]}", ExitCode.ERROR)
    detail = "; ".join(lines[-3:]) or f"exit {code}"
    return error("SIMULATE_FAILED", f"crm_simulate could not schedule this CIB: {detail}",
                 ExitCode.ERROR)


def node_names(cib: etree._Element) -> list[str]:
    """The configured nodes' names (uname), in configuration order."""
    return [n.get("uname", n.get("id", "")) for n in cib.iterfind("configuration/nodes/node")]


def starts_respect(graph: TransitionGraph, dependencies: dict[str, Sequence[str]]) -> list[str]:
    """Violations of ``step -> steps it runs after`` in the graph's starts (empty: all kept).

    A dependency is kept when every start of the dependency is an ancestor of
    the step's start: the scheduler will not start the step before it.
    """
    starts: dict[str, list[Action]] = {}
    for action in graph.actions.values():
        if action.task == "start" and action.resource:
            starts.setdefault(action.resource.split(":", 1)[0], []).append(action)
    problems = []
    for step, before in dependencies.items():
        for start in starts.get(step, []):
            waits_for = graph.ancestors(start.id)
            for dep in before:
                for dep_start in starts.get(dep, []):
                    if dep_start.id not in waits_for:
                        problems.append(f"{step} may start before {dep}")
    return problems
