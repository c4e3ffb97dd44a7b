"""Lab operations: up, down, status, exec, and the faults (crash, reboot, partition).

Functions return data for the CLI to render and raise ``HaflowError`` with a
report on bad input; they never print.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from haflow.cib_templates import render
from haflow.coordinator.cluster.crm_mon import ClusterView, parse_crm_mon
from haflow.coordinator.codes import Code
from haflow.lab import errors, netns, node_init, power
from haflow.lab.layout import (
    MAX_NODES,
    NAME_RE,
    NETNS_DIR,
    NODE_BINDS,
    LabLayout,
    default_root,
    node_address,
    node_names,
)

PROVISION_SCRIPT = Path(__file__).with_name("provision-node.sh")
BOOTSTRAP_SCRIPT = Path(__file__).with_name("bootstrap-cluster.sh")
FENCE_AGENT_SOURCE = Path(__file__).with_name("fence_haflow_lab.py")
HOST_OCF_ROOT = Path("/usr/lib/ocf")  # as haflow.agents.install's default
FENCE_LAUNCHER = """#!/bin/sh
# written by haflow's lab, the same for every lab and checkout: inside a lab node the
# agent below is the lab's own copy (its OCF lib dir is bound over the host's)
exec {agent} "$@"
"""
FENCE_AGENT_PATH = Path("/usr/sbin/fence_haflow_lab")
NODE_KILLALL = Path(__file__).with_name("node_killall.py")
FENCE_DEVICE = "lab-fence"
REQUIRED_TOOLS = ("corosync", "pacemakerd", "crm_mon", "cibadmin", "ip", "nsenter", "unshare",
                  "setsid", "stonith_admin", "pcs", "pcsd", "openssl")
DC_DEADTIME = "2s"
DEFAULT_LOAD_THRESHOLD = 80  # Pacemaker's load-threshold, % of a node's cores


def layout_for(name: str, root: Path | None = None) -> LabLayout:
    if not NAME_RE.match(name):
        raise errors.bad_name(name)
    # resolved: teardown matches the lab dir against /proc/self/mountinfo, which has no symlinks
    return LabLayout(name=name, root=(root or default_root()).resolve())


def exists(layout: LabLayout) -> str | None:
    """Why the lab counts as existing (its directory or a namespace), or None."""
    if layout.dir.exists():
        return str(layout.dir)
    present = netns.list_netns() & set(layout.all_netns())
    return f"namespace {sorted(present)[0]}" if present else None


def nodes_of(layout: LabLayout) -> list[str]:
    if not layout.state_file.exists():
        raise errors.lab_not_found(layout.name)
    return power.nodes_of(layout)


def check_node(layout: LabLayout, node: str) -> None:
    nodes = nodes_of(layout)
    if node not in nodes:
        raise errors.unknown_node(layout.name, node, nodes)


# -- up ---------------------------------------------------------------------


FENCE_LAUNCHER = """#!/bin/sh
# written by haflow's lab, the same for every lab and checkout: inside a lab node the
# agent below is the lab's own copy (its OCF lib dir is bound over the host's)
exec {agent} "$@"
"""


def install_agents(root: Path) -> None:
    """haflow's OCF agents and fence_haflow_lab under ``root``'s lib dir, and the fence
    agent's launcher where pacemaker-fenced looks for it. The launcher never changes: a
    file bound into a node's mount namespace is detached when the host's copy is replaced
    (by another lab's install), so only directories are bound."""
    from haflow.agents import install

    # the launchers import from the node's path of the lib dir: the controller runs
    # meta-data as hacluster, who cannot enter a lab under pytest's 0700 temporary tree
    # (every meta-data failed, and a monitor asked for at the same moment was lost)
    install.install(str(root), seen_as=str(HOST_OCF_ROOT))
    text = FENCE_AGENT_SOURCE.read_text().replace("@HAFLOW_PYTHON@", sys.executable)
    install.atomic_write(install.lib_dir(root) / FENCE_AGENT_PATH.name, text, 0o755)
    host_agent = install.lib_dir(HOST_OCF_ROOT) / FENCE_AGENT_PATH.name
    install.atomic_write(FENCE_AGENT_PATH, FENCE_LAUNCHER.format(agent=host_agent), 0o755)


def agent_binds(layout: LabLayout) -> list[tuple[str, str]]:
    """The lab's own agents over the host's paths inside every node: labs started from
    different checkouts at once (parallel test runs) each run their own code."""
    from haflow.agents import install

    return [(str(place(layout.ocf_root)), str(place(HOST_OCF_ROOT)))
            for place in (install.agent_dir, install.lib_dir)]


def write_shadow(layout: LabLayout, password: str) -> None:
    """The nodes' /etc/shadow, where only hacluster's password differs from the host's:
    pcsd authenticates against it and the host's stays untouched."""
    hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password,
                            capture_output=True, text=True, check=True).stdout.strip()
    lines = []
    for line in Path("/etc/shadow").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == "hacluster":
            fields[1] = hashed
        lines.append(":".join(fields))
    layout.shadow_file.write_text("\n".join(lines) + "\n")


def load_threshold(cores: int, nodes: int) -> str:
    """The lab's ``load-threshold``: what the host's cores bear per node. Each node's
    controller reads the host's load average, which all ``nodes`` make together, and
    throttles once it passes the threshold times the cores it counts (Pacemaker's
    throttle.c: a single core counts 0.6). A node's own share is 1/``nodes`` of it: the
    default 80% then applies to that share on the host's cores."""
    counted = cores if cores > 1 else 0.6
    return f"{round(DEFAULT_LOAD_THRESHOLD * nodes * cores / counted)}%"


def write_lab_files(layout: LabLayout, nodes: list[str]) -> None:
    # cp -a: owners and modes as on the host (root:shadow 0640 for the shadow file)
    subprocess.run(["cp", "-a", "/etc", str(layout.etc_dir)], check=True)
    password = secrets.token_urlsafe(24)
    layout.password_file.touch(mode=0o600)
    layout.password_file.write_text(password)
    write_shadow(layout, password)
    hosts = ["127.0.0.1 localhost", "::1 localhost"]
    hosts += [f"{node_address(n)} {n}" for n in nodes]
    layout.hosts_file.write_text("\n".join(hosts) + "\n")
    layout.seed_cib.write_text(render(
        "lab-bootstrap.xml",
        cluster_name=layout.name,
        dc_deadtime=DC_DEADTIME,
        lab_dir=str(layout.dir),
        fence_hosts=" ".join(nodes),
        load_threshold=load_threshold(os.cpu_count() or 1, len(nodes)),
    ))
    # a copy, executable whatever the installed package kept of its mode
    killall = layout.dir / "killall"
    shutil.copyfile(NODE_KILLALL, killall)
    killall.chmod(0o755)
    for node in nodes:
        node_dir = layout.node_dir(node)
        binds = [(str(layout.etc_dir), "/etc")]  # first: the binds below land in it
        for sub, target in NODE_BINDS:
            (node_dir / "fs" / sub).mkdir(parents=True, exist_ok=True)
            binds.append((str(node_dir / "fs" / sub), target))
        # pcs cluster setup runs killall -9 on the cluster daemons: only this node's
        binds.append((str(killall), "/usr/bin/killall"))
        binds += agent_binds(layout)
        config = {
            "name": node,
            "lab": layout.name,
            "binds": binds,
            "env": {
                "PCMK_logfacility": "none",
                "PCMK_logfile": "/var/log/pacemaker/pacemaker.log",
            },
            "provision": ["sh", str(PROVISION_SCRIPT)],
        }
        (node_dir / "node.json").write_text(json.dumps(config, indent=2) + "\n")


def wait_for_pcsd(layout: LabLayout, nodes: Sequence[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for node in nodes:
        while not (layout.node_dir(node) / "pcsd.ready").exists():
            if not power.is_on(layout, node):
                raise errors.operation_failed("booting the lab", boot_failure(layout, node))
            if time.monotonic() > deadline:
                raise errors.not_ready(layout.name, timeout, f"pcsd on {node} is not listening")
            time.sleep(0.1)


def run_checked(layout: LabLayout, node: str, argv: Sequence[str], what: str) -> None:
    result = run_on(layout, node, argv, timeout=120)
    if result.returncode != 0:
        raise errors.operation_failed(what, (result.stderr or result.stdout).strip())


def form_cluster(layout: LabLayout, nodes: list[str], token_ms: int) -> None:
    """pcs host auth + pcs cluster setup on node1, seed the CIB, start every node's stack."""
    node_list = " ".join(f"{n}={node_address(n)}" for n in nodes)
    run_checked(layout, nodes[0], [
        "sh", str(BOOTSTRAP_SCRIPT), "--cluster", layout.name, "--nodes", node_list,
        "--password-file", str(layout.password_file), "--token", str(token_ms),
    ], "pcs cluster setup")  # fmt: skip
    for node in nodes:
        # after setup: pcs cluster setup wipes any CIB it finds
        run_checked(layout, node, ["sh", str(PROVISION_SCRIPT), "--cib", str(layout.seed_cib)],
                    f"seeding the CIB of {node}")
    for node in nodes:
        pid = power.init_pid(layout, node)
        if pid is None:
            raise errors.operation_failed("booting the lab", boot_failure(layout, node))
        os.kill(pid, signal.SIGUSR1)


def create_network(layout: LabLayout, nodes: list[str]) -> None:
    netns.create_bridge(layout)
    (layout.dir / "netns").mkdir(exist_ok=True)
    for node in nodes:
        netns.create_node_link(layout, node)
        # bind the netns into the lab dir, so a fence agent inside another node
        # (whose /run is private) can still enter it to boot this node
        bind = layout.netns_file(node)
        bind.touch()
        subprocess.run(["mount", "--bind", str(NETNS_DIR / layout.netns(node)), str(bind)],
                       check=True)


def up(layout: LabLayout, node_count: int = 3, token_ms: int = 1000,
       timeout: float = 120.0, keep_on_failure: bool = False) -> dict[str, Any]:
    """Create and boot a lab; returns once every node is online, a DC elected, fencing up.

    On failure everything is removed again, unless ``keep_on_failure`` (for a post-mortem).
    """
    if not 1 <= node_count <= MAX_NODES:
        raise errors.bad_node_count(node_count)
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:
        raise errors.missing_tools(missing)
    where = exists(layout)
    if where:
        raise errors.lab_exists(layout.name, where)
    started = time.monotonic()
    nodes = node_names(node_count)
    layout.dir.mkdir(parents=True)
    layout.state_file.write_text(json.dumps({
        "name": layout.name, "nodes": nodes, "token_ms": token_ms,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }, indent=2) + "\n")  # fmt: skip
    try:
        # the host's copies are the bind targets (and what a host-side tool finds)
        for root in (HOST_OCF_ROOT, layout.ocf_root):
            install_agents(root)
        write_lab_files(layout, nodes)
        create_network(layout, nodes)
        for node in nodes:
            power.power_on(layout, node)
        wait_for_pcsd(layout, nodes, timeout)
        form_cluster(layout, nodes, token_ms)
        wait_for_membership(layout, nodes[0], nodes, timeout)
        view = wait_until(layout, nodes[0], lambda v: ready(v, nodes), timeout,
                          watch=nodes)
    except BaseException:
        if not keep_on_failure:
            teardown(layout)
        raise
    return {
        "lab": layout.name,
        "dir": str(layout.dir),
        "nodes": nodes,
        "dc": view.dc,
        "seconds": round(time.monotonic() - started, 2),
    }


def ready(view: ClusterView, nodes: Sequence[str]) -> bool:
    return (
        view.dc is not None
        and set(nodes) <= set(view.online)
        and view.roles.get(FENCE_DEVICE) == "Started"
    )


def wait_for_membership(layout: LabLayout, node: str, nodes: Sequence[str],
                        timeout: float) -> None:
    """Wait until Corosync on ``node`` has all ``nodes`` as members, with quorum.

    Asked through haflow's Corosync bindings run inside the node (Corosync's IPC
    is per namespace); crm_mon then only has to show the DC and the fence
    device. Without the bindings (installed without the -dev packages) crm_mon
    alone decides, as before.
    """
    from haflow.coordinator.cluster.corosync_remote import collect
    from haflow.coordinator.cluster.env import Env
    from haflow.coordinator.reports import HaflowError

    env = Env(prefix=tuple(node_command(layout, node, [])),
              description=f"{node} of lab {layout.name}", node=node)
    deadline = time.monotonic() + timeout
    last = "corosync never answered"
    while True:
        for watched in nodes:
            if not power.is_on(layout, watched):
                raise errors.operation_failed("booting the lab", boot_failure(layout, watched))
        try:
            state = collect(env, "--quorum", timeout=15)
        except HaflowError as err:
            if err.reports[0].code == Code.COROSYNC_BINDINGS_MISSING:
                return
            last = err.reports[0].message
        else:
            members = {m["name"] for m in state["members"]}
            if state["quorate"] and set(nodes) <= members:
                return
            last = (f"corosync on {node}: members {','.join(sorted(members))}, "
                    f"quorate={state['quorate']}")
        if time.monotonic() >= deadline:
            raise errors.not_ready(layout.name, timeout, last)
        time.sleep(0.25)


def boot_failure(layout: LabLayout, node: str) -> str:
    """The last lines a dead node's init left behind."""
    lines: list[str] = []
    for name in ("boot.log", "console.log"):
        path = layout.node_dir(node) / name
        if path.exists():
            lines += path.read_text(errors="replace").splitlines()[-3:]
    return f"{node} is down: " + " | ".join(lines)


def wait_until(layout: LabLayout, node: str, predicate: Callable[[ClusterView], bool],
               timeout: float, watch: Sequence[str] = ()) -> ClusterView:
    """Poll ``crm_mon`` on ``node`` until ``predicate`` holds for what it sees.

    Nodes in ``watch`` must stay powered on meanwhile: one that died fails at once.
    """
    deadline = time.monotonic() + timeout
    last = "crm_mon never answered"
    while True:
        for watched in watch:
            if not power.is_on(layout, watched):
                raise errors.operation_failed("booting the lab", boot_failure(layout, watched))
        try:
            view = cluster_view(layout, node)
        except subprocess.TimeoutExpired:
            view = None
        if view is not None:
            if predicate(view):
                return view
            last = (f"{node} sees DC={view.dc or 'none'}, online={','.join(view.online) or '-'}, "
                    f"offline={','.join(view.offline) or '-'}")
        if time.monotonic() >= deadline:
            raise errors.not_ready(layout.name, timeout, last)
        time.sleep(0.25)


# -- down -------------------------------------------------------------------


def lab_mounts(layout: LabLayout) -> list[str]:
    """Mount points inside the lab dir, deepest first."""
    prefix = str(layout.dir) + "/"
    points = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(prefix):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def end_on_sigterm() -> None:
    """Make SIGTERM (``timeout``, ``kill``) end this process as an exception would, so that
    the ``finally`` tearing its lab down runs; by default SIGTERM ends Python at once and
    the lab's nodes, namespaces and mounts stay behind (seen with a bench under timeout)."""
    signal.signal(signal.SIGTERM, _exit_on_signal)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def teardown(layout: LabLayout) -> dict[str, int]:
    """Remove every trace of the lab, whatever state it is in (also half-created); returns
    once the killed processes are gone from the process table, not still zombies."""
    killed: dict[int, int | None] = {}
    present = netns.list_netns()
    for name in layout.all_netns():
        if name in present:
            killed.update(power.kill_netns(os.stat(NETNS_DIR / name).st_ino))
    not_reaped = power.wait_reaped(killed)
    mounts = lab_mounts(layout)
    for point in mounts:
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    removed = 0
    for name in layout.all_netns():
        if name in present:
            netns.delete_netns(name)
            removed += 1
    shutil.rmtree(layout.dir, ignore_errors=True)
    return {
        "processes_killed": len(killed),
        "not_reaped": len(not_reaped),  # zombies whose parent did not reap them in time
        "namespaces_removed": removed,
        "mounts_removed": len(mounts),
    }


def down(layout: LabLayout) -> dict[str, Any]:
    if not exists(layout):
        raise errors.lab_not_found(layout.name)
    result = teardown(layout)
    leftover = exists(layout)
    if leftover:
        raise errors.operation_failed(f"removing lab {layout.name!r}", f"{leftover} remains")
    return {"lab": layout.name, **result}


# -- looking inside ---------------------------------------------------------


def node_command(layout: LabLayout, node: str, argv: Sequence[str]) -> list[str]:
    """The command line that runs ``argv`` as ``node`` (in all of its namespaces)."""
    check_node(layout, node)
    pid = power.init_pid(layout, node)
    if pid is None:
        raise errors.node_off(node)
    return ["nsenter", "-t", str(pid), "--net", "--mount", "--uts", "--ipc", "--wd=/", "--",
            *argv]


def run_on(layout: LabLayout, node: str, argv: Sequence[str], timeout: float | None = 30.0,
           input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(node_command(layout, node, argv), capture_output=True, text=True,
                          timeout=timeout, input=input)


def cluster_view(layout: LabLayout, node: str) -> ClusterView | None:
    """What ``node`` sees, or None when its cluster stack does not answer."""
    if power.init_pid(layout, node) is None:
        return None
    result = run_on(layout, node, ["crm_mon", "--output-as=xml", "-1"], timeout=15)
    if result.returncode != 0 or not result.stdout.strip():
        return None
    return parse_crm_mon(result.stdout)


def status(layout: LabLayout) -> dict[str, Any]:
    nodes = nodes_of(layout)
    rows = []
    for node in nodes:
        pid = power.init_pid(layout, node)
        view = cluster_view(layout, node) if pid else None
        rows.append({
            "name": node,
            "address": node_address(node),
            "power": "on" if pid else "off",
            "init_pid": pid,
            "island": netns.island_of(layout, node) or None,
            "cluster": None if view is None else {
                "dc": view.dc, "quorate": view.quorate, "online": view.online,
                "offline": view.offline, "unclean": view.unclean,
            },
        })  # fmt: skip
    return {"lab": layout.name, "dir": str(layout.dir), "nodes": rows,
            "partitioned": bool(netns.islands(layout))}


# -- faults -----------------------------------------------------------------


def crash(layout: LabLayout, node: str) -> dict[str, Any]:
    """SIGKILL every process of the node at once, as a power cut would."""
    check_node(layout, node)
    was_on = power.is_on(layout, node)
    killed = power.power_off(layout, node)
    return {"lab": layout.name, "node": node, "was_on": was_on, "processes_killed": killed}


def reboot(layout: LabLayout, node: str, wait: bool = True,
           timeout: float = 90.0) -> dict[str, Any]:
    """Crash the node, then boot it with fresh volatile state; optionally wait until it rejoins."""
    result = crash(layout, node)
    started = time.monotonic()
    result["init_pid"] = power.power_on(layout, node)
    if wait:
        wait_until(layout, node, lambda v: v.dc is not None and node in v.online, timeout)
        result["rejoined_after"] = round(time.monotonic() - started, 2)
    return result


def partition(layout: LabLayout, nodes: Sequence[str]) -> dict[str, Any]:
    """Cut ``nodes`` off from the others (they still see each other); nothing is killed."""
    all_nodes = nodes_of(layout)
    if not nodes:
        raise errors.bad_partition("name at least one node to cut off")
    for node in nodes:
        if node not in all_nodes:
            raise errors.unknown_node(layout.name, node, all_nodes)
    if len(set(nodes)) == len(all_nodes):
        raise errors.bad_partition("a partition needs nodes on both sides")
    island = netns.partition(layout, list(dict.fromkeys(nodes)))
    return {"lab": layout.name, "island": island, "nodes": list(nodes)}


def heal(layout: LabLayout) -> dict[str, Any]:
    nodes = nodes_of(layout)
    islands = netns.islands(layout)
    netns.heal(layout, nodes)
    return {"lab": layout.name, "healed": islands}


def restart_pacemaker(layout: LabLayout, node: str, timeout: float = 120.0) -> dict[str, Any]:
    """Restart pacemaker on the node without a reboot (corosync stays up); waits until
    the init has restarted it and the node is online again.

    A node still booting restarts once booted: the init records each restart it was
    asked for, so a pacemakerd the boot started is not taken for the restarted one.
    The default ``timeout`` covers a stop that waits for the DC: one that lost a probe
    it sent to the old controller waits 80 s (probe timeout plus cluster-delay)."""
    check_node(layout, node)
    pid = power.init_pid(layout, node)
    if pid is None:
        raise errors.node_off(node)
    record = layout.node_dir(node) / node_init.RESTARTS_FILE
    handled = len(record.read_text().splitlines()) if record.exists() else 0
    started = time.monotonic()
    os.kill(pid, signal.SIGHUP)
    deadline = started + timeout
    while True:
        outcomes = record.read_text().splitlines() if record.exists() else []
        if len(outcomes) > handled:
            break
        if time.monotonic() > deadline:
            raise errors.not_ready(layout.name, timeout, f"pacemaker on {node} did not restart")
        time.sleep(0.1)
    outcome = outcomes[handled]
    if not outcome.startswith("started "):
        raise errors.operation_failed(f"restarting pacemaker on {node}", outcome)
    wait_until(layout, node, lambda v: v.dc is not None and node in v.online,
               max(1.0, deadline - time.monotonic()))
    return {"lab": layout.name, "node": node, "seconds": round(time.monotonic() - started, 2)}


def flap(layout: LabLayout, node: str, down: float, up: float, count: int) -> dict[str, Any]:
    """Take the node's link down for ``down`` s then up for ``up`` s, ``count`` times."""
    check_node(layout, node)
    if count < 1 or down <= 0 or up < 0:
        raise errors.bad_partition("flap needs --count >= 1, --down > 0 and --up >= 0")
    try:
        for _ in range(count):
            netns.set_link(layout, node, up=False)
            time.sleep(down)
            netns.set_link(layout, node, up=True)
            time.sleep(up)
    finally:
        netns.set_link(layout, node, up=True)
    return {"lab": layout.name, "node": node, "flaps": count}
