"""The status package's parts on their own: each index answers as the plain search it
replaced, the outputs stay those recorded, the package stays off the agents' code.

data/status/ holds the JSON and XML that ``haflow status`` printed for each
recording in data/ (made by the code before status became a package, with
"now" just after the recording); after recording data/ again, write them anew
with HAFLOW_STATUS_GOLDEN=write and read the diff.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from lxml import etree

from haflow.coordinator import status
from haflow.coordinator.status import StepState
from haflow.coordinator.status.config import Config
from haflow.coordinator.status.node_state import NodeStates
from haflow.coordinator.workflow.compiler import compile_workflow, merge_into
from haflow.coordinator.workflow.loader import loads
from haflow.encoding import read

pytestmark = pytest.mark.tier0
DATA = Path(__file__).with_name("data")
RECORDINGS = sorted(p.name.removesuffix(".cib.xml") for p in DATA.glob("*.cib.xml"))
BENCH = Path(__file__).resolve().parents[2] / "bench" / "status.py"


def recorded(name: str) -> tuple[etree._Element, etree._Element]:
    return (etree.parse(str(DATA / f"{name}.cib.xml")).getroot(),
            etree.parse(str(DATA / f"{name}.mon.xml")).getroot())


def just_after(cib: etree._Element) -> float:
    return max((float(op.get("last-rc-change", "0")) for op in cib.iter("lrm_rsc_op")),
               default=0) + 1


@pytest.mark.parametrize("name", RECORDINGS)
def test_json_and_xml_stay_as_recorded(name: str) -> None:
    cib, mon = recorded(name)
    found = status.all_status(cib, mon, now=just_after(cib))
    outputs = {"json": json.dumps([w.to_dict() for w in found], indent=2, sort_keys=True,
                                  default=str) + "\n",
               "xml": etree.tostring(status.to_xml(found), pretty_print=True,
                                     encoding="unicode")}
    for kind, text in outputs.items():
        golden = DATA / "status" / f"{name}.{kind}"
        if os.environ.get("HAFLOW_STATUS_GOLDEN") == "write":
            golden.write_text(text)
        assert text == golden.read_text(), f"{name}: the {kind} output changed"


def test_to_dict_is_asdict_with_the_state_value_and_problem() -> None:
    cib, mon = recorded("held")
    for step in status.workflow_status(cib, mon, "t1hold", now=just_after(cib)).steps:
        expected = dataclasses.asdict(step)
        expected["state"] = step.state.value
        expected["problem"] = step.problem
        got = step.to_dict()
        assert got == expected and list(got) == list(expected)
        assert got["waiting_on"] is not step.waiting_on  # a copy, as asdict's
    failure = status.Failure("start", "node1", 1, "error", "why", None)
    assert failure.to_dict() == dataclasses.asdict(failure)


def by_rounds(steps: list[status.StepStatus], deps: dict[str, set[str]],
              by_id: dict[str, status.StepStatus]) -> list[status.StepStatus]:
    """The order as status computed it before (every step left checked each round)."""
    done: set[str] = set()
    out: list[status.StepStatus] = []
    remaining = list(steps)
    while remaining:
        ready = [s for s in remaining
                 if all(d in done or d not in by_id for d in deps.get(s.resource, ()))]
        if not ready:
            ready = remaining[:1]
        for step in ready:
            done.add(step.resource)
            out.append(step)
        remaining = [s for s in remaining if s.resource not in done]
    return out


def test_dependency_order_is_the_round_by_round_one_also_with_cycles() -> None:
    rng = random.Random(20)
    for _ in range(300):
        count = rng.randint(0, 30)
        steps = [status.StepStatus(f"s{i}", f"w.s{i}", "ocf:x:y", StepState.WAITING,
                                   "rollback") for i in range(count)]
        rng.shuffle(steps)
        deps: dict[str, set[str]] = {}
        for step in steps:
            # mostly acyclic (on lower numbers), sometimes any step, itself or the root
            names = [f"w.s{rng.randrange(count)}" for _ in range(rng.randint(0, 3))]
            if rng.random() < 0.9:
                names = [n for n in names if int(n[3:]) < int(step.name[1:])]
            if rng.random() < 0.3:
                names.append("w.root")
            deps[step.resource] = set(names)
        by_id = {s.resource: s for s in steps}
        assert [s.name for s in status.ordered(steps, deps, by_id)] == \
            [s.name for s in by_rounds(steps, deps, by_id)]


def test_placement_lookup_answers_as_the_encodings_banned() -> None:
    wf = loads("name: pin\nsteps:\n  a: {agent: test, nodes: [node1, node2]}\n"
               "  b: {agent: test, avoid: [node2]}\n  c: {agent: test, after: [a]}\n",
               "pin.yaml")
    cib = etree.fromstring(b"<cib><configuration><resources/><constraints/><tags/>"
                           b"</configuration><status/></cib>")
    cibs = [merge_into(cib, compile_workflow(wf)), *(recorded(n)[0] for n in RECORDINGS)]
    for cib in cibs:
        config = Config(cib)
        rids = [p.get("id", "") for p in cib.iter("primitive")]
        for rid in rids:
            for node in ("node1", "node2", "node3"):
                assert config.banned(rid, node) == read.banned(cib, rid, node), (rid, node)
    assert Config(cibs[0]).banned("pin.a", "node3") and Config(cibs[0]).banned("pin.b", "node2")


def test_fail_counts_sum_per_node_and_the_last_failure_is_the_newest() -> None:
    cib = etree.fromstring(
        b'<cib><configuration><resources/></configuration><status>'
        b'<node_state uname="n1"><transient_attributes><instance_attributes>'
        b'<nvpair name="fail-count-w.a#start_0" value="2"/>'
        b'<nvpair name="fail-count-w.a#monitor_30000" value="1"/>'
        b'<nvpair name="fail-count-w.ab#start_0" value="7"/>'
        b'<nvpair name="fail-count-w.b#start_0" value="0"/>'
        b'</instance_attributes></transient_attributes>'
        b'<lrm><lrm_resources><lrm_resource id="w.a">'
        b'<lrm_rsc_op id="w.a_last_failure_0" operation="start" rc-code="1" '
        b'last-rc-change="100"/></lrm_resource></lrm_resources></lrm></node_state>'
        b'<node_state uname="n2"><transient_attributes><instance_attributes>'
        b'<nvpair name="fail-count-w.a#start_0" value="INFINITY"/>'
        b'<nvpair name="fail-count-w.a#stop_0" value="1"/>'
        b'</instance_attributes></transient_attributes>'
        b'<lrm><lrm_resources><lrm_resource id="w.a">'
        b'<lrm_rsc_op id="w.a_last_failure_0" operation="monitor" interval="30000" '
        b'rc-code="7" last-rc-change="200"/>'
        b'<lrm_rsc_op id="w.a_last_0" operation="start" rc-code="0" exec-time="1500" '
        b'last-rc-change="150"/></lrm_resource></lrm_resources></lrm></node_state>'
        b'</status></cib>')
    nodes = NodeStates(cib)
    assert nodes.fail_counts("w.a") == {"n1": 3, "n2": status.INFINITY}
    assert nodes.fail_counts("w.b") == {} and nodes.fail_counts("w.ab") == {"n1": 7}
    failure = nodes.last_failure("w.a")
    assert failure is not None and (failure.node, failure.label()) == ("n2", "monitor (30s)")
    assert nodes.start_time("w.a", None) == (150.0, 1.5)
    assert nodes.start_time("w.a", "n1") is None and nodes.last_failure("w.b") is None


def test_the_status_package_imports_no_agent_workflow_or_cluster_code() -> None:
    code = ("import sys, haflow.coordinator.status; print([m for m in sys.modules if "
            "m.startswith(('haflow.agents', 'haflow.coordinator.workflow', "
            "'haflow.coordinator.cluster', 'haflow.coordinator.commands'))])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_status", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchs_running_workflow_is_done_in_crm_mons_eyes(tmp_path: Path) -> None:
    """bench/status.py's generated CIB: every step started and monitored, as Pacemaker
    records it, so the bench times a status of a done workflow (no timing here)."""
    cib = bench().running_cib("bench23", 23, 2)
    path = tmp_path / "cib.xml"
    path.write_bytes(etree.tostring(cib))
    from haflow.coordinator.cluster import live_view

    done = subprocess.run(live_view.MON, capture_output=True, check=True,
                          env=dict(os.environ, CIB_file=str(path)))
    wf = status.workflow_status(cib, etree.fromstring(done.stdout), "bench23", now=0)
    assert wf.state == status.WorkflowState.DONE and len(wf.steps) == 23
    assert {s.node for s in wf.steps} == {"node1", "node2"}
    assert all(s.started and s.duration == 0.012 for s in wf.steps)
