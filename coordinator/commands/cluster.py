"""``cluster`` (one view of Corosync and Pacemaker) and ``watch`` (live events) as data."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from collections.abc import Callable
from typing import Any

from haflow.coordinator.cluster.env import Env
from haflow.encoding.ids import split_step_id


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
    from haflow.coordinator.codes import Code
    from haflow.coordinator.reports import error

    raise error(Code.OPERATION_FAILED, f"the corosync event stream on {env.description} "
                f"ended (exit {code})")
