"""The 3-node lab behaves like a real cluster: fencing, failover, quorum, reboot.

Every test leaves the shared lab healthy (all nodes online) for the next one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from haflow.lab import control, netns, node_init, power
from haflow.lab.layout import LabLayout, node_address
from tests.labtools import last_fenced, restore, wait_fenced, wait_healthy, wait_idle

pytestmark = pytest.mark.tier2


def run(layout: LabLayout, node: str, *argv: str, timeout: float = 60) -> str:
    result = control.run_on(layout, node, list(argv), timeout=timeout)
    assert result.returncode == 0, f"{argv} on {node}: {result.stderr}{result.stdout}"
    return result.stdout



def eventually(predicate: Callable[[], bool], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


@pytest.fixture
def healthy(lab3: LabLayout) -> Iterator[LabLayout]:
    wait_healthy(lab3)
    yield lab3
    restore(lab3)


def test_three_nodes_come_up_online_with_a_dc_and_fencing(healthy: LabLayout) -> None:
    view = control.cluster_view(healthy, "node1")
    assert view is not None
    assert sorted(view.online) == ["node1", "node2", "node3"]
    assert view.dc in view.online and view.quorate
    assert view.roles["lab-fence"] == "Started"
    for node in ("node1", "node2", "node3"):
        assert run(healthy, node, "uname", "-n").strip() == node
        assert node_address(node) in run(healthy, node, "ip", "-o", "-4", "addr", "show", "eth0")
        # each node has a private CIB directory and a private, volatile /run
        assert "tmpfs" in run(healthy, node, "stat", "-f", "-c", "%T", "/run")
    stat_cmd = ("stat", "-c", "%i", "/var/lib/pacemaker/cib")
    inodes = {run(healthy, n, *stat_cmd) for n in ("node1", "node2", "node3")}
    assert len(inodes) == 3


def test_cluster_was_formed_with_pcs_without_touching_the_host(healthy: LabLayout) -> None:
    # pcs host auth left its tokens, pcs cluster setup its corosync.conf, on every node
    for node in ("node1", "node2", "node3"):
        assert "node3" in run(healthy, node, "cat", "/var/lib/pcsd/known-hosts")
        assert "cluster_name: " + healthy.name in run(healthy, node, "cat",
                                                        "/etc/corosync/corosync.conf")
    assert "node1" in run(healthy, "node1", "pcs", "status", "nodes")
    # hacluster's lab password lives in the nodes' private /etc/shadow only
    def hacluster_hash(text: str) -> str:
        return next(line for line in text.splitlines() if line.startswith("hacluster:"))
    lab_hash = hacluster_hash(run(healthy, "node2", "cat", "/etc/shadow"))
    assert lab_hash != hacluster_hash(Path("/etc/shadow").read_text())


def test_nodes_have_the_labs_own_etc_whatever_the_host_does_to_its_own(
        healthy: LabLayout) -> None:
    # a bind of one file is detached when the host replaces that file (useradd rewrites
    # /etc/shadow by rename): the whole /etc is the lab's copy instead
    for node in ("node1", "node2"):
        mounts = run(healthy, node, "cat", "/proc/self/mountinfo").splitlines()
        assert any(line.split()[3:5] == [str(healthy.etc_dir), "/etc"] for line in mounts)
        inode = run(healthy, node, "stat", "-c", "%i", "/etc/shadow").strip()
        assert inode == str(healthy.shadow_file.stat().st_ino)
        assert "node3" in run(healthy, node, "getent", "hosts", "node3")


def test_nodes_run_the_agents_of_the_checkout_that_started_the_lab(
        healthy: LabLayout) -> None:
    # another checkout's lab may have installed its own agents on the host meanwhile
    import haflow.agents

    ours = str(Path(haflow.agents.__file__).resolve().parent)
    for node in ("node1", "node3"):
        link = run(healthy, node, "readlink", "/usr/lib/ocf/lib/haflow/haflow/agents").strip()
        assert link == ours
        launcher = run(healthy, node, "cat", str(control.FENCE_AGENT_PATH))
        assert "/usr/lib/ocf/lib/haflow/fence_haflow_lab" in launcher
        agent = run(healthy, node, "cat", "/usr/lib/ocf/lib/haflow/fence_haflow_lab")
        assert f'HAFLOW_PYTHON = "{sys.executable}"' in agent


def test_stonith_admin_reboot_really_fences_the_node(healthy: LabLayout) -> None:
    before = power.init_pid(healthy, "node3")
    fenced_before = last_fenced(healthy, "node1", "node3")
    run(healthy, "node3", "touch", "/run/haflow-volatile-marker")
    run(healthy, "node1", "stonith_admin", "--reboot", "node3", "--timeout", "60")
    after = power.init_pid(healthy, "node3")
    assert after is not None and after != before, "node3 was not power-cycled"
    wait_healthy(healthy)
    gone = control.run_on(healthy, "node3", ["test", "-e", "/run/haflow-volatile-marker"])
    assert gone.returncode == 1, "a fenced node kept its volatile /run"
    assert eventually(lambda: last_fenced(healthy, "node1", "node3") > fenced_before)


def locate(layout: LabLayout, observer: str, rsc: str) -> list[str]:
    view = control.cluster_view(layout, observer)
    return [] if view is None else view.resources.get(rsc, [])


def test_resource_on_crashed_node_starts_on_survivor_after_fencing(healthy: LabLayout) -> None:
    rsc = "lab-test-dummy"
    run(healthy, "node1", "pcs", "resource", "create", rsc, "ocf:pacemaker:Dummy",
        "op", "monitor", "interval=2s")
    try:
        control.wait_until(healthy, "node1", lambda v: len(v.resources.get(rsc, [])) == 1, 30)
        (victim,) = locate(healthy, "node1", rsc)
        observer = next(n for n in ("node1", "node2", "node3") if n != victim)
        fenced_before = last_fenced(healthy, observer, victim)
        control.crash(healthy, victim)
        view = control.wait_until(
            healthy, observer,
            lambda v: bool(v.resources.get(rsc)) and victim not in v.resources[rsc], 60)
        assert view.resources[rsc][0] != victim
        # recovery waited for the crashed node to be fenced
        assert eventually(lambda: last_fenced(healthy, observer, victim) > fenced_before)
        wait_healthy(healthy)
    finally:
        run(healthy, "node1", "pcs", "resource", "delete", rsc, "--force")


def test_partitioned_node_loses_quorum_and_is_fenced_by_the_majority(
    healthy: LabLayout,
) -> None:
    before = power.init_pid(healthy, "node3")
    fenced_before = last_fenced(healthy, "node1", "node3")
    control.partition(healthy, ["node3"])
    deadline = time.monotonic() + 60
    while power.init_pid(healthy, "node3") in (before, None) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert power.init_pid(healthy, "node3") != before, "the majority did not fence node3"
    assert eventually(lambda: last_fenced(healthy, "node1", "node3") > fenced_before)
    # rebooted but still cut off: alone, node3 has no quorum and runs nothing
    view = control.wait_until(healthy, "node3", lambda v: v.dc is not None, 60)
    assert not view.quorate
    majority = control.cluster_view(healthy, "node1")
    assert majority is not None and majority.quorate and "node3" not in majority.online
    control.heal(healthy)
    wait_healthy(healthy)


def test_rebooted_node_rejoins_with_fresh_volatile_state(healthy: LabLayout) -> None:
    run(healthy, "node2", "touch", "/run/haflow-volatile-marker", "/dev/shm/haflow-marker")
    result = control.reboot(healthy, "node2")
    assert result["processes_killed"] > 0 and result["rejoined_after"] < 60
    view = control.cluster_view(healthy, "node1")
    assert view is not None and "node2" in view.online
    for path in ("/run/haflow-volatile-marker", "/dev/shm/haflow-marker"):
        assert control.run_on(healthy, "node2", ["test", "-e", path]).returncode == 1


def daemon_pids(layout: LabLayout, node: str, name: str) -> list[int]:
    inode = power.netns_inode(layout, node)
    assert inode is not None
    return [p for p, comm in power.commands_in_netns(inode).items() if comm == name]


def test_the_nodes_daemons_keep_their_temporary_files_in_the_node(
        healthy: LabLayout) -> None:
    # the host's /tmp is not the node's: nothing clears it when the node dies
    for daemon in ("corosync", "pacemaker-execd", "pcsd"):
        # pcsd-ruby writes its process title over its environment: its Python twin tells
        environs = [Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                    for pid in daemon_pids(healthy, "node2", daemon)]
        assert any(f"TMPDIR={node_init.NODE_TMP}".encode() in e for e in environs), daemon
    left = f"{node_init.NODE_TMP}/left-by-a-killed-agent"
    run(healthy, "node2", "touch", left)
    control.reboot(healthy, "node2")
    assert control.run_on(healthy, "node2", ["test", "-e", left]).returncode == 1
    assert control.run_on(healthy, "node2", ["test", "-k", node_init.NODE_TMP]).returncode == 0


def test_pacemaker_restart_without_reboot_keeps_corosync(healthy: LabLayout) -> None:
    init_before = power.init_pid(healthy, "node2")
    corosync_before = daemon_pids(healthy, "node2", "corosync")
    pacemakerd_before = daemon_pids(healthy, "node2", "pacemakerd")
    result = control.restart_pacemaker(healthy, "node2")
    assert result["seconds"] < 120
    assert power.init_pid(healthy, "node2") == init_before, "the node was rebooted"
    assert daemon_pids(healthy, "node2", "corosync") == corosync_before
    assert daemon_pids(healthy, "node2", "pacemakerd") not in ([], pacemakerd_before)
    view = control.cluster_view(healthy, "node1")
    assert view is not None and "node2" in view.online


def test_a_restart_asked_while_the_node_boots_runs_once_it_has_booted(
    healthy: LabLayout,
) -> None:
    # the init once died of a SIGHUP that came before it had booted, and left its
    # daemons running with no init: the node looked off, and the next power-on
    # started a second corosync into the same network namespace.
    # The node boots through its own fencing: an init booted by hand right after the
    # crash races the fence's reboot, which ends it. From a settled DC only: one still
    # holding a transition that expects node2's shutdown takes the crash for it.
    wait_idle(healthy)
    before = last_fenced(healthy, "node1", "node2")
    control.crash(healthy, "node2")
    assert eventually(lambda: power.init_pid(healthy, "node2") is not None, 90), \
        "the fencing did not boot node2"
    init = power.init_pid(healthy, "node2")  # booting: FENCE_REBOOT_POST_DELAY in firmware
    control.restart_pacemaker(healthy, "node2")  # its default covers a stop that waits 80 s
    assert power.init_pid(healthy, "node2") == init, "the signal killed the booting init"
    wait_fenced(healthy, "node1", "node2", before)  # the boot was the fence's, not a second one
    boot_log = healthy.node_dir("node2") / "boot.log"
    assert eventually(lambda: f"[{init}] stopped" in boot_log.read_text(), 90)
    wait_healthy(healthy)
    assert power.init_pid(healthy, "node2") == init


def test_a_flapping_link_heals_into_one_cluster(healthy: LabLayout) -> None:
    result = control.flap(healthy, "node3", down=0.5, up=1.0, count=2)
    assert result["flaps"] == 2
    assert netns.island_of(healthy, "node3") == "br0"
    wait_healthy(healthy)
