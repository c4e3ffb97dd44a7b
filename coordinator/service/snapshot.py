"""One view of the cluster for every request, refreshed when the CIB changes.

A request never runs ``cibadmin --query``: it reads the last synced view (the CIB,
crm_mon's XML of it and the workflows' status computed from them). One ``crm_mon`` in
text mode stays connected to the CIB manager and prints a summary whenever the CIB
changes (it subscribes to the CIB's change notifications); each one makes the
refresher read the view again, at most once per change burst. The refresher also
reads every ``FALLBACK_S`` (heartbeats age without the CIB changing) and whenever a
command of this service wrote (so an answer after a POST shows its effect).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from haflow.coordinator.reports import HaflowError

if TYPE_CHECKING:
    from lxml import etree

    from haflow.coordinator.cluster.env import Env
    from haflow.coordinator.status import WorkflowStatus

FALLBACK_S = 15.0
# crm_mon's own refresh interval: a change refreshes at once, this only bounds silence
# crm_mon, writing to a pipe, marks each CIB change with a "." (no line break) and
# reprints its summary only now and then; its stdio would hold both in a 4 KiB buffer
# for minutes: unbuffered (stdbuf), read as bytes come
WATCH = ("stdbuf", "-o0", "crm_mon", "--output-as=text", "--interval=3600s",
         "--exclude=all", "--include=summary")
CHANGE_MARKS = (b".", b"Cluster Summary:")
WATCH_RESTART_S = 2.0


@dataclass
class View:
    """The cluster as the service last read it; ``error`` set when the read failed."""

    cib: etree._Element | None = None
    mon: etree._Element | None = None
    workflows: dict[str, WorkflowStatus] = field(default_factory=dict)
    version: int = 0  # counts reads that succeeded
    read_at: float = 0.0
    error: HaflowError | None = None


class Snapshot:
    """The shared view and the threads that keep it fresh."""

    def __init__(self, env: Env, on_view: Callable[[View, View], None] | None = None) -> None:
        self.env = env
        self.view = View()
        self.on_view = on_view
        self._changed = threading.Event()
        self._read_lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: subprocess.Popen[str] | None = None
        self.reads = 0  # cibadmin reads made (bench/api.py, tests)
        self.changes = 0  # change notifications seen

    # ---- reading --------------------------------------------------------------------------

    def refresh(self) -> View:
        """Read the cluster now (one read at a time; a caller that waited for another's read
        takes it if it began after the caller asked)."""
        asked = time.monotonic()
        with self._read_lock:
            if self.view.read_at >= asked and self.view.error is None:
                return self.view
            return self._read()

    def _read(self) -> View:
        from haflow.coordinator.cluster import live_view
        from haflow.coordinator.commands.status import all_statuses

        old = self.view
        started = time.monotonic()
        try:
            cib, mon = live_view.read_live(self.env, wait=2.0)
            found = {w.name: w for w in all_statuses(cib, mon)}
            new = View(cib, mon, found, old.version + 1, started)
        except HaflowError as exc:
            new = View(old.cib, old.mon, old.workflows, old.version, started, exc)
        self.reads += 1
        self.view = new
        if self.on_view is not None and new.error is None:
            self.on_view(old, new)
        return new

    def current(self) -> View:
        """The last view; the first call reads it."""
        if self.view.version == 0 and self.view.error is None:
            return self.refresh()
        return self.view

    # ---- keeping it fresh -----------------------------------------------------------------

    def start(self) -> None:
        threading.Thread(target=self._watch, name="haflow-cib-watch", daemon=True).start()
        threading.Thread(target=self._refresher, name="haflow-refresh", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._changed.set()
        watcher = self._watcher
        if watcher is not None and watcher.poll() is None:
            watcher.terminate()  # our own child, by its handle
            with contextlib.suppress(subprocess.TimeoutExpired):
                watcher.wait(timeout=5)

    def _watch(self) -> None:
        """crm_mon's summaries, one per CIB change: each wakes the refresher."""
        while not self._stop.is_set():
            try:
                self._watcher = process = self.env.start(list(WATCH))
            except HaflowError:
                time.sleep(WATCH_RESTART_S)
                continue
            assert process.stdout is not None
            fd = process.stdout.fileno()
            while not self._stop.is_set():
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                if any(mark in chunk for mark in CHANGE_MARKS):
                    self.changes += 1
                    self._changed.set()
            process.wait()
            self._changed.set()  # it ended (pacemaker restarting?): read what there is
            self._stop.wait(WATCH_RESTART_S)

    def _refresher(self) -> None:
        while not self._stop.is_set():
            self._changed.wait(FALLBACK_S)
            self._changed.clear()
            if self._stop.is_set():
                return
            self.refresh()

    def status(self) -> dict[str, Any]:
        view = self.view
        return {"version": view.version, "age": round(time.monotonic() - view.read_at, 3)
                if view.read_at else None, "reads": self.reads, "changes": self.changes,
                "error": None if view.error is None else
                [r.to_dict() for r in view.error.reports]}
