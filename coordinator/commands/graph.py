"""A workflow's graph for the web view: every step a node, every ``after`` an edge, laid out
by Graphviz's ``dot`` (Debian's ``graphviz``) on the server.

The layout depends only on the graph's shape (steps, edges, groups), never on state, so
it is computed once per shape and kept: live updates change colours, not positions. The
page draws the boxes itself from the positions (each box carries ``data-step`` and
``data-state``); dot gives the positions, the edges' curves and the groups' boxes.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from haflow.coordinator.codes import Code
from haflow.coordinator.reports import error

if TYPE_CHECKING:
    from lxml import etree

# a step's box, in points (= CSS pixels): the page lays its text out to fit
STEP_WIDTH, STEP_HEIGHT = 216, 86
# above this many steps dot bounds its crossing minimisation and draws straight edges:
# a 500-step graph with long edges took 9 s with the defaults, 2 s with these
LARGE_GRAPH = 120
LAYOUT_TIMEOUT = 60.0
CACHE_SIZE = 64


@dataclass(frozen=True)
class GraphStep:
    name: str
    agent: str
    group: str | None = None  # a fan-out's or sub-workflow's name: its steps drawn together
    gate: bool = False  # waits for an approval


@dataclass
class Graph:
    workflow: str
    steps: list[GraphStep]
    edges: list[tuple[str, str]]  # (step, the step that runs after it)
    groups: dict[str, str] = field(default_factory=dict)  # group -> what it is ("fan-out"...)


def workflow_graph(cib: etree._Element, workflow: str) -> Graph:
    """The steps of ``workflow`` in ``cib`` and its ``after`` edges (from its orders); the
    steps a fan-out or a sub-workflow made grouped by the file step they came from (the
    compiler's ``haflow-unit``), the steps an approval gate holds marked, and the steps
    a false ``when`` skipped (never resources: no edges)."""
    from haflow.coordinator.commands.workflow_cib import require_workflow
    from haflow.coordinator.status.config import Config, agent
    from haflow.encoding.ids import split_step_id
    from haflow.encoding.meta import SKIPPED_META, UNIT_META
    from haflow.encoding.read import configured_meta
    from haflow.encoding.tickets import gates

    require_workflow(cib, workflow)
    config = Config(cib)
    gated = {rid for held in gates(cib, workflow).values() for rid in held}
    names: dict[str, str] = {}
    steps: list[GraphStep] = []
    for prim in config.steps(workflow):
        rid = prim.get("id", "")
        split = split_step_id(rid)
        name = split[1] if split else rid
        names[rid] = name
        unit = configured_meta(prim).get(UNIT_META) or None
        steps.append(GraphStep(name, agent(prim), unit, rid in gated))
    root = config.root(workflow)
    skipped = configured_meta(root).get(SKIPPED_META, "") if root is not None else ""
    steps += [GraphStep(name, "") for name in skipped.split()]
    edges = sorted({(names[first], names[then])
                    for then, firsts in config.dependencies(workflow).items() if then in names
                    for first in firsts if first in names})
    return Graph(workflow, steps, edges, {group: _kind(group, members)
                                          for group, members in _grouped_steps(steps).items()})


def _kind(group: str, members: list[str]) -> str:
    """A fan-out's instances are ``UNIT-INDEX``; a sub-workflow's steps ``UNIT-STEP``."""
    prefix = f"{group}-"
    indexed = all(m.startswith(prefix) and m[len(prefix):].isdigit() for m in members)
    return "fan-out" if indexed else "sub-workflow"


def to_dot(graph: Graph) -> str:
    """The layout's input: boxes of a fixed size, the groups as clusters."""
    ids = {step.name: f"n{i}" for i, step in enumerate(graph.steps)}
    large = len(graph.steps) > LARGE_GRAPH
    out = ["digraph g {", "  rankdir=TB; nodesep=0.3; ranksep=0.45;",
           "  splines=line; mclimit=0.2; nslimit=2; nslimit1=2;" if large else "",
           f"  node [shape=box, fixedsize=true, label=\"\", width={STEP_WIDTH / 72:.3f}, "
           f"height={STEP_HEIGHT / 72:.3f}];"]
    out.extend(f"  {ids[step.name]};" for step in graph.steps if step.group is None)
    for index, (group, members) in enumerate(_grouped(graph).items()):
        # the label only reserves room: the page writes the group's name itself
        out.append(f'  subgraph cluster_{index} {{ label="{_escape(group)}"; '
                   f'{"; ".join(ids[m] for m in members)}; }}')
    out.extend(f"  {ids[a]} -> {ids[b]};" for a, b in graph.edges)
    out.append("}")
    return "\n".join(line for line in out if line) + "\n"


_cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
_cache_lock = threading.Lock()


def layout(graph: Graph) -> dict[str, Any]:
    """Positions in CSS pixels, origin top left: ``{"width", "height", "steps": {name:
    {x, y, w, h}}, "edges": [{"from", "to", "d"}], "groups": [{name, x, y, w, h}]}``,
    from ``dot`` once per shape of graph."""
    dot_text = to_dot(graph)
    key = hashlib.sha256(dot_text.encode()).hexdigest()
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    laid = _parse(graph, _run_dot(dot_text))
    with _cache_lock:
        _cache[key] = laid
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return laid


def _run_dot(dot_text: str) -> dict[str, Any]:
    try:
        done = subprocess.run(["dot", "-Tjson0"], input=dot_text, capture_output=True,
                              text=True, timeout=LAYOUT_TIMEOUT, check=False)
    except FileNotFoundError as exc:
        raise error(Code.GRAPHVIZ_MISSING, "dot (Debian's graphviz) is not installed: the "
                    "web view lays graphs out with it") from exc
    except subprocess.TimeoutExpired as exc:
        raise error(Code.GRAPHVIZ_FAILED,
                    f"dot took over {LAYOUT_TIMEOUT:.0f} s to lay the graph out") from exc
    if done.returncode != 0:
        raise error(Code.GRAPHVIZ_FAILED, f"dot failed: {done.stderr.strip()}")
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def _parse(graph: Graph, laid: dict[str, Any]) -> dict[str, Any]:
    height = float(laid["bb"].split(",")[3])
    names = {f"n{i}": step for i, step in enumerate(graph.steps)}
    clusters = {f"cluster_{i}": group for i, group in enumerate(_grouped(graph))}
    by_gvid: dict[int, str] = {}
    steps: dict[str, dict[str, Any]] = {}
    groups: list[dict[str, Any]] = []
    for obj in laid.get("objects", ()):
        if "nodes" in obj or obj.get("name", "").startswith("cluster_"):
            x1, y1, x2, y2 = (float(v) for v in obj["bb"].split(","))
            group = clusters[obj["name"]]
            groups.append({"name": group, "kind": graph.groups.get(group), "x": x1,
                           "y": height - y2, "w": x2 - x1, "h": y2 - y1})
            continue
        step = names.get(obj.get("name", ""))
        if step is None:
            continue
        by_gvid[obj["_gvid"]] = step.name
        x, y = (float(v) for v in obj["pos"].split(","))
        steps[step.name] = {"x": round(x - STEP_WIDTH / 2, 1),
                            "y": round(height - y - STEP_HEIGHT / 2, 1),
                            "w": STEP_WIDTH, "h": STEP_HEIGHT, "group": step.group,
                            "gate": step.gate}
    edges = [{"from": by_gvid[e["tail"]], "to": by_gvid[e["head"]],
              "d": _path(e.get("pos", ""), height)}
             for e in laid.get("edges", ()) if e["tail"] in by_gvid and e["head"] in by_gvid]
    return {"width": float(laid["bb"].split(",")[2]), "height": height, "steps": steps,
            "edges": edges, "groups": groups}


def _path(pos: str, height: float) -> str:
    """An SVG path from dot's edge ``pos``: ``e,X,Y`` (the arrow's tip) then a B-spline
    of 1 + 3n points."""
    end = None
    points: list[tuple[float, float]] = []
    for part in pos.split():
        if part.startswith("e,"):
            _, x, y = part.split(",")
            end = (float(x), height - float(y))
        elif not part.startswith("s,"):
            x, y = part.split(",")
            points.append((float(x), height - float(y)))
    if not points:
        return ""

    def fmt(p: tuple[float, float]) -> str:
        return f"{p[0]:.1f},{p[1]:.1f}"

    d = [f"M{fmt(points[0])}"]
    for i in range(1, len(points) - 2, 3):
        d.append(f"C{fmt(points[i])} {fmt(points[i + 1])} {fmt(points[i + 2])}")
    if len(points) == 2 or (len(points) - 1) % 3:  # straight segments (splines=line)
        d = [f"M{fmt(points[0])}", *(f"L{fmt(p)}" for p in points[1:])]
    if end is not None:
        d.append(f"L{fmt(end)}")
    return " ".join(d)


def _grouped(graph: Graph) -> dict[str, list[str]]:
    return _grouped_steps(graph.steps)


def _grouped_steps(steps: list[GraphStep]) -> dict[str, list[str]]:
    """group -> its steps, in the order of the steps."""
    grouped: dict[str, list[str]] = {}
    for step in steps:
        if step.group is not None:
            grouped.setdefault(step.group, []).append(step.name)
    return grouped


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
