"""The CIB's status section, indexed once: each resource's operation history on every
node (``exit-reason``, ``rc-code``, ``last-rc-change``, ``exec-time``) and each node's
transient attributes (fail counts, heartbeats).

Operations stay elements until a step needs one (its last failure, its last
start): converting each of a 500-step workflow's thousand operations up front
cost more than the whole state machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from haflow.coordinator.status.model import INFINITY

if TYPE_CHECKING:
    from lxml import etree

PENDING_RC = 193  # rc-code of an operation in flight (op-status -1)
FAIL_COUNT_PREFIX = "fail-count-"  # fail-count-RESOURCE#OPERATION_INTERVAL
LAST_FAILURE_SUFFIX = "_last_failure_0"

RC_TEXT = {0: "ok", 1: "error", 2: "invalid parameter", 3: "unimplemented feature",
           4: "insufficient privileges", 5: "not installed", 6: "not configured",
           7: "not running", 8: "running (promoted)", 9: "failed (promoted)",
           190: "degraded", 191: "degraded (promoted)", 193: "pending"}


def to_int(text: str | None, default: int = 0) -> int:
    """A number as Pacemaker writes it (INFINITY included); ``default`` if none."""
    if text is None or text == "":
        return default
    if text.upper() in ("INFINITY", "+INFINITY"):
        return INFINITY
    try:
        return int(text)
    except ValueError:
        return default


@dataclass
class Op:
    id: str
    operation: str
    interval: int  # ms
    rc: int
    op_status: int
    exit_reason: str
    last_rc_change: float | None
    exec_time: int  # ms
    node: str
    call_id: int

    @property
    def pending(self) -> bool:
        return self.op_status == -1 or self.rc == PENDING_RC

    def label(self) -> str:
        if self.operation == "monitor" and self.interval:
            return f"monitor ({self.interval // 1000}s)"
        if self.operation == "monitor":
            return "probe"
        return self.operation


def to_op(op: etree._Element, node: str) -> Op:
    change = op.get("last-rc-change")
    return Op(op.get("id", ""), op.get("operation", ""), to_int(op.get("interval")),
              to_int(op.get("rc-code")), to_int(op.get("op-status")),
              op.get("exit-reason", ""), float(change) if change else None,
              to_int(op.get("exec-time")), node, to_int(op.get("call-id")))


def _changed(entry: tuple[str, etree._Element]) -> float:
    change = entry[1].get("last-rc-change")
    return float(change) if change else 0


class NodeStates:
    """The status section of one CIB, by resource and by node (node order: the CIB's;
    several node_state entries of one node name count as one node)."""

    def __init__(self, cib: etree._Element) -> None:
        by_node: dict[str, dict[str, list[etree._Element]]] = {}
        # node -> transient attributes (the last of a name wins)
        self.attrs: dict[str, dict[str, str]] = {}
        for state in cib.iterfind("status/node_state"):
            node = state.get("uname", state.get("id", ""))
            ops = by_node.setdefault(node, {})
            attrs = self.attrs.setdefault(node, {})
            for rsc in state.iterfind("lrm/lrm_resources/lrm_resource"):
                ops.setdefault(rsc.get("id", ""), []).extend(rsc.iterfind("lrm_rsc_op"))
            for nvpair in state.iterfind("transient_attributes/instance_attributes/nvpair"):
                attrs[nvpair.get("name", "")] = nvpair.get("value", "")
        # resource -> (node, operation), node by node
        self._ops: dict[str, list[tuple[str, etree._Element]]] = {}
        for node, resources in by_node.items():
            for rid, elements in resources.items():
                self._ops.setdefault(rid, []).extend((node, op) for op in elements)
        self._fail_counts = self._count_failures()

    def _count_failures(self) -> dict[str, dict[str, int]]:
        sums: dict[str, dict[str, int]] = {}
        for node, attrs in self.attrs.items():
            for name, value in attrs.items():
                if not name.startswith(FAIL_COUNT_PREFIX):
                    continue
                rid, sep, _ = name[len(FAIL_COUNT_PREFIX):].partition("#")
                if sep:  # ids cannot hold a '#': it ends the resource's id
                    per_node = sums.setdefault(rid, {})
                    per_node[node] = per_node.get(node, 0) + to_int(value)
        return {rid: {node: min(total, INFINITY) for node, total in per_node.items() if total}
                for rid, per_node in sums.items()}

    def fail_counts(self, rid: str) -> dict[str, int]:
        """node -> the resource's fail count there (summed over its operations)."""
        return dict(self._fail_counts.get(rid, {}))

    def ops(self, rid: str) -> list[Op]:
        """Every recorded operation of ``rid``, node by node."""
        return [to_op(op, node) for node, op in self._ops.get(rid, ())]

    def last_failure(self, rid: str) -> Op | None:
        found = [e for e in self._ops.get(rid, ())
                 if e[1].get("id", "").endswith(LAST_FAILURE_SUFFIX)]
        if not found:
            return None
        node, op = max(found, key=_changed)
        return to_op(op, node)

    def last_start(self, rid: str, node: str | None) -> Op | None:
        """The last completed or pending start of ``rid`` (on ``node`` if given)."""
        found = self._last_start(rid, node)
        return None if found is None else to_op(found[1], found[0])

    def start_time(self, rid: str, node: str | None) -> tuple[float, float] | None:
        """(when, seconds it took) of ``rid``'s last start (on ``node`` if given), if that
        start has a last-rc-change: when the start began (a 3 s start read 3 s too early
        when the duration was taken off it, before the submit)."""
        found = self._last_start(rid, node)
        change = None if found is None else found[1].get("last-rc-change")
        if found is None or not change:
            return None
        return float(change), to_int(found[1].get("exec-time")) / 1000

    def _last_start(self, rid: str, node: str | None) -> tuple[str, etree._Element] | None:
        found = [e for e in self._ops.get(rid, ()) if node in (None, e[0])
                 and e[1].get("operation") == "start"
                 and not e[1].get("id", "").endswith(LAST_FAILURE_SUFFIX)]
        return max(found, key=_changed) if found else None
