"""The cluster as a command may decide from it: a synced CIB (and crm_mon's view of it).

A node's CIB manager answers as soon as it starts, from its on-disk copy: after a
reboot (say, after its fencing) that copy has the configuration, an empty status
section and the node itself as DC, until the DC syncs it a few seconds later.
crm_mon on it shows every step stopped: workflows went back in time. So every
read here first checks the view it got (:func:`untrusted`): the local node has
joined, the DC is a member, there is quorum. Otherwise it reads again for a short,
bounded time, then fails naming the node and what it waits for.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from lxml import etree

from haflow.coordinator.cluster import livecib
from haflow.coordinator.cluster.env import Env
from haflow.coordinator.codes import Code
from haflow.coordinator.reports import HaflowError, error

T = TypeVar("T")

SYNC_WAIT = 10.0  # seconds a read waits for its node to sync (seen: 2.3 s after a boot)
SYNC_POLL = 0.5
# the node's own id, asked of corosync, its name then read from the CIB. Not
# ``crm_node --name``: it asks the controller, which answers it only after a second
# while it handles a configuration change (measured on a lab node: 1.0 s after every
# CIB write, 0.01 s otherwise), so every command after a submit waited for it
LOCAL_NODE = ("corosync-cmapctl", "-g", "runtime.votequorum.this_node_id")
# who is not root cannot ask corosync (its IPC answers root and its uidgid entries): a
# member of haclient asks the controller, slower after a CIB write, but allowed
LOCAL_NODE_NAME = ("crm_node", "--name")
# only the sections read here: node history and the rest cost crm_mon a quarter of its
# time on 500 running steps
MON = ("crm_mon", "--output-as=xml", "--inactive", "--exclude=all", "--include=nodes,resources")
# crm_mon on the very CIB just read (CIB_file): status comes from one consistent
# snapshot, and the CIB manager serves one copy instead of two at once (500 running
# steps on a lab node: 0.34 s instead of 0.45 s for the two calls side by side). The
# snapshot is crm_mon's stdin, not a file of the node's: a copy under mktemp outlived a
# reader killed on a timeout (its shell's EXIT trap never ran)
ON_SNAPSHOT = {"CIB_file": "/dev/stdin"}
TRUE = ("true", "yes", "on", "y", "1")  # Pacemaker's crm_is_true


def untrusted(cib: etree._Element, node: str) -> str | None:
    """Why ``cib``, as read on ``node``, is no view to decide from; None if it is."""
    state = _node_state(cib, "uname", node)
    if state is None:
        return f"{node} has not joined the cluster yet (no node_state of it)"
    problems = _not_joined(state)
    if problems:
        return f"{node} has not joined the cluster yet ({', '.join(problems)})"
    dc_id = cib.get("dc-uuid")
    if not dc_id:
        return "no DC elected yet"
    dc = _node_state(cib, "id", dc_id)
    if dc is None or _not_joined(dc):
        return f"the DC {_node_name(cib, dc_id)} is not a member"
    if cib.get("have-quorum", "0").lower() not in TRUE:
        return "no quorum"
    return None


def _node_state(cib: etree._Element, attribute: str, value: str) -> etree._Element | None:
    return next((s for s in cib.iterfind("status/node_state") if s.get(attribute) == value),
                None)


def _not_joined(state: etree._Element) -> list[str]:
    """What of membership, controller and join a node_state lacks (``crmd=offline``, ...)."""
    in_ccm, crmd, join = (state.get(a, "") for a in ("in_ccm", "crmd", "join"))
    # Pacemaker 2.1.7 and later record when a node joined instead of "true"/"online"
    problems = [] if in_ccm == "true" or _epoch(in_ccm) else [f"in_ccm={in_ccm or 'false'}"]
    problems += [] if crmd == "online" or _epoch(crmd) else [f"crmd={crmd or 'offline'}"]
    return problems + ([] if join == "member" else [f"join={join or 'down'}"])


def _epoch(value: str) -> bool:
    return value.isdigit() and int(value) > 0


def _node_name(cib: etree._Element, node_id: str) -> str:
    for element in (*cib.iterfind("status/node_state"), *cib.iterfind("configuration/nodes/node")):
        if element.get("id") == node_id and element.get("uname"):
            return element.get("uname", node_id)
    return node_id


def _local_node_id(result: subprocess.CompletedProcess[str]) -> str | None:
    """The node id in ``runtime.votequorum.this_node_id (u32) = 1``, or None."""
    value = result.stdout.strip().rpartition(" = ")[2]
    return value if result.returncode == 0 and value.isdigit() else None


def local_node(env: Env) -> tuple[str, ...]:
    """The command that tells the local node: corosync's node id, or the controller's name."""
    from haflow.coordinator.cluster.quorum import without_corosync_ipc

    return LOCAL_NODE_NAME if without_corosync_ipc(env) else LOCAL_NODE


def _judge(cib: etree._Element, local: subprocess.CompletedProcess[str]) -> str | None:
    """Why the CIB read beside corosync's local node id is no view to decide from, or None."""
    if tuple(local.args[:2]) == LOCAL_NODE_NAME:
        name = local.stdout.strip()
        if local.returncode != 0 or not name:
            return ("the controller does not name this node yet (crm_node --name: "
                    f"{(local.stderr or local.stdout).strip() or f'exit {local.returncode}'})")
        return untrusted(cib, name)
    node_id = _local_node_id(local)
    if node_id is None:
        return ("corosync does not answer yet (corosync-cmapctl: "
                f"{(local.stderr or local.stdout).strip() or f'exit {local.returncode}'})")
    return untrusted(cib, _node_name(cib, node_id))


def _until_trusted(env: Env, wait: float, read: Callable[[], tuple[str | None, T]]) -> T:
    deadline = time.monotonic() + wait
    while True:
        reason, value = read()
        if reason is None:
            return value
        if time.monotonic() >= deadline:
            raise not_synced(env, reason, wait)
        time.sleep(SYNC_POLL)


def not_synced(env: Env, reason: str, wait: float) -> HaflowError:
    """The error of a view that did not become trustworthy within ``wait`` seconds."""
    if reason == "no quorum":
        from haflow.coordinator.cluster.quorum import require_quorum

        try:  # Corosync agreeing: the error that names the partition's members
            require_quorum(env, "decide from the cluster's state")
        except HaflowError as exc:
            if exc.reports[0].code == Code.NO_QUORUM:
                return exc
    return error(Code.VIEW_NOT_SYNCED, f"not deciding from the view of {env.description}: "
                 f"{reason}; it did not sync within {wait:g} s (try again in a moment, or ask "
                 "another node)", details={"waiting_for": reason})


def query_with(env: Env, *also: Sequence[str], wait: float = SYNC_WAIT
               ) -> tuple[etree._Element, list[subprocess.CompletedProcess[str]]]:
    """The synced CIB, and what the read-only commands ``also`` printed, run beside it."""

    def read() -> tuple[str | None, tuple[etree._Element,
                                          list[subprocess.CompletedProcess[str]]]]:
        got, name, *others = env.run_together(livecib.QUERY, local_node(env), *also)
        cib = livecib.parse_query(env, got)
        return _judge(cib, name), (cib, others)

    return _until_trusted(env, wait, read)


def query(env: Env, wait: float = SYNC_WAIT) -> etree._Element:
    """The whole live CIB, once it is a synced view (else VIEW_NOT_SYNCED after ``wait`` s)."""
    return query_with(env, wait=wait)[0]


def unvalidated(cib_text: str) -> str:
    """The snapshot with ``validate-with="none"``: crm_mon on a CIB file checks it against
    Pacemaker's schema first (35 ms of its 165 ms on 500 running steps), which the CIB
    manager already did when it accepted every change; its output is the same."""
    end = cib_text.find(">")
    head = cib_text[:end]
    at = head.find(' validate-with="')
    if end < 0 or not head.lstrip().startswith("<cib") or at < 0:
        return cib_text
    close = head.find('"', at + len(' validate-with="'))
    return f'{head[:at]} validate-with="none"{cib_text[close + 1:]}'


def read_synced(env: Env, wait: float = SYNC_WAIT) -> tuple[etree._Element, str]:
    """The synced CIB, and the text it was parsed from (for :func:`mon_of`)."""

    def read() -> tuple[str | None, tuple[etree._Element, str]]:
        got, name = env.run_together(livecib.QUERY, local_node(env))
        cib = livecib.parse_query(env, got)
        return _judge(cib, name), (cib, got.stdout)

    return _until_trusted(env, wait, read)


def mon_of(env: Env, cib_text: str) -> etree._Element:
    """crm_mon's XML of the CIB ``cib_text`` (a snapshot :func:`read_synced` read)."""
    argv, process = _start_mon(env, cib_text)
    return _mon_xml(env, env.finish(process, argv))


def _start_mon(env: Env, cib_text: str) -> tuple[list[str], subprocess.Popen[str]]:
    argv = list(MON)
    with tempfile.TemporaryFile() as snapshot:
        snapshot.write(unvalidated(cib_text).encode())
        snapshot.seek(0)
        return argv, env.start(argv, stdin=snapshot, environ=ON_SNAPSHOT)


def _mon_xml(env: Env, result: subprocess.CompletedProcess[str]) -> etree._Element:
    try:
        return etree.fromstring(result.stdout.encode())
    except etree.XMLSyntaxError:
        raise livecib.cib_error("reading the cluster's status (crm_mon)", env,
                                result.returncode, result.stderr) from None


def read_live(env: Env, wait: float = SYNC_WAIT) -> tuple[etree._Element, etree._Element]:
    """(the synced CIB, crm_mon's XML of that same CIB) from ``env``'s node."""

    def read() -> tuple[str | None, tuple[etree._Element, etree._Element]]:
        got, name = env.run_together(livecib.QUERY, local_node(env))
        if got.returncode != 0:
            livecib.parse_query(env, got)  # raises the error that names the problem
        # crm_mon works on the snapshot (its stdin, a file) while this process parses it
        argv, process = _start_mon(env, got.stdout)
        try:
            cib = livecib.parse_query(env, got)
        finally:
            result = env.finish(process, argv)
        reason = _judge(cib, name)
        if reason is not None:
            return reason, (cib, cib)  # read again: crm_mon's view of it is of no use
        return None, (cib, _mon_xml(env, result))

    return _until_trusted(env, wait, read)
