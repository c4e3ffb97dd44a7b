"""What every Corosync client handle shares: finalize always, fd, dispatch.

Corosync's client libraries all work the same way: ``X_initialize`` gives a
handle, ``X_fd_get`` a file descriptor that becomes readable when callbacks
are pending, ``X_dispatch`` runs them, ``X_finalize`` frees the handle (and its
IPC connection). A :class:`Handle` is a context manager that always finalizes
(also when garbage-collected), and it can be driven from a plain select/poll
loop (``fileno()`` + ``dispatch()``) or block (``dispatch_blocking()``).
"""

from __future__ import annotations

import select
import time
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar, Self

from haflow.coordinator.corosync import _ffi
from haflow.coordinator.corosync.errors import CorosyncError, check, check_init

# cs_dispatch_flags_t
DISPATCH_ONE = 1
DISPATCH_ALL = 2
DISPATCH_BLOCKING = 3
DISPATCH_ONE_NONBLOCKING = 4
# CS_TRACK_* (corotypes.h)
TRACK_CURRENT = 1
TRACK_CHANGES = 2
TRACK_CHANGES_ONLY = 4

# live handles by (service, handle value): how C callbacks find their Python object
_live: weakref.WeakValueDictionary[tuple[str, int], Handle] = weakref.WeakValueDictionary()


def lookup(service: str, handle: int) -> Handle | None:
    return _live.get((service, int(handle)))


def _finalize(finalize: Callable[[int], int], handle: int) -> None:
    finalize(handle)  # errors here (corosync gone) leave nothing to free on our side


class Handle:
    """A Corosync client handle of one service (``cmap``, ``quorum``, ``cpg``...)."""

    service: ClassVar[str]
    prefix: ClassVar[str]  # C function prefix: cmap_, quorum_, corosync_cfg_ ...

    def __init__(self) -> None:
        self.ffi, self.lib = _ffi.load()
        self._handle: int | None = None
        self._closer: weakref.finalize[Any, Any] | None = None
        self._callback_error: BaseException | None = None

    # -- life cycle ----------------------------------------------------------

    def _opened(self, call: str, rc: int, handle_ptr: Any) -> None:
        """Record a handle just returned by ``call``; raise if it failed."""
        check_init(call, rc)
        self._handle = int(handle_ptr[0])
        _live[(self.service, self._handle)] = self
        finalize = getattr(self.lib, self.prefix + "finalize")
        self._closer = weakref.finalize(self, _finalize, finalize, self._handle)

    @property
    def handle(self) -> int:
        if self._handle is None:
            raise CorosyncError(f"{self.prefix}handle", 9, f"the {self.service} handle is closed")
        return self._handle

    @property
    def closed(self) -> bool:
        return self._handle is None

    def close(self) -> None:
        """Finalize the handle (idempotent)."""
        if self._handle is None:
            return
        _live.pop((self.service, self._handle), None)
        self._handle = None
        if self._closer is not None:
            self._closer()
            self._closer = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- dispatch ------------------------------------------------------------

    def call(self, name: str, *args: Any) -> None:
        """Call ``<prefix><name>(handle, *args)`` and raise on anything but CS_OK."""
        fn = getattr(self.lib, self.prefix + name)
        check(self.prefix + name, fn(self.handle, *args))

    def fileno(self) -> int:
        """The fd that becomes readable when callbacks are pending (for select/poll)."""
        fd = self.ffi.new("int *")
        self.call("fd_get", fd)
        return int(fd[0])

    def dispatch(self, flags: int = DISPATCH_ALL) -> None:
        """Run pending callbacks (default: all pending, without blocking)."""
        self.call("dispatch", flags)
        self._raise_callback_error()

    def dispatch_blocking(self) -> None:
        """Block until at least one callback has run."""
        self.dispatch(DISPATCH_ONE)

    def wait(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` s for callbacks and run them; False if none came."""
        ready, _, _ = select.select([self.fileno()], [], [], timeout)
        if not ready:
            return False
        self.dispatch(DISPATCH_ALL)
        return True

    def run_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Dispatch until ``done()`` holds or ``timeout`` s pass; returns ``done()``."""
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return done()
            self.wait(left)
        return True

    # -- callbacks -----------------------------------------------------------

    def _deliver(self, fn: Callable[..., None] | None, *args: Any) -> None:
        """Run a user callback; an exception is re-raised from dispatch(), not lost in C."""
        if fn is None:
            return
        try:
            fn(*args)
        except BaseException as exc:  # re-raised after the C dispatch returns
            if self._callback_error is None:
                self._callback_error = exc

    def _raise_callback_error(self) -> None:
        exc, self._callback_error = self._callback_error, None
        if exc is not None:
            raise exc
