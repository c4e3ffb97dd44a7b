"""crm_mon's view (:class:`Mon`) read from the CIB's status section alone, when that is
all crm_mon would read there: a settled cluster.

crm_mon runs the scheduler's unpacking of the whole CIB to tell each resource's role
and flags: 0.23 s of a 0.55 s ``haflow status`` on 500 running steps. When every node
is a joined member and every recorded operation of every primitive completed with the
result it was meant to have (nothing pending, failed, migrating or unmanaged), what it
prints follows from the history alone: a primitive runs where its last start or probe
(by call id) found it running, and is stopped elsewhere. Anything else (a failure, an
action in flight, a node joining, maintenance, a remote node, a resource running twice)
answers None, and the caller asks crm_mon. tests/live/test_settled_view_tier0.py checks
this against crm_mon on every recorded CIB.
"""

from __future__ import annotations

import itertools
import re
from functools import cmp_to_key
from typing import TYPE_CHECKING

from haflow.coordinator.status.mon import Mon, MonResource

if TYPE_CHECKING:
    from lxml import etree

TRUE = ("true", "yes", "on", "y", "1")  # Pacemaker's crm_is_true
# meta attributes and node attributes under which crm_mon's answer is more than history
UNMANAGING = ("is-managed", "maintenance")
NODE_STATES = ("standby", "maintenance")
NOT_PLAIN = (*UNMANAGING, "remote-node", "container")  # a guest node, or unmanaged
# what a successful operation returns: start, stop and monitors 0 (OCF_SUCCESS); a
# probe may also find it stopped (7, OCF_NOT_RUNNING)
OK, NOT_RUNNING = "0", "7"
DIGITS = re.compile(r"[0-9]+")
ASCII_DIGITS = "0123456789"


def view_from_cib(cib: etree._Element) -> Mon | None:
    """The view crm_mon would print of ``cib``'s primitives and nodes, or None when it
    takes the scheduler to tell (see the module's docstring)."""
    online = _online_nodes(cib)
    if online is None or _unmanaged_somewhere(cib):
        return None
    primitives = {}
    for prim in cib.iterfind("configuration/resources/primitive"):
        if prim.get("template") or prim.get("type") == "remote" or any(
                n.get("name") in NOT_PLAIN for n in prim.iterfind("meta_attributes/nvpair")):
            return None
        primitives[prim.get("id", "")] = prim
    running: dict[str, list[str]] = {}
    for state in cib.iterfind("status/node_state"):
        node = state.get("uname", "")
        attrs = {n.get("name", ""): n.get("value", "") for n in
                 state.iterfind("transient_attributes/instance_attributes/nvpair")}
        if any(name.startswith(("fail-count-", "last-failure-")) for name in attrs):
            return None
        for rsc in state.iterfind("lrm/lrm_resources/lrm_resource"):
            rid = rsc.get("id", "")
            if rid not in primitives:
                continue  # an orphan, or an instance of a clone or group: not a step
            active = _runs(rsc)
            if active is None:
                return None
            if active:
                running.setdefault(rid, []).append(node)
    if any(len(nodes) > 1 for nodes in running.values()):
        return None  # active on several nodes: the scheduler decides what that means
    resources = {rid: MonResource("Started" if rid in running else "Stopped",
                                  rid in running, False, True, False,
                                  list(running.get(rid, ())))
                 for rid in primitives}
    return Mon(resources, online)


def _runs(rsc: etree._Element) -> bool | None:
    """Whether this history on one node leaves the resource running there; None when it
    is not a settled history (an operation pending, failed, or other than start, stop,
    monitor)."""
    last: tuple[int, bool] | None = None  # call id and outcome of the last start/stop/probe
    last_recurring = -1
    for op in rsc.iterfind("lrm_rsc_op"):
        if op.get("op-status") != "0" or op.get("id", "").endswith("_last_failure_0"):
            return None
        task, rc, interval = op.get("operation"), op.get("rc-code"), op.get("interval", "0")
        try:
            call = int(op.get("call-id", ""))
        except ValueError:
            return None
        if task == "monitor" and interval != "0":
            if rc != OK:
                return None
            last_recurring = max(last_recurring, call)
            continue
        if task in ("start", "stop") and rc == OK:
            outcome = task == "start"
        elif task == "monitor" and rc in (OK, NOT_RUNNING):
            outcome = rc == OK
        else:
            return None
        if last is None or call > last[0]:
            last = (call, outcome)
    if last is None or (last_recurring > last[0] and not last[1]):
        return None  # a monitor recorded after the resource stopped: not a settled history
    return last[1]


def _online_nodes(cib: etree._Element) -> list[str] | None:
    """The cluster nodes in crm_mon's order, if every configured one is a joined member
    with a node_state of its own and no standby or maintenance; else None."""
    names = []
    for node in cib.iterfind("configuration/nodes/node"):
        if node.get("type", "member") != "member" or any(
                n.get("name") in NODE_STATES for n in node.iterfind(".//nvpair")):
            return None
        names.append(node.get("uname", ""))
    states = {s.get("uname", ""): s for s in cib.iterfind("status/node_state")}
    if not names or sorted(names) != sorted(states) or len(set(names)) != len(names):
        return None
    for name in names:
        state = states[name]
        if state.get("remote_node") or not _member(state):
            return None
        for nvpair in state.iterfind("transient_attributes/instance_attributes/nvpair"):
            if nvpair.get("name") in NODE_STATES or \
                    (nvpair.get("name") == "shutdown" and nvpair.get("value") != "0"):
                return None
    ordered = sorted(names, key=cmp_to_key(node_name_order))
    if any(node_name_order(a, b) == 0 for a, b in itertools.pairwise(ordered)):
        return None  # names Pacemaker's order does not tell apart ("Node1", "node1")
    return ordered


def _member(state: etree._Element) -> bool:
    """A joined member, expected to stay (Pacemaker 2.1.7 and later record when it joined
    instead of "true"/"online")."""
    in_ccm, crmd = state.get("in_ccm", ""), state.get("crmd", "")
    return in_ccm in ("true", *_since(in_ccm)) and crmd in ("online", *_since(crmd)) and \
        state.get("join") == "member" and state.get("expected") == "member"


def _since(value: str) -> tuple[str, ...]:
    """``value`` itself if it is a join's epoch."""
    return (value,) if value.isdigit() and int(value) > 0 else ()


def node_name_order(a: str, b: str) -> int:
    """Pacemaker's order of node names (pcmk__numeric_strcasecmp, -1, 0 or 1): a run of
    digits against a run of digits by value (then the longer one last: 7 before 007),
    any other character against another without case."""
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i] in ASCII_DIGITS and b[j] in ASCII_DIGITS:
            digits_a, digits_b = DIGITS.match(a, i), DIGITS.match(b, j)
            assert digits_a is not None and digits_b is not None
            run_a, run_b = digits_a.group(), digits_b.group()
            if int(run_a) != int(run_b) or len(run_a) != len(run_b):
                return -1 if (int(run_a), len(run_a)) < (int(run_b), len(run_b)) else 1
            i, j = digits_a.end(), digits_b.end()
            continue
        if a[i].lower() != b[j].lower():
            return -1 if a[i].lower() < b[j].lower() else 1
        i, j = i + 1, j + 1
    return (i < len(a)) - (j < len(b))


def _unmanaged_somewhere(cib: etree._Element) -> bool:
    """Maintenance mode, or resources unmanaged by default."""
    for nvpair in cib.iterfind("configuration/crm_config/cluster_property_set/nvpair"):
        if nvpair.get("name") == "maintenance-mode" and \
                nvpair.get("value", "").lower() in TRUE:
            return True
    return any(n.get("name") in UNMANAGING
               for n in cib.iterfind("configuration/rsc_defaults/meta_attributes/nvpair"))
