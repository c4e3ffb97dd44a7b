"""The heartbeat of a running action (agents/progress.py): nothing for a short action."""

from __future__ import annotations

import time

import pytest

from haflow.agents.progress import Heartbeat

pytestmark = pytest.mark.tier0


class Recorded(Heartbeat):
    def __init__(self, interval: float) -> None:
        super().__init__("wf.a", "start", interval)
        self.calls: list[list[str]] = []

    def _attrd(self, args: list[str]) -> None:
        self.calls.append(args)


def test_an_action_shorter_than_an_interval_writes_nothing() -> None:
    # each write and removal is a CIB change that aborts the cluster's transition
    beat = Recorded(interval=5)
    with beat:
        beat.update(50, "half way")
        time.sleep(0.2)
    assert beat.calls == []


def test_a_long_action_publishes_its_progress_then_removes_it() -> None:
    beat = Recorded(interval=0.3)
    with beat:
        beat.update(10, "copying")
        deadline = time.monotonic() + 10
        while not beat.calls and time.monotonic() < deadline:
            time.sleep(0.05)
    assert beat.calls[0][0] == "-U" and beat.calls[0][1].endswith(" 10 copying")
    assert beat.calls[-1] == ["-D"]
