"""Runs inside a lab node (Corosync IPC is per node namespace) and prints JSON.

The tests call it through ``control.node_command`` with the venv's interpreter:
``python node_probe.py COMMAND [args]``. Each command exercises the bindings
and reports what it saw; the test compares that with Corosync's own tools.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from haflow.coordinator.corosync import (
    Cfg,
    Cmap,
    CmapEvent,
    CorosyncError,
    Cpg,
    CpgConfchg,
    CpgMessage,
    Quorum,
    VoteNodelistEvent,
    VoteQuorum,
    VoteQuorumEvent,
)
from haflow.coordinator.corosync.snapshot import quorum_view


def jsonable(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


def cmap_dump() -> Any:
    with Cmap() as cmap:
        return [[k, cmap.get_typed(k)[0], jsonable(cmap.get_typed(k)[1])] for k in cmap]


def stats() -> Any:
    """The stats map: knet link and ipc statistics, typed."""
    with Cmap("stats") as cmap:
        return [[k, *cmap.get_typed(k)] for k in cmap.keys("stats.")]


def quorum() -> Any:
    with VoteQuorum() as vq, Quorum() as q, Cfg() as cfg:
        view = quorum_view()
        view["votes"] = {n["nodeid"]: vq.info(n["nodeid"]).votes for n in view["members"]}
        view["libquorum_quorate"] = q.quorate()
        view["libquorum_members"] = list(q.current().members)
        view["cfg_local_nodeid"] = cfg.local_nodeid()
        view["links"] = {n["nodeid"]: [[ln.link, ln.connected] for ln in
                                       cfg.node_status(n["nodeid"]).links]
                         for n in view["members"]}
        return view


def cmap_track(prefix: str) -> Any:
    """Track ``prefix``; another process (corosync-cmapctl) adds, modifies, deletes a key."""
    events: list[CmapEvent] = []
    key = prefix + ".probe"
    with Cmap() as cmap:
        cmap.track(prefix, events.append)
        for argv in (["-s", key, "str", "one"], ["-s", key, "str", "two"], ["-d", key]):
            subprocess.run(["corosync-cmapctl", *argv], check=True, capture_output=True)
        cmap.run_until(lambda: len(events) >= 3, 10)
    return [[e.event, e.key, jsonable(e.new), jsonable(e.old)] for e in events]


def cpg_order(group: str, count: int, nodes: int, leave: bool, timeout: float) -> Any:
    """Join, wait for ``nodes`` members, send ``count`` messages, receive every member's."""
    msgs: list[list[Any]] = []
    confchgs: list[dict[str, Any]] = []
    members = 0

    def on_event(event: Any) -> None:
        nonlocal members
        if isinstance(event, CpgMessage):
            msgs.append([event.nodeid, event.pid, event.data.decode()])
        elif isinstance(event, CpgConfchg):
            members = len(event.members)
            confchgs.append({
                "members": [[a.nodeid, a.pid] for a in event.members],
                "joined": [[a.nodeid, a.pid, a.reason] for a in event.joined],
                "left": [[a.nodeid, a.pid, a.reason] for a in event.left],
            })  # fmt: skip

    with Cpg(on_event=on_event) as cpg:
        me = cpg.local_nodeid()
        cpg.join(group)
        cpg.run_until(lambda: members >= nodes, timeout)
        for i in range(count):
            cpg.send(f"{me}:{i}".encode())
        cpg.run_until(lambda: len(msgs) >= count * nodes, timeout)
        if leave:
            cpg.leave(group)
        else:  # the leaver's departure is the last thing the others see
            cpg.run_until(lambda: any(c["left"] for c in confchgs), timeout)
    return {"nodeid": me, "pid": os.getpid(), "messages": msgs, "confchg": confchgs}


def counts() -> dict[str, int]:
    """Our open fds, and libqb shared-memory files of ours (qb-SERVERPID-OURPID-...)."""
    ours = f"-{os.getpid()}-"
    return {"fds": len(os.listdir("/proc/self/fd")),
            "shm": sum(ours in name for name in os.listdir("/dev/shm"))}


def settled() -> dict[str, int]:
    """counts() once corosync removed the shm files of our closed connections (it does
    that asynchronously, after it notices the disconnect); a leak never settles."""
    deadline = time.monotonic() + 3
    while (sample := counts())["shm"] and time.monotonic() < deadline:
        time.sleep(0.02)
    return sample


def leak(cycles: int) -> Any:
    """Open and close handles ``cycles`` times (all five services in turn)."""
    kinds = (Cmap, Quorum, VoteQuorum, Cpg, Cfg)
    with Cmap():
        pass  # warm up: the first open loads libraries that keep their own fds
    samples = [settled()]
    started = time.monotonic()
    for i in range(cycles):
        with kinds[i % len(kinds)]() as handle:
            handle.fileno()
            if i == 0:
                samples.append(counts())  # while open: the counting does see a handle
        if (i + 1) % 1000 == 0:
            samples.append(settled())
    return {"samples": samples, "seconds": round(time.monotonic() - started, 2)}


def errors() -> Any:
    """Error paths: CS_ERR_* names, closed handles, callback exceptions."""
    out: dict[str, Any] = {}
    with Cmap() as cmap:
        try:
            cmap.get_typed("haflow.no.such.key")
        except CorosyncError as exc:
            out["missing_key"] = [exc.reports[0].code, exc.cs_error]
        out["missing_default"] = cmap.get("haflow.no.such.key", "dflt")

        def boom(_event: CmapEvent) -> None:
            raise ValueError("from a callback")

        cmap.track("haflow.boom", boom)
        subprocess.run(["corosync-cmapctl", "-s", "haflow.boom.k", "u32", "1"], check=True)
        try:
            cmap.run_until(lambda: False, 3)
            out["callback_error"] = None
        except ValueError as exc:
            out["callback_error"] = str(exc)
        subprocess.run(["corosync-cmapctl", "-d", "haflow.boom.k"], check=True)
    try:
        cmap.get("totem.token")
    except CorosyncError as exc:
        out["closed"] = [exc.reports[0].code, exc.cs_error]
    return out


def partition_events(group: str, nodes: int, timeout: float) -> Any:
    """VoteQuorum and cpg callbacks until stdin closes: prints "ready" once tracking with
    ``nodes`` cpg members, then (at the end) every event seen after that."""
    import select

    events: list[dict[str, Any]] = []
    cpg_members = 0

    def on_quorum(e: VoteQuorumEvent) -> None:
        events.append({"type": "quorum", "quorate": e.quorate,
                       "nodes": {str(k): v for k, v in e.nodes.items()}})

    def on_nodelist(e: VoteNodelistEvent) -> None:
        events.append({"type": "nodelist", "members": list(e.members)})

    def on_cpg(e: Any) -> None:
        nonlocal cpg_members
        if isinstance(e, CpgConfchg):
            cpg_members = len(e.members)
            events.append({"type": "cpg", "members": [a.nodeid for a in e.members],
                           "left": [[a.nodeid, a.reason] for a in e.left],
                           "joined": [[a.nodeid, a.reason] for a in e.joined]})

    with VoteQuorum(on_quorum=on_quorum, on_nodelist=on_nodelist) as vq, \
            Cpg(on_event=on_cpg) as cpg:
        vq.track(current=True)
        cpg.join(group)
        handles = {vq.fileno(): vq, cpg.fileno(): cpg}
        deadline = time.monotonic() + timeout
        ready = False
        while time.monotonic() < deadline:
            if not ready and cpg_members >= nodes and len(events) >= 2:
                ready = True
                events.clear()  # from here on: only what changes
                print("ready", flush=True)
            rlist, _, _ = select.select([*handles, sys.stdin], [], [], 0.5)
            if sys.stdin in rlist and not sys.stdin.read(1):
                break
            for fd in rlist:
                if fd in handles:
                    handles[fd].dispatch()
    return events


def tracking() -> Any:
    """Tracking twice is harmless; current() while tracking answers and keeps tracking."""
    seen: list[str] = []
    with Quorum(on_quorum=lambda e: seen.append("q"), on_membership=lambda e: seen.append("m")) \
            as q, VoteQuorum(on_quorum=lambda e: seen.append("vq")) as vq:
        q.track()
        q.track()
        vq.track()
        vq.track()
        q.run_until(lambda: "q" in seen, 5)
        vq.run_until(lambda: "vq" in seen, 5)
        current = q.current()
        vq_quorum, vq_nodes = vq.current()
        q.untrack()
        vq.untrack()
        with Cmap() as cmap:  # corosync is still fine
            token = cmap.get("runtime.config.totem.token")
    return {"members": list(current.members), "vq_members": list(vq_nodes.members),
            "quorate": current.quorate and vq_quorum.quorate, "token": token,
            "seen": sorted(set(seen))}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("--prefix", default="haflow.test")
    parser.add_argument("--group", default="haflow-test")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--leave", action="store_true")
    parser.add_argument("--cycles", type=int, default=10000)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--group-size", type=int, default=2)
    args = parser.parse_args()
    result: Any
    if args.command == "cmap-dump":
        result = cmap_dump()
    elif args.command == "stats":
        result = stats()
    elif args.command == "quorum":
        result = quorum()
    elif args.command == "cmap-track":
        result = cmap_track(args.prefix)
    elif args.command == "cpg":
        result = cpg_order(args.group, args.count, args.nodes, args.leave, args.timeout)
    elif args.command == "leak":
        result = leak(args.cycles)
    elif args.command == "partition-events":
        result = partition_events(args.group, args.group_size, args.timeout)
    elif args.command == "tracking":
        result = tracking()
    elif args.command == "errors":
        result = errors()
    else:
        parser.error(f"unknown command {args.command}")
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
