"""cpg: closed process groups: join, membership changes with reasons, ordered messages."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from haflow.coordinator.corosync import _ffi
from haflow.coordinator.corosync.base import Handle, lookup
from haflow.coordinator.corosync.errors import CS_ERR_TRY_AGAIN, CorosyncError, check
from haflow.coordinator.corosync.quorum import RingId

REASONS = {0: "undefined", 1: "join", 2: "leave", 3: "nodedown", 4: "nodeup", 5: "procdown"}
MAX_NAME = 128


@dataclass(frozen=True)
class CpgAddress:
    nodeid: int
    pid: int
    reason: str


@dataclass(frozen=True)
class CpgMessage:
    group: str
    nodeid: int
    pid: int
    data: bytes


@dataclass(frozen=True)
class CpgConfchg:
    """A group's membership changed; ``left``/``joined`` carry the reason."""

    group: str
    members: tuple[CpgAddress, ...]
    left: tuple[CpgAddress, ...]
    joined: tuple[CpgAddress, ...]


@dataclass(frozen=True)
class CpgTotemConfchg:
    ring_id: RingId
    members: tuple[int, ...]


CpgEvent = CpgMessage | CpgConfchg | CpgTotemConfchg


def _addresses(ptr: Any, count: int) -> tuple[CpgAddress, ...]:
    return tuple(CpgAddress(int(ptr[i].nodeid), int(ptr[i].pid),
                            REASONS.get(ptr[i].reason, str(ptr[i].reason)))
                 for i in range(count))


def _group(ffi: Any, name: Any) -> str:
    return bytes(ffi.buffer(name.value, name.length)).decode(errors="replace")


@cache
def _register() -> None:
    ffi, _lib = _ffi.load()

    @ffi.def_extern()  # type: ignore[untyped-decorator]
    def _cpg_deliver(handle: int, name: Any, nodeid: int, pid: int, msg: Any,
                     length: int) -> None:
        obj = lookup("cpg", handle)
        if isinstance(obj, Cpg):
            obj._event(CpgMessage(_group(ffi, name), nodeid, pid,
                                  bytes(ffi.buffer(msg, length))))

    @ffi.def_extern()  # type: ignore[untyped-decorator]
    def _cpg_confchg(handle: int, name: Any, members: Any, n_members: int, left: Any,
                     n_left: int, joined: Any, n_joined: int) -> None:
        obj = lookup("cpg", handle)
        if isinstance(obj, Cpg):
            obj._event(CpgConfchg(_group(ffi, name), _addresses(members, n_members),
                                  _addresses(left, n_left), _addresses(joined, n_joined)))

    @ffi.def_extern()  # type: ignore[untyped-decorator]
    def _cpg_totem_confchg(handle: int, ring: Any, count: int, members: Any) -> None:
        obj = lookup("cpg", handle)
        if isinstance(obj, Cpg):
            ids = tuple(int(members[i]) for i in range(count))
            obj._event(CpgTotemConfchg(RingId(ring.nodeid, ring.seq), ids))


class Cpg(Handle):
    """A cpg connection. Events go to ``on_event`` if given, else queue in ``events``."""

    service = "cpg"
    prefix = "cpg_"

    def __init__(self, on_event: Callable[[CpgEvent], None] | None = None,
                 totem: bool = False) -> None:
        super().__init__()
        _register()
        self.on_event = on_event
        self.events: deque[CpgEvent] = deque()
        ffi, lib = self.ffi, self.lib
        data = ffi.new("cpg_model_v1_data_t *")
        data.model = lib.CPG_MODEL_V1
        data.cpg_deliver_fn = lib._cpg_deliver
        data.cpg_confchg_fn = lib._cpg_confchg
        data.cpg_totem_confchg_fn = lib._cpg_totem_confchg if totem else ffi.NULL
        data.flags = lib.CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF if totem else 0
        handle = ffi.new("cpg_handle_t *")
        rc = lib.cpg_model_initialize(handle, lib.CPG_MODEL_V1,
                                      ffi.cast("cpg_model_data_t *", data), ffi.NULL)
        self._opened("cpg_model_initialize", rc, handle)
        self.groups: list[str] = []

    def _event(self, event: CpgEvent) -> None:
        if self.on_event is None:
            self.events.append(event)
        else:
            self._deliver(self.on_event, event)

    def _name(self, group: str) -> Any:
        raw = group.encode()
        if not raw or len(raw) > MAX_NAME:
            raise CorosyncError("cpg_join", 13, f"cpg group name must be 1..{MAX_NAME} bytes")
        name = self.ffi.new("struct cpg_name *")
        name.length = len(raw)
        self.ffi.memmove(name.value, raw, len(raw))
        return name

    def join(self, group: str) -> None:
        self._retry("join", self._name(group))
        self.groups.append(group)

    def leave(self, group: str) -> None:
        self._retry("leave", self._name(group))
        self.groups.remove(group)

    def send(self, data: bytes, timeout: float = 10.0) -> None:
        """Multicast ``data`` to the joined group (agreed order); waits out flow control."""
        buf = self.ffi.from_buffer(data)
        iov = self.ffi.new("struct iovec *")
        iov.iov_base = buf
        iov.iov_len = len(data)
        self._retry("mcast_joined", self.lib.CPG_TYPE_AGREED, iov, 1, timeout=timeout)

    def _retry(self, name: str, *args: Any, timeout: float = 10.0) -> None:
        """Corosync answers CS_ERR_TRY_AGAIN while it syncs or under flow control."""
        deadline = time.monotonic() + timeout
        fn = getattr(self.lib, "cpg_" + name)
        while True:
            rc = fn(self.handle, *args)
            if rc != CS_ERR_TRY_AGAIN or time.monotonic() > deadline:
                check("cpg_" + name, rc)
                return
            time.sleep(0.01)

    def members(self, group: str) -> tuple[CpgAddress, ...]:
        ffi = self.ffi
        members = ffi.new("struct cpg_address[]", self.lib.CPG_MEMBERS_MAX)
        count = ffi.new("int *", self.lib.CPG_MEMBERS_MAX)
        self.call("membership_get", self._name(group), members, count)
        return _addresses(members, count[0])

    def local_nodeid(self) -> int:
        value = self.ffi.new("unsigned int *")
        self.call("local_get", value)
        return int(value[0])

    def max_message_size(self) -> int:
        value = self.ffi.new("uint32_t *")
        self.call("max_atomic_msgsize_get", value)
        return int(value[0])
