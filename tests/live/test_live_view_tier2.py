"""A node rebooted after its fencing: its status never goes back in time while it syncs."""

from __future__ import annotations

import time

import pytest

from haflow.coordinator.cluster import env as envs
from haflow.coordinator.commands.status import statuses
from haflow.coordinator.exitcodes import ExitCode
from haflow.coordinator.reports import HaflowError
from haflow.lab import control, power
from tests.labtools import wait_healthy
from tests.live.conftest import Live

pytestmark = pytest.mark.tier2


def test_status_on_a_node_rebooting_after_its_fencing_never_shows_an_older_state(
        live3: Live) -> None:
    layout = live3.layout
    # on the other nodes: the crash of node1 changes nothing of the workflow itself
    elsewhere = {"nodes": ["node2", "node3"]}
    path = live3.workflow("t2sync", {"a": dict(elsewhere), "b": {"after": ["a"], **elsewhere},
                                     "c": {"after": ["b"], **elsewhere}})
    assert live3.submit(path).returncode == 0
    waited = live3.run("wait", "t2sync", "--timeout", "120")
    assert waited.returncode == ExitCode.OK, waited.stdout + waited.stderr
    assert live3.status("t2sync")["state"] == "done"
    time.sleep(2)  # node1's CIB manager has written the configuration to its disk
    control.crash(layout, "node1")
    deadline = time.monotonic() + 120
    while not power.is_on(layout, "node1"):  # booted by its fencing
        assert time.monotonic() < deadline, "node1 was never booted again"
        time.sleep(0.02)
    # what `haflow status --node node1` decides from, polled as fast as it answers
    seen: list[str] = []
    joined_at: float | None = None
    next_look = 0.0
    while joined_at is None or time.monotonic() < joined_at + 3:
        assert time.monotonic() < deadline, f"node1 never joined again: {seen}"
        try:
            env = envs.for_lab(layout.name, "node1", str(layout.root))
            seen.append(str(statuses(env, "t2sync")[0].state))
        except HaflowError as err:  # not booted yet, not answering, not synced in time
            seen.append(str(err.reports[0].code))
        if joined_at is None and time.monotonic() > next_look:
            view = control.cluster_view(layout, "node2")
            if view is not None and "node1" in view.online and seen[-1] == "done":
                joined_at = time.monotonic()
            next_look = time.monotonic() + 1
    states = [s for s in seen if s.islower()]
    assert states and set(states) == {"done"}, seen
    shown = live3.run("status", "t2sync", "--node", "node1", "--output-as", "json")
    assert shown.returncode == 0 and '"state": "done"' in shown.stdout, shown.stderr
    wait_healthy(layout)
