"""A lab node's power: is it on, cut it (SIGKILL everything in its netns), boot it.

Used by the CLI and by the lab fence agent, which runs inside another node:
every path here is reachable from any node (the lab dir is not under a
node-private mount), and processes are found by network namespace, never by
name. ``python -m haflow.lab.power ACTION LAB_DIR [NODE]`` is the fence
agent's entry point.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from haflow.lab.layout import NETNS_DIR, LabLayout

NODE_INIT = Path(__file__).with_name("node_init.py")
BOOT_TIMEOUT = 10.0
# A node rebooted by fencing must not rejoin before the fencers have finished the
# operation: a fencer that hears "node3 was fenced" from a peer after node3 came
# back makes node3's controller stop for good ("We were allegedly just fenced"),
# as seen when the lab's reboot took 2 s on a loaded machine. Real servers spend
# longer than this in their firmware.
FENCE_REBOOT_POST_DELAY = 5.0
KILL_ROUNDS = 200
# a killed process stays in the process table, a zombie, until its parent (the host's
# init, once the node's own is dead) reaps it: about a second was seen
REAP_TIMEOUT = 10.0
CLEAN_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
}


def netns_inode(layout: LabLayout, node: str) -> int | None:
    """Inode of the node's network namespace (the bind in the lab dir, else /run/netns)."""
    for path in (layout.netns_file(node), NETNS_DIR / layout.netns(node)):
        if path_is_nsfs(path):
            return os.stat(path).st_ino
    return None


def path_is_nsfs(path: Path) -> bool:
    # a bind of a namespace has the nsfs device; an unmounted placeholder file does not
    try:
        return os.stat(path).st_dev == os.stat("/proc/self/ns/net").st_dev
    except OSError:
        return False


def pids_in_netns(inode: int) -> list[int]:
    """Live processes whose network namespace is ``inode`` (zombies have none)."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry.name}/ns/net").st_ino == inode:
                pids.append(int(entry.name))
        except OSError:
            continue  # exited meanwhile, or a zombie
    return pids


def commands_in_netns(inode: int) -> dict[int, str]:
    """``pids_in_netns`` with each one's command name; a process that ends between the two
    reads (an agent, an alert, a cibadmin: there are many) is left out."""
    found = {}
    for pid in pids_in_netns(inode):
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
                found[pid] = handle.read().strip()
        except OSError:
            continue
    return found


def start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), telling it from a later one of that id;
    None once it is gone from the process table (a zombie is still there)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def kill_netns(inode: int) -> dict[int, int | None]:
    """SIGKILL every process in the namespace until none is left; returns each killed
    pid with its start time (for :func:`wait_reaped`)."""
    killed: dict[int, int | None] = {}
    own = os.getpid()
    # a power cut is instant: freeze everything first, so that no daemon of the node
    # sees its neighbours die one by one (execd reported a killed agent as a failed
    # start, and the step got a fail count on a node that merely lost power)
    frozen: set[int] = set()
    for _ in range(KILL_ROUNDS):
        fresh = [p for p in pids_in_netns(inode) if p != own and p not in frozen]
        if not fresh:
            break
        for pid in fresh:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
            frozen.add(pid)
    for _ in range(KILL_ROUNDS):
        pids = [p for p in pids_in_netns(inode) if p != own]
        if not pids:
            return killed
        for pid in pids:
            started = start_time(pid)
            try:
                os.kill(pid, signal.SIGKILL)
                killed.setdefault(pid, started)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
    raise RuntimeError(f"processes keep appearing in netns {inode}")


def wait_reaped(killed: dict[int, int | None], timeout: float = REAP_TIMEOUT) -> list[int]:
    """Wait until every killed process is gone from the process table, zombies included
    (at most ``timeout`` s); returns those still there."""
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for pid, started in killed.items()
                if started is not None and start_time(pid) == started]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.02)


def init_pid(layout: LabLayout, node: str) -> int | None:
    """The pid of the node's init if the node is on, else None."""
    inode = netns_inode(layout, node)
    try:
        pid = int((layout.node_dir(node) / "init.pid").read_text())
    except (OSError, ValueError):
        return None
    try:
        if inode is not None and os.stat(f"/proc/{pid}/ns/net").st_ino == inode:
            return pid
    except OSError:
        pass
    return None


def is_on(layout: LabLayout, node: str) -> bool:
    return init_pid(layout, node) is not None


@contextlib.contextmanager
def power_switch(layout: LabLayout, node: str) -> Iterator[None]:
    """One power operation on a node at a time, like one power switch.

    The host's crash or reboot of a node and that node's own fence agent
    (fencing itself: no peer could) did race: both booted an init into the
    one network namespace, and the second set of daemons found the first
    one's sockets taken. flock works across the nodes' mount namespaces (the
    lab dir is shared) and is released when its holder dies.
    """
    import fcntl

    with open(layout.node_dir(node) / "power.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def power_off(layout: LabLayout, node: str) -> int:
    """Cut the node's power: every process dies at once, volatile state goes with them.

    /run and /dev/shm are tmpfs mounts of the node's own mount namespace, which
    disappears with its last process.
    """
    inode = netns_inode(layout, node)
    if inode is None:
        raise RuntimeError(f"{node} has no network namespace")
    with power_switch(layout, node):
        count = len(kill_netns(inode))
        (layout.node_dir(node) / "init.pid").unlink(missing_ok=True)
    return count


def power_on(layout: LabLayout, node: str, post_delay: float = 0.0) -> int:
    """Boot the node: a fresh init in fresh mount/UTS/IPC namespaces; returns its pid.
    A node that is on already stays as it is (its init's pid is returned).

    ``post_delay``: seconds the node spends "in its firmware" before its cluster
    stack starts (see FENCE_REBOOT_POST_DELAY)."""
    with power_switch(layout, node):
        running = init_pid(layout, node)
        return running if running is not None else _boot(layout, node, post_delay)


def _boot(layout: LabLayout, node: str, post_delay: float) -> int:
    pid_file = layout.node_dir(node) / "init.pid"
    pid_file.unlink(missing_ok=True)
    argv = [
        "setsid", "--fork",
        "nsenter", f"--net={layout.netns_file(node)}", "--",
        "unshare", "--mount", "--uts", "--ipc", "--propagation", "private", "--",
        sys.executable, "-I", str(NODE_INIT), str(layout.node_dir(node)), str(post_delay),
    ]  # fmt: skip
    with open(layout.node_dir(node) / "console.log", "ab") as console:
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=console, stderr=console,
                       env=CLEAN_ENV, cwd="/", check=True)
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        pid = init_pid(layout, node)
        if pid is not None:
            return pid
        time.sleep(0.02)
    raise RuntimeError(f"{node} did not boot; see {layout.node_dir(node) / 'console.log'}")


def nodes_of(layout: LabLayout) -> list[str]:
    nodes: list[str] = json.loads(layout.state_file.read_text())["nodes"]
    return nodes


def main(argv: list[str]) -> int:
    """Entry point for the fence agent: ``status|on|off|reboot|list LAB_DIR [NODE]``.

    status prints on/off; list prints ``NODE on|off`` lines. Exit 0 on success,
    1 on failure with the reason on stderr.
    """
    if len(argv) < 3:
        sys.stderr.write("usage: power status|on|off|reboot|list LAB_DIR [NODE]\n")
        return 2
    action, lab_dir = argv[1], Path(argv[2])
    layout = LabLayout(name=lab_dir.name, root=lab_dir.parent)
    try:
        known = nodes_of(layout)
        if action == "list":
            for node in known:
                print(node, "on" if is_on(layout, node) else "off")
            return 0
        node = argv[3] if len(argv) > 3 else ""
        if node not in known:
            sys.stderr.write(f"unknown node {node!r}; the lab has {', '.join(known)}\n")
            return 1
        if action == "status":
            print("on" if is_on(layout, node) else "off")
        elif action == "off":
            power_off(layout, node)
        elif action == "on":  # fence-agents' reboot is "off", then "on"
            power_on(layout, node, post_delay=FENCE_REBOOT_POST_DELAY)
        elif action == "reboot":
            power_off(layout, node)
            power_on(layout, node, post_delay=FENCE_REBOOT_POST_DELAY)
        else:
            sys.stderr.write(f"unknown action {action!r}\n")
            return 2
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        sys.stderr.write(f"{action} failed: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
