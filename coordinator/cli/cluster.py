"""``haflow cluster`` (one view of Corosync and Pacemaker) and ``haflow watch`` (live events)."""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from haflow.coordinator.cluster.env import Env, add_cluster_options, from_args
from haflow.encoding.ids import split_step_id


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


def pacemaker_view(env: Env) -> dict[str, Any] | None:
    """DC and node states from crm_mon, or None when Pacemaker does not answer."""
    from haflow.coordinator.cluster.crm_mon import parse_crm_mon
    from haflow.coordinator.reports import HaflowError

    try:
        result = env.run(["crm_mon", "--output-as=xml", "-1"], timeout=15)
    except HaflowError:  # no crm_mon here, or it hangs: Corosync's view still stands
        return None
    if result.returncode != 0 or not result.stdout.strip():
        return None
    view = parse_crm_mon(result.stdout)
    return {"dc": view.dc, "quorate": view.quorate, "online": view.online,
            "offline": view.offline, "unclean": view.unclean, "roles": view.roles,
            "resources": view.resources}


def cluster_view(env: Env) -> dict[str, Any]:
    from haflow.coordinator.cluster.corosync_remote import collect

    data = collect(env)
    pcmk = pacemaker_view(env)
    data["node"] = env.description
    data["dc"] = pcmk["dc"] if pcmk else None
    data["pacemaker"] = None if pcmk is None else {
        k: pcmk[k] for k in ("dc", "quorate", "online", "offline", "unclean")}
    return data


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

    emit(cluster_view(from_args(args)), args.output_as, render_cluster)
    return 0


# -- watch --------------------------------------------------------------------


def resource_changes(old: dict[str, Any] | None,
                     new: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Node and resource changes between two crm_mon polls."""
    if old is None or new is None:
        if old is not None or new is not None:
            return [{"type": "pacemaker", "answering": new is not None}]
        return []
    events: list[dict[str, Any]] = []
    if old["dc"] != new["dc"]:
        events.append({"type": "dc", "from": old["dc"], "to": new["dc"]})
    for state in ("online", "offline"):
        for node in sorted(set(new[state]) - set(old[state])):
            events.append({"type": "node", "node": node, "state": state})
    for rid in sorted(set(old["roles"]) | set(new["roles"])):
        before = (old["roles"].get(rid), old["resources"].get(rid, []))
        after = (new["roles"].get(rid), new["resources"].get(rid, []))
        if before != after:
            change = {"type": "resource", "id": rid, "role": after[0], "nodes": after[1],
                      "was": before[0], "was_on": before[1]}
            step = split_step_id(rid)
            if step:  # a workflow's step (or root): say which, in haflow's words
                change.update(type="step", workflow=step[0], step=step[1])
            events.append(change)
    return events


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


def watch(env: Env, emit: Callable[[dict[str, Any]], None], count: int | None = None,
          timeout: float | None = None, interval: float = 1.0) -> int:
    """Stream events to ``emit`` until ``count`` events or ``timeout`` s; returns the count."""
    from haflow.coordinator.cluster.corosync_remote import module_argv

    seen = 0
    deadline = None if timeout is None else time.monotonic() + timeout

    def out(event: dict[str, Any]) -> bool:
        nonlocal seen
        event.setdefault("time", round(time.time(), 3))
        emit(event)
        seen += 1
        return count is not None and seen >= count

    # the corosync callbacks run in a child inside the node; closing its stdin stops it
    child = subprocess.Popen(module_argv(env, "--events"), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdin is not None
    fd = child.stdout.fileno()
    pending = b""
    try:
        last = pacemaker_view(env)
        next_poll = time.monotonic() + interval
        while deadline is None or time.monotonic() < deadline:
            wait = next_poll - time.monotonic()
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], max(0.0, wait))
            if ready:
                # raw reads: a buffered readline() could hide a second line from select()
                chunk = os.read(fd, 65536)
                if not chunk:  # the child ended: say why
                    child.wait()
                    for line in pending.splitlines():
                        child_error(line)
                    raise_child_died(env, child.returncode)
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    data = child_error(line)
                    if out(data):
                        return seen
            if time.monotonic() >= next_poll:
                now = pacemaker_view(env)
                for event in resource_changes(last, now):
                    if out(event):
                        return seen
                last = now
                next_poll = time.monotonic() + interval
        return seen
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()  # our own child, by its Popen handle
            child.wait()
        child.stdout.close()


def child_error(line: bytes) -> dict[str, Any]:
    """One JSON line of the event child; its errors (e.g. no corosync) are raised here."""
    from haflow.coordinator.reports import HaflowError, Report

    data: dict[str, Any] = json.loads(line)
    if "errors" in data:
        raise HaflowError(*[Report(**{k: v for k, v in r.items() if k != "severity"})
                            for r in data["errors"]])
    return data


def raise_child_died(env: Env, code: int) -> None:
    from haflow.coordinator.reports import error

    raise error("OPERATION_FAILED", f"the corosync event stream on {env.description} "
                f"ended (exit {code})")


def cmd_watch(args: argparse.Namespace) -> int:
    fmt = args.output_as

    def emit(event: dict[str, Any]) -> None:
        text = json.dumps(event, sort_keys=True) if fmt == "json" else render_event(event)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    watch(from_args(args), emit, args.count, args.timeout, args.interval)
    return 0
