"""A lab leaves nothing behind: after down, after a crash of the lab, after a crash of up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from haflow.lab import control, netns, power
from haflow.lab.layout import LabLayout
from tests.labtools import require_cluster_tools, unique_lab_name

pytestmark = pytest.mark.tier1


def traces(layout: LabLayout, inodes: list[int]) -> list[str]:
    """Everything of the lab still visible on the host: namespaces, processes, mounts, files."""
    found = [f"netns {n}" for n in sorted(netns.list_netns() & set(layout.all_netns()))]
    found += [f"pid {p}" for inode in inodes for p in power.pids_in_netns(inode)]
    with open("/proc/self/mountinfo") as fh:
        found += [f"mount {line.split()[4]}" for line in fh if str(layout.dir) in line]
    if layout.dir.exists():
        found.append(f"dir {layout.dir}")
    return found


def node_inodes(layout: LabLayout) -> list[int]:
    inodes = [power.netns_inode(layout, n) for n in control.nodes_of(layout)]
    return [i for i in inodes if i is not None]


@pytest.fixture
def fresh_layout(tmp_path: Path) -> LabLayout:
    require_cluster_tools()
    return control.layout_for(unique_lab_name("lc"), tmp_path)


def test_down_removes_every_daemon_namespace_link_and_mount(fresh_layout: LabLayout) -> None:
    control.up(fresh_layout, 2)
    inodes = node_inodes(fresh_layout)
    assert all(power.pids_in_netns(i) for i in inodes)
    result = control.down(fresh_layout)
    assert result["processes_killed"] > 0 and result["namespaces_removed"] == 3
    assert traces(fresh_layout, inodes) == []


def test_down_returns_once_the_killed_daemons_are_gone_not_zombies(
        fresh_layout: LabLayout) -> None:
    """A killed process stays in the process table until it is reaped (about a second
    was seen): down waits for that, so a lab gone is gone from ``ps`` too."""
    control.up(fresh_layout, 1)
    inodes = node_inodes(fresh_layout)
    started = {p: power.start_time(p) for i in inodes for p in power.pids_in_netns(i)}
    assert len(started) > 5
    result = control.down(fresh_layout)
    left = [p for p, t in started.items() if t is not None and power.start_time(p) == t]
    assert left == [] and result["not_reaped"] == 0


def test_down_after_every_node_crashed(fresh_layout: LabLayout) -> None:
    control.up(fresh_layout, 1)
    inodes = node_inodes(fresh_layout)
    control.crash(fresh_layout, "node1")
    control.down(fresh_layout)
    assert traces(fresh_layout, inodes) == []


def test_down_after_up_was_killed_half_way(fresh_layout: LabLayout) -> None:
    env = dict(os.environ, HAFLOW_LAB_ROOT=str(fresh_layout.root))
    up = subprocess.Popen(
        [sys.executable, "-m", "haflow.coordinator.cli", "lab", "up", "--lab",
         fresh_layout.name, "--nodes", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    # kill it once a node is booting: namespaces, mounts and daemons exist by then
    deadline = time.monotonic() + 30
    while not (fresh_layout.node_dir("node1") / "init.pid").exists():
        assert time.monotonic() < deadline and up.poll() is None, "lab up never got that far"
        time.sleep(0.05)
    up.send_signal(signal.SIGKILL)
    up.wait()
    inodes = node_inodes(fresh_layout)
    assert control.exists(fresh_layout)
    control.down(fresh_layout)
    assert traces(fresh_layout, inodes) == []


def test_pcs_cluster_kill_in_one_lab_leaves_another_alone(lab1: LabLayout,
                                                          fresh_layout: LabLayout) -> None:
    """pcs kills the cluster daemons with killall (cluster kill, destroy): a lab node's
    killall only sees its own node, though the nodes share the host's process ids."""

    def daemons(layout: LabLayout) -> set[tuple[int, str]]:
        inode = power.netns_inode(layout, "node1")
        assert inode is not None
        return {(pid, comm) for pid, comm in power.commands_in_netns(inode).items()
                if comm in ("corosync", "pacemakerd") or comm.startswith("pacemaker-")}

    before = daemons(lab1)
    assert {"corosync", "pacemakerd"} <= {comm for _, comm in before}
    control.up(fresh_layout, 1)
    try:
        killed = control.run_on(fresh_layout, "node1", ["pcs", "cluster", "kill"])
        assert killed.returncode == 0, killed.stderr
        time.sleep(1)
        assert not {c for _, c in daemons(fresh_layout)} & {"corosync", "pacemakerd"}
        assert daemons(lab1) == before, "another lab's daemons were killed"
        view = control.cluster_view(lab1, "node1")
        assert view is not None and view.online == ["node1"]
    finally:
        control.down(fresh_layout)


def test_power_switch_boots_one_init_however_many_press_it(fresh_layout: LabLayout) -> None:
    """The host's reboot and a node's own fence agent may power a node on at once: one
    init boots (two fought over the daemons' sockets in the one network namespace)."""
    from concurrent.futures import ThreadPoolExecutor

    control.up(fresh_layout, 1)
    try:
        power.power_off(fresh_layout, "node1")
        with ThreadPoolExecutor(4) as pool:
            pids = set(pool.map(lambda _: power.power_on(fresh_layout, "node1"), range(4)))
        assert len(pids) == 1 and pids == {power.init_pid(fresh_layout, "node1")}
        assert power.power_on(fresh_layout, "node1") in pids  # on stays on
        control.wait_until(fresh_layout, "node1", lambda v: v.online == ["node1"], 90)
        inode = power.netns_inode(fresh_layout, "node1")
        assert inode is not None
        corosyncs = [p for p, comm in power.commands_in_netns(inode).items()
                     if comm == "corosync"]
        assert len(corosyncs) == 1, corosyncs
    finally:
        control.down(fresh_layout)


def test_a_sigterm_still_runs_the_finally_that_takes_a_lab_down(tmp_path: Path) -> None:
    """Benches and the demo end on SIGTERM as on an exception (control.end_on_sigterm):
    their ``finally: teardown`` runs; Python's default would leave the lab behind."""
    marker = tmp_path / "cleaned"
    code = ("import sys, time\nfrom haflow.lab import control\ncontrol.end_on_sigterm()\n"
            "try:\n    print('ready', flush=True)\n    time.sleep(60)\n"
            f"finally:\n    open({str(marker)!r}, 'w').write('down')\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 128 + signal.SIGTERM
    assert marker.read_text() == "down"
