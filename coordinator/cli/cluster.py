"""``haflow cluster`` (one view of Corosync and Pacemaker) and ``haflow watch`` (live events)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from haflow.coordinator.cluster.env import add_cluster_options, from_args


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from haflow.coordinator.cli.main import add_output_option

    cluster = sub.add_parser(
        "cluster", help="members, quorum, votes, links, token timings and DC in one view",
        description="What Corosync (through haflow's bindings) and Pacemaker (the DC) say "
        "about the cluster, seen from one node.")  # fmt: skip
    add_cluster_options(cluster)
    add_output_option(cluster)
    cluster.set_defaults(handler=cmd_cluster)

    watch = sub.add_parser(
        "watch", help="stream membership, quorum, step and resource state changes",
        description="Print Corosync membership and quorum events (callbacks) and Pacemaker "
        "resource/node changes (crm_mon polled) as they happen, until Ctrl-C, --count "
        "events or --timeout.")  # fmt: skip
    add_cluster_options(watch)
    add_output_option(watch)
    watch.add_argument("--count", type=int, default=None,
                       help="stop after N events (the initial membership and quorum count)")
    watch.add_argument("--timeout", type=float, default=None, help="stop after S seconds")
    watch.add_argument("--interval", type=float, default=1.0,
                       help="crm_mon poll interval in seconds (default: 1)")
    watch.set_defaults(handler=cmd_watch)


# -- cluster ------------------------------------------------------------------


def render_cluster(data: dict[str, Any]) -> str:
    q, t = data["quorum"], data["totem"]
    lines = [
        f"cluster {t.get('cluster_name')} ({t.get('transport')}), seen from {data['node']} "
        f"(nodeid {data['local_nodeid']}), ring {data['ring_id']}",
        f"quorum:  {'quorate' if q['quorate'] else 'NOT quorate'}: {q['total_votes']} of "
        f"{q['expected_votes']} expected votes, {q['quorum']} needed"
        f" [{', '.join(q['flags']) or '-'}]",
        f"DC:      {data['dc'] or ('none' if data['pacemaker'] else 'pacemaker not answering')}",
        f"token:   {t.get('token')} ms (configured {t.get('configured_token', 'default')}), "
        f"consensus {t.get('consensus')} ms, join {t.get('join')} ms, "
        f"retransmits before loss {t.get('token_retransmits_before_loss_const')}",
        "members:",
        f"  {'NODEID':>6}  {'NAME':<12} {'VOTES':>5}  {'STATE':<10} LINKS",
    ]  # fmt: skip
    for m in data["members"]:
        links = ", ".join(f"link{ln['link']} {'up' if ln['connected'] else 'DOWN'}"
                          f" {ln['dst']}" for ln in m["links"]) or "-"
        local = " (local)" if m["local"] else ""
        votes = "-" if m["votes"] is None else m["votes"]
        lines.append(f"  {m['nodeid']:>6}  {m['name']:<12} {votes:>5}  {m['state']:<10} "
                     f"{links}{local}")
    return "\n".join(lines)


def cmd_cluster(args: argparse.Namespace) -> int:
    from haflow.coordinator.cli.output import emit
    from haflow.coordinator.commands.cluster import cluster_view

    emit(cluster_view(from_args(args)), args.output_as, render_cluster)
    return 0


# -- watch --------------------------------------------------------------------


def placed(role: str | None, nodes: list[str]) -> str:
    return f"{role or 'absent'}{' on ' + ','.join(nodes) if nodes else ''}"


def render_event(event: dict[str, Any]) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(event.get("time", time.time())))
    kind = event["type"]
    if kind == "quorum":
        what = (f"quorum {'quorate' if event['quorate'] else 'NO QUORUM'}"
                if "quorate" in event else "quorum")
        return f"{stamp} {what}: members {event['members']} (ring {event['ring_id']})"
    if kind == "membership":
        return (f"{stamp} membership: members {event['members']} joined {event['joined']} "
                f"left {event['left']} (ring {event['ring_id']})")
    if kind in ("resource", "step"):
        what = (f"workflow {event['workflow']} step {event['step']}" if kind == "step"
                else f"resource {event['id']}")
        return (f"{stamp} {what}: {placed(event['was'], event['was_on'])} -> "
                f"{placed(event['role'], event['nodes'])}")
    if kind == "node":
        return f"{stamp} node {event['node']} is {event['state']}"
    if kind == "dc":
        return f"{stamp} DC {event['from'] or 'none'} -> {event['to'] or 'none'}"
    return f"{stamp} {json.dumps(event)}"


def cmd_watch(args: argparse.Namespace) -> int:
    fmt = args.output_as

    def emit(event: dict[str, Any]) -> None:
        text = json.dumps(event, sort_keys=True) if fmt == "json" else render_event(event)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    from haflow.coordinator.commands.cluster import watch

    watch(from_args(args), emit, args.count, args.timeout, args.interval)
    return 0
