"""Pacemaker's own scheduler, offline: run ``crm_simulate`` on a CIB and read its plan.

haflow does not predict what Pacemaker will do; it asks the scheduler. A CIB
(a shadow copy of the live one, or a file) is written to a temporary directory,
``crm_simulate`` computes the transition graph, and the graph is parsed into
actions with their dependencies, from which waves (topological levels) and an
order follow. Nothing here prints and nothing touches a cluster.
"""

from __future__ import annotations

import dataclasses
import resource
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from haflow.coordinator.cluster.env import Env
from haflow.coordinator.codes import Code
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
    resource: str | None = None  # as configured (a clone's primitive: W.root)
    node: str | None = None
    interval_ms: int = 0
    inputs: tuple[int, ...] = ()  # ids of the actions this one waits for
    instance: str | None = None  # a clone instance's long id (W.root:0), else = resource

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
            raise error(Code.GRAPH_CYCLE, "the transition graph has a cycle; the scheduler "
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
    cpu_seconds: float = 0.0  # its user + system CPU time: steadier on a busy machine
    output: etree._Element | None = None  # the resulting CIB, with simulate=True
    # with simulate=True: (resource, task, node, interval_ms) of every action run; a
    # failure (op_fail) aborts the transition, so this can be less than the graph
    executed: set[tuple[str, str, str, int]] | None = None

    def ran(self, action: Action) -> bool:
        """Whether the simulated transition ran ``action`` (True without that record)."""
        if self.executed is None or action.kind == "pseudo_event":
            return True
        if action.task == "stonith":
            return ("", "stonith", action.node or "", 0) in self.executed
        # crm_simulate names a clone instance by its long id for some actions and by the
        # primitive's id for others (stops): accept either
        return any((name, action.task, action.node or "", action.interval_ms) in self.executed
                   for name in {action.instance or "", action.resource or ""})


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
    resource = instance = None
    if primitive is not None:
        # long-id is the clone instance (W.x:0); id is what the configuration names
        resource = primitive.get("id")
        instance = primitive.get("long-id", resource)
    return Action(id=int(element.get("id", "-1")), key=element.get("operation_key", ""),
                  task=element.get("operation", ""), kind=str(element.tag), resource=resource,
                  node=element.get("on_node"), interval_ms=int(interval), inputs=inputs,
                  instance=instance)


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
        argv = ["crm_simulate", "--simulate" if simulate else "--run",
                "--xml-file", str(paths["in.xml"]), "--save-graph", str(paths["graph.xml"]),
                "--save-dotfile", str(paths["graph.dot"])]
        # the XML report lists what the simulated transition ran; --run prints no such list
        report = folder / "report.xml"
        argv += ["--output-as=xml", f"--output-to={report}"] if simulate else ["--quiet"]
        if keep_output:
            argv += ["--save-output", str(paths["out.xml"])]
        argv += _repeat("--node-up", node_up) + _repeat("--node-down", node_down)
        argv += _repeat("--node-fail", node_fail) + _repeat("--op-inject", op_inject)
        argv += _repeat("--op-fail", op_fail)
        # crm_simulate keeps its working shadow copy under TMPDIR: keep it in ours
        scoped = dataclasses.replace(runner, extra_env={**runner.extra_env, "TMPDIR": tmp})
        cpu_before = _children_cpu()
        started = time.perf_counter()
        result = scoped.run(argv, timeout=timeout)
        seconds = time.perf_counter() - started
        cpu = _children_cpu() - cpu_before
        if result.returncode != 0 or not paths["graph.xml"].exists():
            raise simulate_error(result.returncode, result.stderr)
        graph = parse_graph(paths["graph.xml"].read_bytes())
        dot = paths["graph.dot"].read_text() if paths["graph.dot"].exists() else ""
        output = None
        if keep_output and paths["out.xml"].exists():
            output = etree.parse(str(paths["out.xml"])).getroot()
        executed = parse_executed(report.read_bytes()) if simulate and report.exists() else None
    return Simulation(graph=graph, dot=dot, seconds=seconds, output=output, executed=executed,
                      cpu_seconds=cpu)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def parse_executed(xml: bytes) -> set[tuple[str, str, str, int]]:
    """The actions crm_simulate's XML report says the simulated transition ran."""
    root = etree.fromstring(xml)
    done: set[tuple[str, str, str, int]] = set()
    for element in root.iterfind("transition/*"):
        if element.tag == "rsc_action":
            done.add((element.get("resource", ""), element.get("op", ""),
                      element.get("node", ""), int(element.get("interval", "0"))))
        elif element.tag == "fencing_action":
            done.add(("", "stonith", element.get("target", ""), 0))
    return done


def _repeat(option: str, values: Iterable[str]) -> list[str]:
    return [arg for value in values for arg in (option, value)]


def simulate_error(code: int, stderr: str) -> Exception:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    feature = next((ln for ln in lines if "feature set" in ln), None)
    if feature:
        return error(Code.SIMULATE_VERSION, "the CIB was written by a newer Pacemaker than this "
                     f"node's crm_simulate: {feature.split(': ', 1)[-1]}")
    detail = "; ".join(lines[-3:]) or f"exit {code}"
    return error(Code.SIMULATE_FAILED, f"crm_simulate could not schedule this CIB: {detail}")


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


def skeleton(node_count: int, *, online: bool = True, stonith: bool = False,
             env: Env | None = None) -> etree._Element:
    """A CIB with ``node_count`` nodes (``node1``...) and no resources, for offline runs.

    Starts from ``cibadmin --empty`` so the feature set and schema are this
    Pacemaker's own (crm_simulate refuses a newer feature set). ``online``
    writes node states as a running cluster has them: every node a member, no
    resource probed yet.
    """
    result = (env or Env()).run(["cibadmin", "--empty"])
    if result.returncode != 0:
        raise error(Code.SIMULATE_FAILED, f"cibadmin --empty failed: {result.stderr.strip()}")
    cib = etree.fromstring(result.stdout.encode())
    cib.set("have-quorum", "1")
    cib.set("dc-uuid", "1")
    crm_config, nodes, status = (cib.find(path) for path in (
        "configuration/crm_config", "configuration/nodes", "status"))
    assert crm_config is not None and nodes is not None and status is not None
    props = etree.SubElement(crm_config, "cluster_property_set", id="cib-bootstrap-options")
    etree.SubElement(props, "nvpair", id="cib-bootstrap-options-stonith-enabled",
                     name="stonith-enabled", value="true" if stonith else "false")
    for number in range(1, node_count + 1):
        etree.SubElement(nodes, "node", id=str(number), uname=f"node{number}")
        if online:
            state = etree.SubElement(status, "node_state", id=str(number),
                                     uname=f"node{number}", in_ccm="true", crmd="online",
                                     join="member", expected="member")
            lrm = etree.SubElement(state, "lrm", id=str(number))
            etree.SubElement(lrm, "lrm_resources")
    return cib
