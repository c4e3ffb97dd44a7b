"""cmap: Corosync's configuration and runtime key/value map, typed, with tracking."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from haflow.coordinator.corosync import _ffi
from haflow.coordinator.corosync.base import Handle, lookup
from haflow.coordinator.corosync.errors import (
    CS_ERR_INVALID_PARAM,
    CorosyncError,
    check,
    cs_name,
)

Value = int | float | str | bytes

# cmap_value_types_t -> (name, struct format)
TYPES: dict[int, tuple[str, str]] = {
    1: ("int8", "b"), 2: ("uint8", "B"), 3: ("int16", "h"), 4: ("uint16", "H"),
    5: ("int32", "i"), 6: ("uint32", "I"), 7: ("int64", "q"), 8: ("uint64", "Q"),
    9: ("float", "f"), 10: ("double", "d"), 11: ("string", ""), 12: ("binary", ""),
}  # fmt: skip
TRACK_DELETE = 1
TRACK_MODIFY = 2
TRACK_ADD = 4
TRACK_PREFIX = 8
EVENTS = {TRACK_ADD: "add", TRACK_DELETE: "delete", TRACK_MODIFY: "modify"}
MAPS = {"icmap": 0, "stats": 1}


def decode(ffi: Any, type_code: int, data: Any, length: int) -> Value:
    """A C value of cmap type ``type_code`` as a Python value."""
    raw = bytes(ffi.buffer(data, length)) if length else b""
    name, fmt = TYPES.get(type_code, ("binary", ""))
    if name == "string":
        return raw.split(b"\0", 1)[0].decode(errors="replace")
    if fmt:
        return struct.unpack("=" + fmt, raw[: struct.calcsize(fmt)])[0]  # type: ignore[no-any-return]
    return raw


def notify_value(ffi: Any, value: Any) -> Value | None:
    """A tracked value, None where there is none (the old value of an add, new of a delete)."""
    if value.data == ffi.NULL or int(value.type) not in TYPES:
        return None
    return decode(ffi, value.type, value.data, value.len)


@dataclass(frozen=True)
class CmapEvent:
    """A tracked key changed: ``event`` is add, delete or modify."""

    event: str
    key: str
    new: Value | None
    old: Value | None


CmapCallback = Callable[[CmapEvent], None]


@cache
def _register() -> None:
    ffi, _lib = _ffi.load()

    @ffi.def_extern()  # type: ignore[untyped-decorator]
    def _cmap_notify(handle: int, track: int, event: int, key: Any, new: Any, old: Any,
                     _user: Any) -> None:
        obj = lookup("cmap", handle)
        if not isinstance(obj, Cmap):
            return
        kind = next((n for bit, n in EVENTS.items() if event & bit), str(event))
        new_v, old_v = notify_value(ffi, new), notify_value(ffi, old)
        fn = obj._tracks.get(int(track))
        obj._deliver(fn, CmapEvent(kind, ffi.string(key).decode(), new_v, old_v))


class Cmap(Handle):
    """A connection to cmap (``map="stats"`` for the statistics map)."""

    service = "cmap"
    prefix = "cmap_"

    def __init__(self, map: str = "icmap") -> None:
        super().__init__()
        _register()
        self._tracks: dict[int, CmapCallback] = {}
        self._buf = self.ffi.new("char[]", 1024)  # reused for small values: fewer allocations
        handle = self.ffi.new("cmap_handle_t *")
        self._opened("cmap_initialize_map", self.lib.cmap_initialize_map(handle, MAPS[map]),
                     handle)

    def get_typed(self, key: str) -> tuple[str, Value]:
        """``(type name, value)`` of ``key``; CS_ERR_NOT_EXIST if there is no such key."""
        ffi, lib = self.ffi, self.lib
        ckey = key.encode()
        length = ffi.new("size_t *", len(self._buf))
        ctype = ffi.new("cmap_value_types_t *")
        rc = lib.cmap_get(self.handle, ckey, self._buf, length, ctype)
        buf = self._buf
        if rc == CS_ERR_INVALID_PARAM:  # value larger than the buffer: ask its size first
            check("cmap_get", lib.cmap_get(self.handle, ckey, ffi.NULL, length, ctype))
            buf = ffi.new("char[]", length[0])
            rc = lib.cmap_get(self.handle, ckey, buf, length, ctype)
        if rc != 1:
            raise CorosyncError("cmap_get", rc, f"cmap_get({key!r}) failed: {cs_name(rc)}")
        return TYPES.get(int(ctype[0]), ("binary", ""))[0], decode(ffi, ctype[0], buf, length[0])

    def get(self, key: str, default: Value | None = None) -> Value | None:
        """The value of ``key``, or ``default`` when it does not exist."""
        try:
            return self.get_typed(key)[1]
        except CorosyncError as exc:
            if exc.cs_error == "CS_ERR_NOT_EXIST":
                return default
            raise

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Key names starting with ``prefix``, in cmap's order."""
        ffi, lib = self.ffi, self.lib
        it = ffi.new("cmap_iter_handle_t *")
        check("cmap_iter_init", lib.cmap_iter_init(self.handle, prefix.encode() or ffi.NULL, it))
        name = ffi.new("char[]", 256)
        length = ffi.new("size_t *")
        ctype = ffi.new("cmap_value_types_t *")
        try:
            while True:
                rc = lib.cmap_iter_next(self.handle, it[0], name, length, ctype)
                if rc in (17, 27):  # CS_ERR_NO_SECTIONS (or NAME_NOT_FOUND) ends the walk
                    return
                check("cmap_iter_next", rc)
                yield ffi.string(name).decode()
        finally:
            lib.cmap_iter_finalize(self.handle, it[0])

    def __iter__(self) -> Iterator[str]:
        return self.keys()

    def items(self, prefix: str = "") -> Iterator[tuple[str, Value]]:
        """``(key, value)`` for every key under ``prefix`` (keys deleted meanwhile skipped)."""
        for key in list(self.keys(prefix)):
            try:
                yield key, self.get_typed(key)[1]
            except CorosyncError as exc:
                if exc.cs_error != "CS_ERR_NOT_EXIST":
                    raise

    def as_dict(self, prefix: str = "") -> dict[str, Value]:
        return dict(self.items(prefix))

    def track(self, key: str, callback: CmapCallback, prefix: bool = True,
              events: int = TRACK_ADD | TRACK_DELETE | TRACK_MODIFY) -> int:
        """Call ``callback`` (from dispatch) when ``key`` (or keys under it) change."""
        flags = events | (TRACK_PREFIX if prefix else 0)
        th = self.ffi.new("cmap_track_handle_t *")
        check("cmap_track_add", self.lib.cmap_track_add(
            self.handle, key.encode(), flags, self.lib._cmap_notify, self.ffi.NULL, th))
        self._tracks[int(th[0])] = callback
        return int(th[0])

    def untrack(self, track_handle: int) -> None:
        self._tracks.pop(track_handle, None)
        check("cmap_track_delete", self.lib.cmap_track_delete(self.handle, track_handle))
