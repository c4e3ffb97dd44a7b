"""The Corosync bindings against real corosync in the shared 3-node lab.

Nothing here breaks the lab: partitions live in test_partition.py, on a lab of
their own. Corosync's IPC is per node namespace, so the bindings run inside
a node (node_probe.py) and the tests compare with Corosync's own tools there.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from haflow.coordinator.cluster import quorum as quorum_guard
from haflow.coordinator.cluster.env import for_lab
from haflow.lab import control
from haflow.lab.layout import LabLayout
from tests.corosync.probe import (
    CMAPCTL_TYPES,
    cmapctl,
    event,
    probe,
    probe_argv,
    quorumtool,
    start,
    tool,
)
from tests.labtools import wait_healthy

pytestmark = pytest.mark.tier2


@pytest.fixture
def lab(lab3: LabLayout) -> Iterator[LabLayout]:
    wait_healthy(lab3)
    yield lab3


@pytest.mark.parametrize("node", ["node1", "node3"])
def test_quorum_and_membership_equal_corosync_quorumtool(lab: LabLayout, node: str) -> None:
    ours = probe(lab, node, "quorum")
    theirs = quorumtool(lab, node)
    assert ours["quorate"] is ours["libquorum_quorate"] is theirs["quorate"] is True
    assert ours["expected_votes"] == theirs["expected"] == 3
    assert ours["total_votes"] == theirs["total"] == 3
    assert ours["quorum"] == theirs["quorum"] == 2
    assert ours["local_nodeid"] == ours["cfg_local_nodeid"] == theirs["node_id"]
    assert ours["ring_id"] == theirs["ring_id"]
    assert {m["nodeid"]: m["name"] for m in ours["members"]} == {
        nodeid: m["name"] for nodeid, m in theirs["members"].items()}
    assert sorted(ours["libquorum_members"]) == sorted(theirs["members"])
    assert {int(k): v for k, v in ours["votes"].items()} == {
        nodeid: m["votes"] for nodeid, m in theirs["members"].items()}


def test_every_cmap_key_and_type_equals_corosync_cmapctl(lab: LabLayout) -> None:
    before = cmapctl(lab, "node2")
    ours = {key: (kind, value) for key, kind, value in probe(lab, "node2", "cmap-dump")}
    after = cmapctl(lab, "node2")
    stable = {k: v for k, v in before.items() if after.get(k) == v}
    assert len(stable) > 50
    for key in ("nodelist.node.0.name", "totem.token", "runtime.config.totem.token",
                "runtime.members.1.status", "runtime.votequorum.this_node_id"):
        assert key in stable, key
    for key, (kind, printed) in stable.items():
        assert key in ours, key
        our_kind, value = ours[key]
        assert our_kind == kind, key
        if kind in ("float", "double"):
            assert value == pytest.approx(float(printed), abs=1e-5), key
        elif kind != "binary":
            assert str(value) == printed, key


def test_the_stats_map_has_the_keys_corosync_cmapctl_m_stats_lists(lab: LabLayout) -> None:
    ours = {key: kind for key, kind, _value in probe(lab, "node1", "stats")}
    out = tool(lab, "node1", "corosync-cmapctl", "-m", "stats", "stats.knet.")
    theirs = {m[1]: CMAPCTL_TYPES[m[2]] for m in re.finditer(r"^(\S+) \((\w+)\) =", out, re.M)}
    assert theirs and {k: v for k, v in ours.items() if k.startswith("stats.knet.")} == theirs


def test_token_timings_and_links_equal_the_tools(lab: LabLayout) -> None:
    view = json.loads(subprocess.run(
        [sys.executable, "-m", "haflow.coordinator.cli", "cluster", "--lab", lab.name,
         "--lab-root", str(lab.root), "--node", "node1", "--output-as", "json"],
        capture_output=True, text=True, check=True).stdout)  # fmt: skip
    token = tool(lab, "node1", "corosync-cmapctl", "-g", "runtime.config.totem.token")
    assert view["totem"]["token"] == int(token.split("=")[1])
    assert view["totem"]["configured_token"] == 1000
    assert view["quorum"]["quorate"] is True
    # the DC is Pacemaker's: the same node crm_mon names
    assert view["dc"] == control.cluster_view(lab, "node1").dc  # type: ignore[union-attr]
    cfgtool = tool(lab, "node1", "corosync-cfgtool", "-s")
    for member in view["members"]:
        assert member["member"] and member["votes"] == 1
        if member["local"]:
            assert f"Local node ID {member['nodeid']}" in cfgtool
        else:
            assert member["links"][0]["connected"] is True
            assert re.search(rf"nodeid:\s+{member['nodeid']}:\s+connected", cfgtool)


def test_cmap_tracking_sees_another_process_add_modify_delete(lab: LabLayout) -> None:
    events = probe(lab, "node1", "cmap-track", "--prefix", "haflow.test")
    assert events == [["add", "haflow.test.probe", "one", None],
                      ["modify", "haflow.test.probe", "two", "one"],
                      ["delete", "haflow.test.probe", None, "two"]]


def test_tracking_is_idempotent_and_current_works_while_tracking(lab: LabLayout) -> None:
    out = probe(lab, "node3", "tracking")
    assert out["quorate"] is True
    assert sorted(out["members"]) == sorted(out["vq_members"]) == [1, 2, 3]
    assert out["token"] > 0
    assert out["seen"] == ["m", "q", "vq"]


def test_errors_name_cs_err_codes_and_callback_errors_surface(lab: LabLayout) -> None:
    out = probe(lab, "node2", "errors")
    assert out["missing_key"] == ["CS_ERR_NOT_EXIST", "CS_ERR_NOT_EXIST"]
    assert out["missing_default"] == "dflt"
    assert out["callback_error"] == "from a callback"
    assert out["closed"] == ["CS_ERR_BAD_HANDLE", "CS_ERR_BAD_HANDLE"]


def test_cpg_messages_from_three_nodes_arrive_in_the_same_order_everywhere(
        lab: LabLayout) -> None:
    group = f"haflow-order-{time.monotonic_ns()}"
    nodes = control.nodes_of(lab)
    procs = {node: subprocess.Popen(
        probe_argv(lab, node, "cpg", "--group", group, "--count", "100",
                   *(["--leave"] if node == "node3" else [])),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for node in nodes}
    results = {}
    try:
        for node, proc in procs.items():
            out, err = proc.communicate(timeout=90)
            assert proc.returncode == 0, f"{node}: {err}"
            results[node] = json.loads(out)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()  # our own child, by its handle
                proc.wait()
    orders = [results[node]["messages"] for node in nodes]
    assert len(orders[0]) == 300
    assert orders[0] == orders[1] == orders[2]
    for nodeid in (1, 2, 3):  # each sender's messages in the order it sent them
        assert [m[2] for m in orders[0] if m[0] == nodeid] == [f"{nodeid}:{i}" for i in range(100)]
    # membership callbacks: joins with reason "join", node3's process leaving with "leave"
    # (who sees whose join depends on who joined first: each sees its own, all see the last)
    joins = [j for r in results.values() for c in r["confchg"] for j in c["joined"]]
    for node, r in results.items():
        assert [r["nodeid"], r["pid"], "join"] == r["confchg"][0]["joined"][0], node
    assert {(j[0], j[1]) for j in joins} == {(r["nodeid"], r["pid"]) for r in results.values()}
    assert {j[2] for j in joins} == {"join"}
    node3 = results["node3"]
    for node in ("node1", "node2"):
        lefts = [x for c in results[node]["confchg"] for x in c["left"]]
        assert lefts[0] == [3, node3["pid"], "leave"]
        # the others close without leaving: whoever stays longer sees "procdown"
        assert all(x[2] == "procdown" for x in lefts[1:])


def test_no_handle_leaks_across_10000_open_close_cycles(lab: LabLayout) -> None:
    result = probe(lab, "node2", "leak", "--cycles", "10000", timeout=600)
    first, while_open, *samples = result["samples"]
    assert while_open["fds"] > first["fds"] and while_open["shm"] > first["shm"]
    assert len(samples) == 10
    assert all(s == first for s in samples), samples  # fds and our /dev/shm files stable


def test_require_quorum_passes_on_a_quorate_partition(lab: LabLayout) -> None:
    env = for_lab(lab.name, "node2", str(lab.root))
    state = quorum_guard.require_quorum(env)
    assert state["quorate"] is True
    assert sorted(m["name"] for m in state["members"]) == ["node1", "node2", "node3"]


def test_watch_streams_initial_membership_and_quorum(lab: LabLayout) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "haflow.coordinator.cli", "watch", "--lab", lab.name,
         "--lab-root", str(lab.root), "--count", "2", "--timeout", "30", "--output-as", "json"],
        capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(e["type"] for e in events) == ["membership", "quorum"]
    assert all(sorted(e["members"]) == [1, 2, 3] for e in events)


def test_watch_streams_step_and_resource_changes(lab: LabLayout) -> None:
    tag = time.monotonic_ns() % 100000
    step_rid, plain_rid = f"cswatch{tag}.probe", f"cswatch{tag}"
    watcher = start([sys.executable, "-m", "haflow.coordinator.cli", "watch", "--lab", lab.name,
                     "--lab-root", str(lab.root), "--timeout", "120", "--interval", "0.5",
                     "--output-as", "json"])  # fmt: skip
    try:
        watcher.wait_for(lambda ln: event(ln, type="quorum", quorate=True), 60)
        for rid in (step_rid, plain_rid):
            tool(lab, "node1", "pcs", "resource", "create", rid, "ocf:pacemaker:Dummy")
        started = json.loads(watcher.wait_for(
            lambda ln: event(ln, type="step", id=step_rid, role="Started"), 60))
        assert started["workflow"] == f"cswatch{tag}" and started["step"] == "probe"
        assert len(started["nodes"]) == 1
        watcher.wait_for(lambda ln: event(ln, type="resource", id=plain_rid, role="Started"), 60)
        tool(lab, "node1", "pcs", "resource", "delete", step_rid, "--force")
        watcher.wait_for(lambda ln: event(ln, type="step", id=step_rid, role=None), 60)
    finally:
        for rid in (step_rid, plain_rid):
            control.run_on(lab, "node1", ["pcs", "resource", "delete", rid, "--force"])
        watcher.stop()


def test_concurrent_queries_on_every_node(lab: LabLayout) -> None:
    """Two bindings processes per node at once all get the same, quorate answer."""
    with ThreadPoolExecutor(3) as pool:
        views = list(pool.map(lambda n: probe(lab, n, "quorum"), control.nodes_of(lab) * 2))
    assert all(v["quorate"] for v in views)
    assert len({v["ring_id"] for v in views}) == 1
