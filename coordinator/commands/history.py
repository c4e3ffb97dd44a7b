"""``history``: what ran where and when, with results, and the fencings among it.

Where the history lives, and why there:

- Step events are written by haflow's alert agent (agents/alert/agent.py)
  into the CIB, as records (haflow.encoding.record) in a meta attribute set of the
  workflow's root primitive. The CIB is replicated by Corosync to
  every node, so the history survives the loss of any single node. Pacemaker's
  own operation history in the status section does not: it keeps only the
  last operation and last failure per resource and node, and the DC erases a
  node's part when that node is fenced or leaves. A file on each node would
  need every node up to be complete, and there is no shared storage.
- Fencing events come from Pacemaker's fencing history (``stonith_admin
  --history '*'``), which the fencers replicate among themselves, and from
  the alert agent, which records a fencing of a node in the history of each
  workflow that did something there (the fencer's history was seen to lose
  the controller's fencings after the fencer on the asking node restarted).
  haflow shows every fencing during the workflow's life, of any node.

The history goes with the workflow when it is removed.
"""

from __future__ import annotations

import calendar
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from haflow.coordinator.cluster import live_view
from haflow.coordinator.commands.workflow_cib import require_workflow
from haflow.encoding import read
from haflow.encoding.record import FENCING_STEP, Event

if TYPE_CHECKING:
    from haflow.coordinator.cluster.env import Env


@dataclass(frozen=True)
class History:
    events: list[Event]
    # why the fencing history could not be read (then no fencing is shown), or None
    fencing_unreadable: str | None = None


def workflow_history(env: Env, workflow: str) -> History:
    """The workflow's events from the CIB, merged with the fencer's history."""
    cib, (fencing,) = live_view.query_with(env, FENCING_HISTORY)
    require_workflow(cib, workflow)
    fence_xml, problem = read_fencing(env, fencing)
    return History(history(cib, fence_xml, workflow), problem)


def _fence_time(text: str) -> float | None:
    # stonith_admin prints e.g. "2026-11-26 05:52:27Z" (UTC); older ones a ctime string
    for fmt in ("%Y-%m-%d %H:%M:%SZ", "%Y-%m-%d %H:%M:%S", "%a %b %d %H:%M:%S %Y"):
        try:
            return float(calendar.timegm(time.strptime(text.strip(), fmt)))
        except ValueError:
            continue
    return None


# the alert's time and the fencer's "completed" (whole seconds) of one fencing
SAME_FENCING_S = 30.0


def fencing_events(history: etree._Element, nodes: set[str] | None = None) -> list[Event]:
    """Fencing actions (against ``nodes``, if given) from ``stonith_admin --history
    --output-as=xml``."""
    out = []
    for event in history.iter("fence_event"):
        target = event.get("target", "")
        if nodes is not None and target not in nodes:
            continue
        stamp = _fence_time(event.get("completed") or event.get("completed-time") or "")
        status = event.get("status", "")
        by = event.get("delegate") or event.get("origin") or "?"
        text = f"{event.get('action', 'fence')} of {target} by {by} for " \
            f"{event.get('client', '?')}: {status}"
        if event.get("exit-reason"):
            text += f" ({event.get('exit-reason')})"
        out.append(Event(stamp or 0.0, target, FENCING_STEP, event.get("action", "fence"),
                         0 if status == "success" else 1, 0, status or "unknown", text))
    return out


def history(cib: etree._Element, fence_xml: etree._Element | None,
            workflow: str) -> list[Event]:
    """Step events and the fencing during the workflow's life, in time order.

    Fencing before the workflow's first event is left out: that node carried
    none of its steps then.
    """
    events = read.events(cib, workflow)
    if fence_xml is not None and events:
        born = min(e.time for e in events)
        # the alert agent's record of a fencing and the fencer's are the same fencing
        recorded = [e for e in events if e.step == FENCING_STEP]
        # a fencing whose time could not be read (0) is kept: better shown than lost
        events += [e for e in fencing_events(fence_xml)
                   if (not e.time or e.time >= born) and not any(
                       r.node == e.node and abs(r.time - e.time) < SAME_FENCING_S
                       for r in recorded)]
    return sorted(events, key=lambda e: e.time)


FENCING_HISTORY = ("stonith_admin", "--history", "*", "--output-as=xml")
FENCING_ATTEMPTS = 3


def parse_fencing(result: subprocess.CompletedProcess[str]) -> etree._Element | str:
    """The fencer's history, or why it could not be read (a busy fencer answers
    with an error status and no events: that is not an empty history)."""
    try:
        xml = etree.fromstring(result.stdout.encode())
    except etree.XMLSyntaxError:
        return (result.stderr.strip() or f"stonith_admin exited {result.returncode}")[-300:]
    status = xml.find("status")
    if result.returncode != 0 or (status is not None and status.get("code", "0") != "0"):
        message = status.get("message") if status is not None else None
        return (message or result.stderr.strip() or f"exit {result.returncode}")[-300:]
    return xml


def read_fencing(env: Env, first: subprocess.CompletedProcess[str] | None = None
                 ) -> tuple[etree._Element | None, str | None]:
    """(the fencing history, None), or (None, why it could not be read) after a few tries."""
    problem = ""
    for attempt in range(FENCING_ATTEMPTS):
        result = first if attempt == 0 and first is not None else env.run(list(FENCING_HISTORY))
        found = parse_fencing(result)
        if not isinstance(found, str):
            return found, None
        problem = found
        if attempt + 1 < FENCING_ATTEMPTS:
            time.sleep(1)  # a fencer busy or restarting answers again in a moment
    return None, problem
