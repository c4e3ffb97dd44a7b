"""PID-holder and init of one lab node (standard library only).

Started already inside the node's network namespace and in fresh mount, UTS
and IPC namespaces (see ``power.boot_node``). It does what a real node's boot
does: mounts a fresh ``/run`` and ``/dev/shm`` (volatile, so a crash wipes
them), binds the node's persistent state over ``/etc/corosync``,
``/var/lib/pacemaker`` and friends, sets the hostname, provisions on first
boot, starts pcsd, and starts corosync then pacemakerd once the node belongs
to a cluster (at boot, or on SIGUSR1 after ``pcs cluster setup``). As a child
subreaper it reaps every orphan of the node; SIGTERM shuts the node down.
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
PCSD_READY_TIMEOUT = 60.0
PCSD_PORT = 2224
COROSYNC_CONF = "/etc/corosync/corosync.conf"
INIT_SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGHUP}


def log(node_dir: Path, message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    with open(node_dir / "boot.log", "a") as fh:
        fh.write(f"{stamp} [{os.getpid()}] {message}\n")


# The node's temporary directory (TMPDIR of everything its init starts), on its fresh
# /run: emptied at each boot and gone with the node, as a real node's /tmp is. The node
# shares the host's /tmp and cannot mount its own over it (a lab may live under /tmp);
# there, nothing cleared what a dead node left: pcsd-ruby's Tempfiles (left to its garbage
# collector), pcsd's multiprocessing directories, the temporary file of an agent killed
# with its node (about 230 files per CI run). Short, not in the lab's directory: pcsd's
# multiprocessing manager binds a socket under it, and AF_UNIX paths end at 107 bytes.
NODE_TMP = "/run/tmp"


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def set_up_mounts(config: dict[str, Any]) -> None:
    # Nothing we mount may leak back into the namespace we were copied from.
    mount("--make-rprivate", "/")
    mount("-t", "tmpfs", "-o", "mode=0755,nosuid,nodev", f"{config['name']}-run", "/run")
    for sub in ("lock", "user"):
        os.makedirs(f"/run/{sub}", exist_ok=True)
    os.makedirs(NODE_TMP)
    os.chmod(NODE_TMP, 0o1777)
    mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", f"{config['name']}-shm", "/dev/shm")
    # sysfs must describe this node's network namespace (agents read /sys/class/net)
    mount("-t", "sysfs", "-o", "nosuid,nodev,noexec", f"{config['name']}-sys", "/sys")
    for source, target in config["binds"]:
        if not os.path.exists(target):
            # e.g. /var/log/cluster: the packages do not always create it
            os.makedirs(target, exist_ok=True)
        mount("--bind", source, target)


class Reaper:
    """Reaps every child (daemons and adopted orphans) and remembers how daemons ended.

    Only the pids it was asked to watch are remembered: pids wrap (pid_max is
    32768 here) and the node's many short-lived orphans (alert agents, their
    flushers) would otherwise leave a stale "exited" entry for a pid a later
    daemon gets, which would then look dead from birth.
    """

    def __init__(self) -> None:
        self.watched: set[int] = set()
        self.exited: dict[int, int] = {}

    def watch(self, pid: int) -> int:
        self.watched.add(pid)
        self.exited.pop(pid, None)
        return pid

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.watched:
                self.watched.discard(pid)
                self.exited[pid] = os.waitstatus_to_exitcode(status)

    def alive(self, pid: int) -> bool:
        self.reap()
        return pid not in self.exited


def spawn(argv: list[str], node_dir: Path, env: dict[str, str], reaper: Reaper) -> int:
    # posix_spawn, not Popen: a dropped Popen may later reap "its" pid behind the Reaper's back
    console = os.open(node_dir / "console.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        return reaper.watch(os.posix_spawnp(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, console, 1),
                (os.POSIX_SPAWN_DUP2, console, 2),
            ],
            # the init blocks the signals it waits for; daemons must not inherit that
            # (pacemaker's main loops would never see SIGCHLD and spin)
            setsigmask=(),
            setsigdef=tuple(INIT_SIGNALS),
        ))
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


def listening(port: int) -> bool:
    """Whether a TCP socket listens on ``port`` in this network namespace."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
                    return True
    return False


def start_pcsd(node_dir: Path, reaper: Reaper) -> list[int]:
    """pcsd (its Python and Ruby daemons), as an enabled pcsd.service would on a real node."""
    env = dict(os.environ)
    with open("/etc/default/pcsd") as fh:
        for line in fh:
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                env[key] = value
    pids = [spawn([daemon], node_dir, env, reaper)
            for daemon in ("/usr/share/pcsd/pcsd", "/usr/sbin/pcsd")]
    deadline = time.monotonic() + PCSD_READY_TIMEOUT
    while not listening(PCSD_PORT):
        if time.monotonic() > deadline or not all(reaper.alive(p) for p in pids):
            log(node_dir, "pcsd did not start listening")
            return pids
        time.sleep(0.1)
    log(node_dir, "pcsd ready")
    (node_dir / "pcsd.ready").touch()
    return pids


def start_cluster_stack(config: dict[str, Any], node_dir: Path, reaper: Reaper) -> list[int]:
    """Start corosync, then pacemakerd once corosync answers; returns their pids, last first."""
    env = dict(os.environ)
    env.update(config.get("env", {}))
    corosync = spawn(["corosync", "-f"], node_dir, env, reaper)
    log(node_dir, f"corosync started, pid {corosync}")
    if not wait_for_corosync(node_dir, reaper, corosync):
        return [corosync]
    return [start_pacemakerd(config, node_dir, reaper), corosync]


def start_pacemakerd(config: dict[str, Any], node_dir: Path, reaper: Reaper) -> int:
    env = dict(os.environ)
    env.update(config.get("env", {}))
    pid = spawn(["pacemakerd"], node_dir, env, reaper)
    log(node_dir, f"pacemakerd started, pid {pid}")
    return pid


RESTARTS_FILE = "pacemaker-restarts"
# pacemaker.service's TimeoutStopSec; with SendSIGKILL=no systemd never kills pacemakerd
PACEMAKER_STOP_TIMEOUT = 30 * 60.0


class PacemakerRestart:
    """``systemctl restart pacemaker`` (corosync keeps running), without blocking the init.

    Stopping waits for pacemakerd to exit however long that takes, as pacemaker.service
    does (KillMode=process, SendSIGKILL=no): its controller may wait for the DC before
    it exits (80 s when the DC lost a probe it sent to the old controller). Killing it
    instead left its daemons running orphaned, and the next pacemakerd adopted them
    with the controller still half shut down: the node never rejoined.
    """

    def __init__(self, config: dict[str, Any], node_dir: Path, reaper: Reaper,
                 stack: list[int]) -> None:
        self.config, self.node_dir, self.reaper, self.stack = config, node_dir, reaper, stack
        self.stopping: int | None = None
        self.deadline = 0.0

    def record(self, outcome: str) -> None:
        """One line per restart asked (``haflow lab restart-pacemaker`` waits for it)."""
        log(self.node_dir, f"restart: {outcome}")
        with open(self.node_dir / RESTARTS_FILE, "a") as fh:
            fh.write(f"{outcome}\n")

    def request(self) -> None:
        if self.stopping is not None:
            self.record("refused: a restart is under way already")
        elif len(self.stack) < 2 or not self.reaper.alive(self.stack[0]):
            self.record("refused: pacemaker is not running")
        else:
            self.stopping = self.stack[0]
            self.deadline = time.monotonic() + PACEMAKER_STOP_TIMEOUT
            os.kill(self.stopping, signal.SIGTERM)
            log(self.node_dir, f"stopping {self.stopping}")

    def advance(self) -> None:
        """Start pacemakerd again once the old one has exited."""
        if self.stopping is None:
            return
        if not self.reaper.alive(self.stopping):
            log(self.node_dir, f"stopped {self.stopping}")
            self.stopping = None
            self.stack[0] = start_pacemakerd(self.config, self.node_dir, self.reaper)
            self.record(f"started {self.stack[0]}")
        elif time.monotonic() > self.deadline:
            self.record(f"failed: pacemakerd {self.stopping} did not stop in "
                        f"{PACEMAKER_STOP_TIMEOUT:.0f} s; not started again")
            self.stopping = None


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
    log(node_dir, f"stopped {', '.join(map(str, daemons))}")


class EarlySignals:
    """Records the init's signals that arrive while it boots.

    A signal's default action would kill the init silently (seen: a restart
    asked a moment after a reboot, while pcsd was still starting) and leave its
    daemons running with no init: the node then looked off, and the next power
    on started a second corosync into the same network namespace. Handlers, not
    a blocked mask, while booting: the boot's own subprocesses must not inherit
    blocked signals, and exec resets handlers to the default for them.
    """

    def __init__(self) -> None:
        self.pending: list[int] = []
        for signo in INIT_SIGNALS - {signal.SIGCHLD}:
            signal.signal(signo, self.record)

    def record(self, signo: int, _frame: object) -> None:
        self.pending.append(signo)


def reap_forever(config: dict[str, Any], node_dir: Path, reaper: Reaper,
                 daemons: list[int], stack: list[int], early: EarlySignals) -> None:
    """Reap children until SIGTERM. SIGUSR1 starts the cluster stack if it is not
    running; SIGHUP restarts pacemaker (not corosync)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, INIT_SIGNALS)
    # blocked now: later ones wait for sigtimedwait (the list itself, not a copy: a
    # handler may still run for one that came just before the block)
    pending = early.pending
    restart = PacemakerRestart(config, node_dir, reaper, stack)
    while True:
        reaper.reap()
        restart.advance()
        if pending:
            signo = pending.pop(0)
        else:
            # SIGCHLD ends the wait when a stopping pacemakerd exits
            info = signal.sigtimedwait(INIT_SIGNALS, 5.0)
            if info is None:
                continue
            signo = info.si_signo
        if signo in (signal.SIGTERM, signal.SIGINT):
            break
        if signo == signal.SIGUSR1 and not any(reaper.alive(p) for p in stack):
            stack[:] = start_cluster_stack(config, node_dir, reaper)
        if signo == signal.SIGHUP:
            restart.request()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, INIT_SIGNALS)
    shut_down(node_dir, reaper, stack + daemons)


def main(argv: list[str]) -> int:
    early = EarlySignals()  # before init.pid tells anyone where to send them
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
    os.environ["TMPDIR"] = NODE_TMP  # for every daemon and agent of the node
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
    (node_dir / "pcsd.ready").unlink(missing_ok=True)
    post_delay = float(argv[2]) if len(argv) > 2 else 0.0
    if post_delay > 0:
        log(node_dir, f"firmware: {post_delay:g} s before the operating system starts")
        time.sleep(post_delay)
    # a node that is part of a cluster joins it at boot (pcs cluster enable), first thing
    stack = start_cluster_stack(config, node_dir, reaper) if os.path.exists(COROSYNC_CONF) else []
    daemons = start_pcsd(node_dir, reaper)
    log(node_dir, "booted")
    reap_forever(config, node_dir, reaper, daemons, stack, early)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
