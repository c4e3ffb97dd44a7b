"""Progress and heartbeat of a running action, published as a transient node attribute.

While a start or an undo runs, the framework updates a transient attribute of
this node every few seconds (its name and value: encoding/heartbeat.py). The attribute is
replicated in the CIB's status section, so ``haflow status`` on any node can
show progress, and flag a step whose heartbeat stopped as stuck long before
its timeout fires. Transient attributes vanish when the node leaves.

An action shorter than one interval publishes nothing: every write of the attribute,
and its removal, is a CIB change that makes the controller abort its transition and
the scheduler run again, two per step when every action wrote (bench/throughput.py).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time

from haflow.encoding.heartbeat import DEFAULT_INTERVAL, attribute_name, format_value


class Heartbeat:
    """Publishes progress now and then, and a heartbeat every ``interval`` seconds."""

    def __init__(self, resource: str, action: str, interval: float | None = None) -> None:
        self.name = attribute_name(resource)
        self.interval = interval or float(os.environ.get("HAFLOW_HEARTBEAT_INTERVAL")
                                          or DEFAULT_INTERVAL)
        self.percent: int | None = None
        self.message = action
        self._stop = threading.Event()
        self._changed = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.published = False

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._changed.set()
        self._thread.join(timeout=2)
        if self.published:
            self._attrd(["-D"])

    def update(self, percent: int | None, message: str) -> None:
        self.percent, self.message = percent, message
        self._changed.set()

    def _loop(self) -> None:
        # the first heartbeat one interval in, with whatever progress came before it
        self._stop.wait(self.interval)
        while not self._stop.is_set():
            self._changed.clear()
            self.published = True  # before the write: a removal must follow one in flight
            self._attrd(["-U", format_value(time.time(), self.percent, self.message)])
            self._changed.wait(self.interval)
            self._stop.wait(0.5)  # at most two updates a second, however chatty the agent

    def _attrd(self, args: list[str]) -> None:
        # best effort: outside a cluster (tests, ocf-tester) there is no attrd
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(["attrd_updater", "-n", self.name, *args], capture_output=True,
                           timeout=10)
