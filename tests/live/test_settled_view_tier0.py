"""The view status reads from a settled CIB's status section is crm_mon's own: on every
recorded CIB and on variations of them, status.view_from_cib answers exactly what
parse_mon makes of crm_mon on that CIB, or None (then status runs crm_mon)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Callable
from copy import deepcopy
from functools import cmp_to_key
from pathlib import Path

import pytest
from lxml import etree

from haflow.coordinator import status
from haflow.coordinator.cluster import live_view
from haflow.coordinator.status.settled import node_name_order, view_from_cib

pytestmark = pytest.mark.tier0
DATA = Path(__file__).with_name("data")
RECORDINGS = sorted(p.name.removesuffix(".cib.xml") for p in DATA.glob("*.cib.xml"))
BENCH = Path(__file__).resolve().parents[2] / "bench" / "status.py"
# recordings of a settled cluster: status must not need crm_mon for them
SETTLED = ("done", "rolled-back", "rejoined")


def crm_mon(cib: etree._Element, tmp_path: Path) -> status.Mon:
    path = tmp_path / "cib.xml"
    path.write_bytes(etree.tostring(cib))
    done = subprocess.run(live_view.MON, capture_output=True, check=True,
                          env=dict(os.environ, CIB_file=str(path)))
    return status.parse_mon(etree.fromstring(done.stdout))


def recorded(name: str) -> etree._Element:
    return etree.parse(str(DATA / f"{name}.cib.xml")).getroot()


def running_cib(steps: int, nodes: int) -> etree._Element:
    spec = importlib.util.spec_from_file_location("bench_status", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cib: etree._Element = module.running_cib("bench", steps, nodes)
    return cib


def assert_as_crm_mon(cib: etree._Element, tmp_path: Path, settled: bool) -> None:
    view = view_from_cib(cib)
    assert (view is not None) == settled
    if view is not None:
        assert view == crm_mon(cib, tmp_path)


@pytest.mark.parametrize("name", RECORDINGS)
def test_each_recording_reads_as_crm_mon_shows_it(name: str, tmp_path: Path) -> None:
    """Starting (a start in flight), held (a failed start), not-synced (no node joined)
    take crm_mon; the settled ones give its very answer."""
    assert_as_crm_mon(recorded(name), tmp_path, name in SETTLED)


def test_a_running_workflow_on_three_nodes_reads_as_crm_mon_shows_it(tmp_path: Path) -> None:
    assert_as_crm_mon(running_cib(23, 3), tmp_path, settled=True)


def renamed(cib: etree._Element, names: dict[str, str]) -> etree._Element:
    out = deepcopy(cib)
    for element in out.iter("node", "node_state"):
        element.set("uname", names.get(element.get("uname", ""), element.get("uname", "")))
    for op in out.iter("lrm_rsc_op"):
        op.set("on_node", names.get(op.get("on_node", ""), op.get("on_node", "")))
    return out


def test_nodes_come_in_pacemakers_order(tmp_path: Path) -> None:
    """crm_mon sorts nodes digits by value, letters without case: the online list (a
    step's retry_on) keeps that order."""
    cib = renamed(running_cib(6, 3), {"node1": "node10", "node2": "Node9", "node3": "a-1"})
    assert_as_crm_mon(cib, tmp_path, settled=True)
    names = ["node10", "Node9", "node010", "a-1", "a1", "b"]
    assert sorted(names, key=cmp_to_key(node_name_order)) == \
        ["a-1", "a1", "b", "Node9", "node10", "node010"]


def edited(change: Callable[[etree._Element], None]) -> etree._Element:
    cib = running_cib(4, 2)
    change(cib)
    return cib


def first(cib: etree._Element, path: str) -> etree._Element:
    found = cib.find(path)
    assert found is not None, path
    return found


def stop_first_step(cib: etree._Element) -> None:
    """The first step stopped after its monitor: a later stop, as an abort records it."""
    start = first(cib, "status/node_state/lrm/lrm_resources/lrm_resource/lrm_rsc_op")
    start.set("operation", "stop")
    start.set("call-id", "999")


def probe_found_stopped(cib: etree._Element) -> None:
    rsc = first(cib, "status/node_state/lrm/lrm_resources/lrm_resource")
    for op in list(rsc):
        rsc.remove(op)
    etree.SubElement(rsc, "lrm_rsc_op", id=f"{rsc.get('id')}_last_0", operation="monitor",
                     interval="0", **{"call-id": "5", "rc-code": "7", "op-status": "0"})


def set_attr(path: str, name: str, value: str) -> Callable[[etree._Element], None]:
    def change(cib: etree._Element) -> None:
        first(cib, path).set(name, value)
    return change


def nvpair(path: str, name: str, value: str) -> Callable[[etree._Element], None]:
    def change(cib: etree._Element) -> None:
        parent = cib.find(path)
        if parent is None:  # rsc_defaults: made where the schema has it
            parent = etree.SubElement(first(cib, "configuration"), path.rpartition("/")[2])
        attrs = etree.SubElement(parent, "instance_attributes", id=f"x-{name}")
        if parent.tag == "crm_config":
            attrs.tag = "cluster_property_set"
        if parent.tag in ("rsc_defaults", "primitive"):
            attrs.tag = "meta_attributes"
        etree.SubElement(attrs, "nvpair", id=f"x-{name}-nv", name=name, value=value)
    return change


def transient(name: str, value: str) -> Callable[[etree._Element], None]:
    def change(cib: etree._Element) -> None:
        state = first(cib, "status/node_state")
        attrs = etree.SubElement(etree.SubElement(state, "transient_attributes", id="1"),
                                 "instance_attributes", id="status-1")
        etree.SubElement(attrs, "nvpair", id=f"status-1-{name}", name=name, value=value)
    return change


OP = "status/node_state/lrm/lrm_resources/lrm_resource/lrm_rsc_op"
MONITOR = "status/node_state/lrm/lrm_resources/lrm_resource/lrm_rsc_op[2]"


@pytest.mark.parametrize(("change", "settled"), [
    pytest.param(stop_first_step, True, id="stopped"),
    pytest.param(probe_found_stopped, True, id="probed-stopped"),
    pytest.param(set_attr(OP, "op-status", "-1"), False, id="start-in-flight"),
    pytest.param(set_attr(OP, "rc-code", "1"), False, id="start-failed"),
    pytest.param(set_attr(MONITOR, "rc-code", "7"), False, id="monitor-found-stopped"),
    pytest.param(set_attr(OP, "operation", "migrate_to"), False, id="migrating"),
    pytest.param(set_attr("status/node_state", "join", "pending"), False, id="node-joining"),
    pytest.param(set_attr("status/node_state", "expected", "down"), False, id="node-leaving"),
    pytest.param(nvpair("configuration/crm_config", "maintenance-mode", "true"), False,
                 id="maintenance-mode"),
    pytest.param(nvpair("configuration/rsc_defaults", "is-managed", "false"), False,
                 id="unmanaged-by-default"),
    pytest.param(nvpair("configuration/resources/primitive", "is-managed", "false"), False,
                 id="unmanaged"),
    pytest.param(nvpair("configuration/nodes/node", "standby", "on"), False, id="standby"),
    pytest.param(transient("fail-count-bench.s0#start_0", "1"), False, id="fail-count"),
    pytest.param(transient("shutdown", "1800000000"), False, id="shutting-down"),
])
def test_a_change_reads_as_crm_mon_shows_it_or_asks_crm_mon(
        change: Callable[[etree._Element], None], settled: bool, tmp_path: Path) -> None:
    assert_as_crm_mon(edited(change), tmp_path, settled)
