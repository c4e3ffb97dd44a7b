"""A network partition seen through the bindings, on the shared lab (see plab)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from haflow.coordinator.cluster import quorum as quorum_guard
from haflow.coordinator.cluster.env import for_lab
from haflow.coordinator.exitcodes import ExitCode
from haflow.coordinator.reports import HaflowError
from haflow.lab import control, power
from haflow.lab.layout import LabLayout
from tests.corosync.probe import event, probe_argv, start
from tests.labtools import wait_healthy

pytestmark = pytest.mark.tier2


@pytest.fixture
def plab(lab3: LabLayout) -> Iterator[LabLayout]:
    """The shared lab with fencing off for the test, then on again and healthy.

    Not a lab of its own: starting a lab runs ``pcs cluster setup``, whose
    ``cluster destroy`` runs ``killall -9 corosync ...`` in a node, and the
    nodes share the host's PID namespace: it would kill every running lab's
    corosync, this session's lab3 included. What is under test is Corosync's
    view; fencing the minority mid-test (this lab fences within seconds) would
    only race with the assertions.
    """
    wait_healthy(lab3)
    stonith(lab3, "false")
    try:
        yield lab3
    finally:
        control.heal(lab3)
        for node in control.nodes_of(lab3):
            if not power.is_on(lab3, node):
                power.power_on(lab3, node)
        wait_healthy(lab3, timeout=180)
        stonith(lab3, "true")


def stonith(layout: LabLayout, enabled: str) -> None:
    result = control.run_on(layout, "node1", ["pcs", "property", "set",
                                              f"stonith-enabled={enabled}"])
    assert result.returncode == 0, result.stderr


def watch_argv(layout: LabLayout, node: str) -> list[str]:
    return [sys.executable, "-m", "haflow.coordinator.cli", "watch", "--lab", layout.name,
            "--lab-root", str(layout.root), "--node", node, "--timeout", "180",
            "--interval", "0.5", "--output-as", "json"]


def test_partition_changes_quorum_and_fires_callbacks_on_both_sides(plab: LabLayout) -> None:
    wait_healthy(plab)
    group = f"haflow-part-{time.monotonic_ns()}"
    watchers = {n: start(watch_argv(plab, n)) for n in ("node1", "node3")}
    probes = {n: start(probe_argv(plab, n, "partition-events", "--group", group,
                                  "--timeout", "170")) for n in ("node1", "node3")}
    children = [*watchers.values(), *probes.values()]
    try:
        for lines in watchers.values():  # tracking has started: the initial state is in
            lines.wait_for(lambda ln: event(ln, type="quorum", quorate=True), 60)
        for lines in probes.values():
            lines.wait_for(lambda ln: ln.strip() == "ready", 60)

        control.partition(plab, ["node3"])

        # majority side: node3 left, still quorate with node1+node2
        watchers["node1"].wait_for(lambda ln: event(ln, type="membership", left=[3]), 60)
        watchers["node1"].wait_for(
            lambda ln: event(ln, type="quorum", quorate=True, members=[1, 2]), 30)
        # minority side: quorum lost, alone
        watchers["node3"].wait_for(
            lambda ln: event(ln, type="quorum", quorate=False, members=[3]), 60)

        # the guard refuses on the minority, naming its members, and passes on the majority
        with pytest.raises(HaflowError) as info:
            quorum_guard.require_quorum(for_lab(plab.name, "node3", str(plab.root)))
        assert info.value.exit_code == ExitCode.NO_QUORUM
        report = info.value.reports[0]
        assert report.code == "NO_QUORUM"
        assert report.details["members"] == ["node3"]
        assert "members: node3;" in report.message
        state = quorum_guard.require_quorum(for_lab(plab.name, "node1", str(plab.root)))
        assert sorted(m["name"] for m in state["members"]) == ["node1", "node2"]

        # haflow cluster on the minority shows it
        out = subprocess.run(
            [sys.executable, "-m", "haflow.coordinator.cli", "cluster", "--lab", plab.name,
             "--lab-root", str(plab.root), "--node", "node3", "--output-as", "json"],
            capture_output=True, text=True, timeout=60)  # fmt: skip
        view = json.loads(out.stdout)
        assert view["quorum"]["quorate"] is False
        assert [m["nodeid"] for m in view["members"] if m["member"]] == [3]
        assert {m["nodeid"]: m["links"][0]["connected"] for m in view["members"]
                if not m["local"]} == {1: False, 2: False}

        # votequorum and cpg callbacks, on both sides
        seen = {n: [json.loads(x) for x in p.stop().splitlines() if x.startswith("[")]
                for n, p in probes.items()}
        node1, node3 = seen["node1"][0], seen["node3"][0]
        assert {"type": "nodelist", "members": [1, 2]} in node1
        assert any(e["type"] == "quorum" and e["quorate"] and e["nodes"].get("3") != "member"
                   for e in node1)
        assert {"type": "nodelist", "members": [3]} in node3
        assert any(e["type"] == "quorum" and not e["quorate"] for e in node3)
        assert any(e["type"] == "cpg" and [3, "nodedown"] in e["left"] for e in node1)
        assert any(e["type"] == "cpg" and [1, "nodedown"] in e["left"] for e in node3)
    finally:
        control.heal(plab)
        for lines in children:
            if lines.proc.poll() is None:
                lines.stop()
    # healed: node3 rejoins, and the callbacks say so
    wait_healthy(plab, timeout=180)
