"""PID-holder and init of one lab node (standard library only).

Started already inside the node's network namespace and in fresh mount, UTS
and IPC namespaces (see ``power.boot_node``). It does what a real node's boot
does: mounts a fresh ``/run`` and ``/dev/shm`` (volatile, so a crash wipes
them), binds the node's persistent state over ``/etc/corosync``,
``/var/lib/pacemaker`` and friends, sets the hostname, optionally provisions,
then starts corosync and pacemakerd. As a child subreaper it reaps every
orphan of the node, and SIGTERM shuts the node down cleanly.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PR_SET_CHILD_SUBREAPER = 36
COROSYNC_READY_TIMEOUT = 20.0


def log(node_dir: Path, message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    with open(node_dir / "boot.log", "a") as fh:
        fh.write(f"{stamp} [{os.getpid()}] {message}\n")


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def set_up_mounts(config: dict[str, Any]) -> None:
    # Nothing we mount may leak back into the namespace we were copied from.
    mount("--make-rprivate", "/")
    mount("-t", "tmpfs", "-o", "mode=0755,nosuid,nodev", f"{config['name']}-run", "/run")
    for sub in ("lock", "user"):
        os.makedirs(f"/run/{sub}", exist_ok=True)
    mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", f"{config['name']}-shm", "/dev/shm")
    # sysfs must describe this node's network namespace (agents read /sys/class/net)
    mount("-t", "sysfs", "-o", "nosuid,nodev,noexec", f"{config['name']}-sys", "/sys")
    for source, target in config["binds"]:
        if not os.path.exists(target):
            # e.g. /var/log/cluster: the packages do not always create it
            os.makedirs(target, exist_ok=True)
        mount("--bind", source, target)


class Reaper:
    """Reaps every child (daemons and adopted orphans) and remembers how daemons ended."""

    def __init__(self) -> None:
        self.exited: dict[int, int] = {}

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.exited[pid] = os.waitstatus_to_exitcode(status)

    def alive(self, pid: int) -> bool:
        self.reap()
        return pid not in self.exited


def spawn(argv: list[str], node_dir: Path, env: dict[str, str]) -> int:
    # posix_spawn, not Popen: a dropped Popen may later reap "its" pid behind the Reaper's back
    console = os.open(node_dir / "console.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        return os.posix_spawnp(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, console, 1),
                (os.POSIX_SPAWN_DUP2, console, 2),
            ],
        )
    finally:
        os.close(console)


def wait_for_corosync(node_dir: Path, reaper: Reaper, pid: int) -> bool:
    deadline = time.monotonic() + COROSYNC_READY_TIMEOUT
    while time.monotonic() < deadline:
        if not reaper.alive(pid):
            log(node_dir, f"corosync exited with {reaper.exited[pid]}")
            return False
        probe = subprocess.run(
            ["corosync-cmapctl", "-g", "totem.cluster_name"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if probe.returncode == 0:
            return True
        time.sleep(0.1)
    log(node_dir, "corosync did not become ready")
    return False


def start_daemons(config: dict[str, Any], node_dir: Path, reaper: Reaper) -> list[int]:
    """Start corosync, then pacemakerd once corosync answers; returns their pids, last first."""
    env = dict(os.environ)
    env.update(config.get("env", {}))
    corosync = spawn(["corosync", "-f"], node_dir, env)
    log(node_dir, f"corosync started, pid {corosync}")
    if not wait_for_corosync(node_dir, reaper, corosync):
        return [corosync]
    pacemakerd = spawn(["pacemakerd"], node_dir, env)
    log(node_dir, f"pacemakerd started, pid {pacemakerd}")
    return [pacemakerd, corosync]


def shut_down(node_dir: Path, reaper: Reaper, daemons: list[int]) -> None:
    """Stop pacemaker first, then corosync, as ``systemctl stop`` would."""
    for pid in daemons:
        if not reaper.alive(pid):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while reaper.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if reaper.alive(pid):
            os.kill(pid, signal.SIGKILL)
    log(node_dir, "shut down")


def reap_forever(node_dir: Path, reaper: Reaper, daemons: list[int]) -> None:
    signals = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    while True:
        reaper.reap()
        info = signal.sigtimedwait(signals, 5.0)
        if info is not None and info.si_signo in (signal.SIGTERM, signal.SIGINT):
            break
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
    shut_down(node_dir, reaper, daemons)


def main(argv: list[str]) -> int:
    node_dir = Path(argv[1])
    os.chdir("/")
    config = json.loads((node_dir / "node.json").read_text())
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if os.getsid(0) != os.getpid():
        os.setsid()
    (node_dir / "init.pid").write_text(f"{os.getpid()}\n")
    log(node_dir, "booting")
    set_up_mounts(config)
    socket.sethostname(config["name"])
    marker = node_dir / "provisioned"
    if config.get("provision") and not marker.exists():
        # first boot only: later boots keep what the admin changed since
        result = subprocess.run(config["provision"], capture_output=True, text=True)
        log(node_dir, f"provision exited {result.returncode}: {result.stdout}{result.stderr}")
        if result.returncode != 0:
            return 1
        marker.touch()
    reaper = Reaper()
    daemons = start_daemons(config, node_dir, reaper) if config.get("daemons", True) else []
    log(node_dir, "booted")
    reap_forever(node_dir, reaper, daemons)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
