"""quorum and votequorum: is this partition quorate, votes, membership, tracking."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from haflow.coordinator.corosync import _ffi
from haflow.coordinator.corosync.base import TRACK_CHANGES, TRACK_CURRENT, Handle, lookup
from haflow.coordinator.corosync.errors import check

# VOTEQUORUM_INFO_* (votequorum.h)
VQ_FLAGS = {
    1: "two_node", 2: "quorate", 4: "wait_for_all", 8: "last_man_standing",
    16: "auto_tie_breaker", 32: "allow_downscale", 64: "qdevice_registered",
    128: "qdevice_alive", 256: "qdevice_cast_vote", 512: "qdevice_master_wins",
}  # fmt: skip
NODE_STATES = {1: "member", 2: "dead", 3: "leaving"}


@dataclass(frozen=True)
class RingId:
    nodeid: int
    seq: int

    def __str__(self) -> str:
        return f"{self.nodeid:x}.{self.seq:x}"  # as corosync-quorumtool prints it


@dataclass(frozen=True)
class QuorumEvent:
    """The partition's quorum state: quorate or not, and who is in it."""

    quorate: bool
    ring_id: RingId
    members: tuple[int, ...]


@dataclass(frozen=True)
class MembershipEvent:
    """Membership changed: who is in, who joined, who left."""

    ring_id: RingId
    members: tuple[int, ...]
    joined: tuple[int, ...]
    left: tuple[int, ...]


def _ids(ptr: Any, count: int) -> tuple[int, ...]:
    return tuple(int(ptr[i]) for i in range(count))


@cache
def _register() -> None:
    ffi, _lib = _ffi.load()

    @ffi.def_extern()  # type: ignore[untyped-decorator]
    def _quorum_notify(handle: int, quorate: int, ring: Any, count: int, members: Any) -> None:
        obj = lookup("quorum", handle)
        if isinstance(obj, Quorum):
            event = QuorumEvent(bool(quorate), RingId(ring.nodeid, ring.seq),
                                _ids(members, count))
            obj.last_quorum = event
            obj._deliver(obj.on_quorum, event)

    @ffi.def_extern()  # type: ignore[untyped-decorator]
    def _quorum_nodelist_notify(handle: int, ring: Any, n_members: int, members: Any,
                                n_joined: int, joined: Any, n_left: int, left: Any) -> None:
        obj = lookup("quorum", handle)
        if isinstance(obj, Quorum):
            event = MembershipEvent(RingId(ring.nodeid, ring.seq), _ids(members, n_members),
                                    _ids(joined, n_joined), _ids(left, n_left))
            obj.last_membership = event
            obj._deliver(obj.on_membership, event)

    @ffi.def_extern()  # type: ignore[untyped-decorator]
    def _vq_quorum_notify(handle: int, _ctx: int, quorate: int, count: int, nodes: Any) -> None:
        obj = lookup("votequorum", handle)
        if isinstance(obj, VoteQuorum):
            states = {int(nodes[i].nodeid): NODE_STATES.get(nodes[i].state, str(nodes[i].state))
                      for i in range(count)}
            event = VoteQuorumEvent(bool(quorate), states)
            obj.last_quorum = event
            obj._deliver(obj.on_quorum, event)

    @ffi.def_extern()  # type: ignore[untyped-decorator]
    def _vq_nodelist_notify(handle: int, _ctx: int, ring: Any, count: int, nodes: Any) -> None:
        obj = lookup("votequorum", handle)
        if isinstance(obj, VoteQuorum):
            event = VoteNodelistEvent(RingId(ring.nodeid, ring.seq), _ids(nodes, count))
            obj.last_nodelist = event
            obj._deliver(obj.on_nodelist, event)

    @ffi.def_extern()  # type: ignore[untyped-decorator]
    def _vq_expected_notify(handle: int, _ctx: int, expected: int) -> None:
        obj = lookup("votequorum", handle)
        if isinstance(obj, VoteQuorum):
            obj._deliver(obj.on_expected_votes, int(expected))


class Quorum(Handle):
    """libquorum (model v1): quorate?, and quorum/membership change callbacks."""

    service = "quorum"
    prefix = "quorum_"

    def __init__(self, on_quorum: Callable[[QuorumEvent], None] | None = None,
                 on_membership: Callable[[MembershipEvent], None] | None = None) -> None:
        super().__init__()
        _register()
        self.on_quorum = on_quorum
        self.on_membership = on_membership
        self.last_quorum: QuorumEvent | None = None
        self.last_membership: MembershipEvent | None = None
        self._tracking = False
        ffi, lib = self.ffi, self.lib
        data = ffi.new("quorum_model_v1_data_t *")
        data.model = lib.QUORUM_MODEL_V1
        data.quorum_notify_fn = lib._quorum_notify
        data.nodelist_notify_fn = lib._quorum_nodelist_notify
        handle = ffi.new("quorum_handle_t *")
        qtype = ffi.new("uint32_t *")
        rc = lib.quorum_model_initialize(handle, lib.QUORUM_MODEL_V1,
                                         ffi.cast("quorum_model_data_t *", data), qtype, ffi.NULL)
        self._opened("quorum_model_initialize", rc, handle)
        # QUORUM_FREE: no quorum provider configured (every partition is "quorate")
        self.provider = "votequorum" if qtype[0] == lib.QUORUM_SET else "none"

    def quorate(self) -> bool:
        value = self.ffi.new("int *")
        self.call("getquorate", value)
        return bool(value[0])

    def track(self, current: bool = True) -> None:
        """Start callbacks on every change (and, with ``current``, once for now).

        Idempotent: corosync would add a second tracking entry for this connection.
        """
        if self._tracking:
            return
        self.call("trackstart", TRACK_CHANGES | (TRACK_CURRENT if current else 0))
        self._tracking = True

    def untrack(self) -> None:
        if self._tracking:
            self.call("trackstop")
            self._tracking = False

    def current(self, timeout: float = 5.0) -> QuorumEvent:
        """The partition's quorum and members now (one round trip of callbacks).

        While tracking, corosync refuses another trackstart (CS_ERR_EXIST) and keeps
        the state up to date through the callbacks: pending ones are dispatched and
        the latest state returned.
        """
        if self._tracking:
            self.dispatch()
            if self.last_quorum is not None:
                return self.last_quorum
        else:
            self.last_quorum = None
            self.call("trackstart", TRACK_CURRENT)
        # CS_TRACK_CURRENT alone registers no tracking: nothing to stop afterwards
        if not self.run_until(lambda: self.last_quorum is not None, timeout):
            check("quorum_dispatch", 5)  # CS_ERR_TIMEOUT
        assert self.last_quorum is not None
        return self.last_quorum


@dataclass(frozen=True)
class VoteInfo:
    """votequorum's view of one node (node 0: this node)."""

    node_id: int
    state: str
    votes: int
    expected_votes: int
    highest_expected: int
    total_votes: int
    quorum: int
    flags: tuple[str, ...]
    qdevice_votes: int
    qdevice_name: str

    @property
    def quorate(self) -> bool:
        return "quorate" in self.flags


@dataclass(frozen=True)
class VoteQuorumEvent:
    quorate: bool
    nodes: dict[int, str] = field(default_factory=dict)  # nodeid -> member/dead/leaving


@dataclass(frozen=True)
class VoteNodelistEvent:
    ring_id: RingId
    members: tuple[int, ...]


class VoteQuorum(Handle):
    """libvotequorum: votes, expected votes, flags, quorum and nodelist callbacks."""

    service = "votequorum"
    prefix = "votequorum_"

    def __init__(self, on_quorum: Callable[[VoteQuorumEvent], None] | None = None,
                 on_nodelist: Callable[[VoteNodelistEvent], None] | None = None,
                 on_expected_votes: Callable[[int], None] | None = None) -> None:
        super().__init__()
        _register()
        self.on_quorum = on_quorum
        self.on_nodelist = on_nodelist
        self.on_expected_votes = on_expected_votes
        self.last_quorum: VoteQuorumEvent | None = None
        self.last_nodelist: VoteNodelistEvent | None = None
        self._tracking = False
        ffi, lib = self.ffi, self.lib
        callbacks = ffi.new("votequorum_callbacks_t *")
        callbacks.votequorum_quorum_notify_fn = lib._vq_quorum_notify
        callbacks.votequorum_nodelist_notify_fn = lib._vq_nodelist_notify
        callbacks.votequorum_expectedvotes_notify_fn = lib._vq_expected_notify
        handle = ffi.new("votequorum_handle_t *")
        self._opened("votequorum_initialize", lib.votequorum_initialize(handle, callbacks),
                     handle)
        self._info = ffi.new("struct votequorum_info *")

    def info(self, nodeid: int = 0) -> VoteInfo:
        """votequorum's data for ``nodeid`` (0: this node); CS_ERR_NOT_EXIST if unknown."""
        ffi, i = self.ffi, self._info
        self.call("getinfo", nodeid, i)
        flags = tuple(name for bit, name in VQ_FLAGS.items() if i.flags & bit)
        return VoteInfo(
            node_id=i.node_id, state=NODE_STATES.get(i.node_state, str(i.node_state)),
            votes=i.node_votes, expected_votes=i.node_expected_votes,
            highest_expected=i.highest_expected, total_votes=i.total_votes, quorum=i.quorum,
            flags=flags, qdevice_votes=i.qdevice_votes,
            qdevice_name=ffi.string(i.qdevice_name).decode(errors="replace"),
        )  # fmt: skip

    def quorate(self) -> bool:
        return self.info().quorate

    def track(self, current: bool = True) -> None:
        """As Quorum.track(): callbacks on every change; idempotent."""
        if self._tracking:
            return
        self.call("trackstart", 0, TRACK_CHANGES | (TRACK_CURRENT if current else 0))
        self._tracking = True

    def untrack(self) -> None:
        if self._tracking:
            self.call("trackstop")
            self._tracking = False

    def current(self, timeout: float = 5.0) -> tuple[VoteQuorumEvent, VoteNodelistEvent]:
        """Quorum, node states and ring id now (as corosync-quorumtool gets them)."""
        if self._tracking:  # as Quorum.current(): the callbacks keep the state current
            self.dispatch()
            if self.last_quorum is not None and self.last_nodelist is not None:
                return self.last_quorum, self.last_nodelist
        else:
            self.last_quorum = None
            self.last_nodelist = None
            self.call("trackstart", 0, TRACK_CURRENT)
        # CS_TRACK_CURRENT alone registers no tracking: nothing to stop afterwards
        done = self.run_until(
            lambda: self.last_quorum is not None and self.last_nodelist is not None, timeout)
        if not done:
            check("votequorum_dispatch", 5)  # CS_ERR_TIMEOUT
        assert self.last_quorum is not None and self.last_nodelist is not None
        return self.last_quorum, self.last_nodelist
