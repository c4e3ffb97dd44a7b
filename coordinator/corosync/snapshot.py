"""One view of this node's Corosync: members, quorum, votes, links, totem timings.

Run inside a node (``python -m haflow.coordinator.corosync.snapshot``) it prints
the view as JSON: this is how ``haflow cluster --lab`` reads a lab node, whose
Corosync IPC is only reachable from inside its namespaces. ``--events`` streams
membership and quorum changes as JSON lines instead (for ``haflow watch``).
"""

from __future__ import annotations

import argparse
import json
import select
import sys
import time
from typing import Any

from haflow.coordinator.corosync.cfg import Cfg
from haflow.coordinator.corosync.cmap import Cmap, Value
from haflow.coordinator.corosync.errors import CorosyncError
from haflow.coordinator.corosync.quorum import MembershipEvent, Quorum, QuorumEvent, VoteQuorum
from haflow.coordinator.reports import HaflowError

TOTEM_KEYS = ("token", "consensus", "join", "token_retransmits_before_loss_const",
              "max_messages", "send_join")


def nodelist(cmap: Cmap) -> dict[int, dict[str, Any]]:
    """nodelist.node.N.{nodeid,name,ring0_addr...} by node id."""
    entries: dict[str, dict[str, Value]] = {}
    for key, value in cmap.items("nodelist.node."):
        index, _, attr = key.removeprefix("nodelist.node.").partition(".")
        entries.setdefault(index, {})[attr] = value
    nodes: dict[int, dict[str, Any]] = {}
    for entry in entries.values():
        if "nodeid" in entry:
            nodes[int(entry["nodeid"])] = {k: v for k, v in entry.items() if k != "nodeid"}
    return nodes


def totem(cmap: Cmap) -> dict[str, Any]:
    """Configured and runtime (scaled for the node count) totem timings, in ms."""
    out: dict[str, Any] = {"cluster_name": cmap.get("totem.cluster_name"),
                           "transport": cmap.get("totem.transport")}
    for key in TOTEM_KEYS:
        out[key] = cmap.get(f"runtime.config.totem.{key}")
        configured = cmap.get(f"totem.{key}")
        if configured is not None:
            out[f"configured_{key}"] = configured
    return out


def snapshot() -> dict[str, Any]:
    """Everything ``haflow cluster`` shows that Corosync knows."""
    with Cmap() as cmap, VoteQuorum() as vq, Quorum() as q, Cfg() as cfg:
        local = cfg.local_nodeid()
        info = vq.info()
        vq_quorum, vq_nodes = vq.current()
        names = nodelist(cmap)
        members = []
        for nodeid in sorted(set(names) | set(vq_quorum.nodes)):
            try:
                votes = vq.info(nodeid).votes
            except CorosyncError:
                votes = None
            try:
                status = cfg.node_status(nodeid)
                links = [{"link": ln.link, "connected": ln.connected, "mtu": ln.mtu,
                          "src": ln.src, "dst": ln.dst} for ln in status.links]
                reachable: bool | None = status.reachable
            except CorosyncError:
                links, reachable = [], None
            members.append({
                "nodeid": nodeid,
                "name": names.get(nodeid, {}).get("name") or names.get(nodeid, {}).get(
                    "ring0_addr") or str(nodeid),
                "member": nodeid in vq_nodes.members,
                "state": vq_quorum.nodes.get(nodeid, "not-member"),
                "votes": votes,
                "local": nodeid == local,
                "reachable": reachable,
                "links": links,
                "runtime_status": cmap.get(f"runtime.members.{nodeid}.status"),
            })  # fmt: skip
        return {
            "local_nodeid": local,
            "ring_id": str(vq_nodes.ring_id),
            "quorum": {
                "quorate": q.quorate(), "provider": q.provider,
                "expected_votes": info.expected_votes, "highest_expected": info.highest_expected,
                "total_votes": info.total_votes, "quorum": info.quorum, "flags": list(info.flags),
            },
            "members": members,
            "totem": totem(cmap),
        }  # fmt: skip


def quorum_view() -> dict[str, Any]:
    """Just what a quorum check needs: quorate, votes, and the partition's members."""
    with Cmap() as cmap, VoteQuorum() as vq:
        info = vq.info()
        _, nodes = vq.current()
        names = nodelist(cmap)
        return {
            "quorate": info.quorate, "expected_votes": info.expected_votes,
            "total_votes": info.total_votes, "quorum": info.quorum,
            "local_nodeid": info.node_id, "ring_id": str(nodes.ring_id),
            "members": [{"nodeid": n, "name": names.get(n, {}).get("name", str(n))}
                        for n in nodes.members],
        }  # fmt: skip


def quorum_event(event: QuorumEvent) -> dict[str, Any]:
    return {"type": "quorum", "quorate": event.quorate, "ring_id": str(event.ring_id),
            "members": list(event.members)}


def membership_event(event: MembershipEvent) -> dict[str, Any]:
    return {"type": "membership", "ring_id": str(event.ring_id), "members": list(event.members),
            "joined": list(event.joined), "left": list(event.left)}


def stream(timeout: float | None, out: Any = sys.stdout) -> int:
    """Print quorum and membership changes as JSON lines until ``timeout`` or EOF on stdin."""
    def emit(data: dict[str, Any]) -> None:
        data["time"] = round(time.time(), 3)
        out.write(json.dumps(data) + "\n")
        out.flush()

    deadline = None if timeout is None else time.monotonic() + timeout
    with Quorum(on_quorum=lambda e: emit(quorum_event(e)),
                on_membership=lambda e: emit(membership_event(e))) as q:
        q.track(current=True)
        fds: list[Any] = [q.fileno()]
        if not sys.stdin.isatty():
            fds.append(sys.stdin)  # the parent closes our stdin to stop us
        while deadline is None or time.monotonic() < deadline:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select(fds, [], [], left)
            if sys.stdin in ready and not sys.stdin.read(1):
                break
            if fds[0] in ready:
                q.dispatch()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", action="store_true", help="stream change events")
    parser.add_argument("--quorum", action="store_true", help="only the quorum view")
    parser.add_argument("--timeout", type=float, default=None)
    args = parser.parse_args(argv)
    try:
        if args.events:
            return stream(args.timeout)
        json.dump(quorum_view() if args.quorum else snapshot(), sys.stdout)
        sys.stdout.write("\n")
    except HaflowError as err:
        # the caller (outside the node) turns this back into a HaflowError
        json.dump({"errors": [r.to_dict() for r in err.reports],
                   "exit_code": int(err.exit_code)}, sys.stdout)
        sys.stdout.write("\n")
        return int(err.exit_code)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
