"""``GET /v1/events``: step and workflow state changes, one upstream for every client.

The snapshot's refresher compares each view with the one before (:func:`changes`) and
publishes what changed to the :class:`Broadcaster`, which fans it out to every
connected client's queue. Events carry increasing ids; a client that reconnects with
``Last-Event-ID`` gets what it missed from a bounded backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from haflow.coordinator.service.snapshot import View

BACKLOG = 1000
QUEUE = 10000  # a client that falls this far behind is dropped (it reconnects)
KEEPALIVE_S = 15.0


def changes(old: View, new: View) -> list[dict[str, Any]]:
    """Workflow and step state changes between two views, in a stable order."""
    events: list[dict[str, Any]] = []
    for name in sorted(set(old.workflows) | set(new.workflows)):
        before, after = old.workflows.get(name), new.workflows.get(name)
        if after is None:
            events.append({"type": "workflow", "workflow": name, "state": "removed",
                           "was": None if before is None else before.state.value})
            continue
        if before is None or before.state != after.state:
            events.append({"type": "workflow", "workflow": name, "state": after.state.value,
                           "was": None if before is None else before.state.value})
        was = {s.name: s for s in before.steps} if before is not None else {}
        for step in after.steps:
            prior = was.get(step.name)
            if prior is None or prior.state != step.state or prior.node != step.node:
                events.append({"type": "step", "workflow": name, "step": step.name,
                               "state": step.state.value, "node": step.node,
                               "was": None if prior is None else prior.state.value})
    return events


class Broadcaster:
    """Fans events out to subscribers (asyncio queues) from any thread."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._backlog: deque[tuple[int, dict[str, Any]]] = deque(maxlen=BACKLOG)
        self._subscribers: set[asyncio.Queue[tuple[int, dict[str, Any]] | None]] = set()
        self._lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None

    def publish(self, events: list[dict[str, Any]]) -> None:
        now = round(time.time(), 3)
        with self._lock:
            numbered = []
            for event in events:
                item = (next(self._ids), {**event, "time": now})
                self._backlog.append(item)
                numbered.append(item)
            subscribers = list(self._subscribers)
        loop = self.loop
        if loop is None or not numbered:
            return
        for queue in subscribers:
            for item in numbered:
                loop.call_soon_threadsafe(_offer, queue, item)

    def subscribe(self, last_id: int | None) -> tuple[
            asyncio.Queue[tuple[int, dict[str, Any]] | None], list[tuple[int, dict[str, Any]]]]:
        """A queue of what comes, and what the client missed after ``last_id``."""
        queue: asyncio.Queue[tuple[int, dict[str, Any]] | None] = asyncio.Queue(QUEUE)
        with self._lock:
            self._subscribers.add(queue)
            missed = [] if last_id is None else [i for i in self._backlog if i[0] > last_id]
        return queue, missed

    def unsubscribe(self, queue: asyncio.Queue[tuple[int, dict[str, Any]] | None]) -> None:
        with self._lock:
            self._subscribers.discard(queue)

    @property
    def clients(self) -> int:
        return len(self._subscribers)

    async def stream(self, last_id: int | None) -> AsyncIterator[str]:
        """Server-sent events: ``id``, ``event`` (the type) and ``data`` (JSON) each."""
        queue, missed = self.subscribe(last_id)
        try:
            yield "retry: 1000\n\n"
            for old in missed:
                yield _frame(*old)
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if item is None:
                    return
                yield _frame(*item)
        finally:
            self.unsubscribe(queue)


def _offer(queue: asyncio.Queue[tuple[int, dict[str, Any]] | None],
           item: tuple[int, dict[str, Any]]) -> None:
    with contextlib.suppress(asyncio.QueueFull):
        queue.put_nowait(item)


def _frame(event_id: int, event: dict[str, Any]) -> str:
    return f"id: {event_id}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n"
