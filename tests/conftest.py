"""Shared fixtures: real lab clusters, started once per session, always torn down.

Every lab lives under pytest's temporary directory with a name unique to this
run, so tests never touch the host's /etc/corosync or /var/lib/pacemaker and
two test runs never collide.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from haflow.lab.layout import LabLayout
from tests.labtools import require_cluster_tools, start_lab, stop_lab


def pytest_configure(config: pytest.Config) -> None:
    """Tests stop their own children with SIGINT, as Ctrl-C would (``status --watch``, a
    pytest run). Started in the background by a shell without job control, this run
    has SIGINT ignored, and an ignored signal stays ignored across exec: the children
    would never stop. A handler of our own is reset to the default in every child."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)

# labs left by an interrupted run are swept at its end
pytest_plugins = ["tests.labsweep"]


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("labs")


def running_lab(root: Path, tag: str, nodes: int) -> Iterator[LabLayout]:
    require_cluster_tools()
    layout = start_lab(root, tag, nodes)
    yield layout
    stop_lab(layout)


@pytest.fixture(scope="session")
def lab1(lab_root: Path) -> Iterator[LabLayout]:
    """A real 1-node cluster (tier1)."""
    yield from running_lab(lab_root, "one", 1)


@pytest.fixture(scope="session")
def lab3(lab_root: Path) -> Iterator[LabLayout]:
    """A real 3-node cluster with lab fencing (tier2). Tests that break it must repair it."""
    yield from running_lab(lab_root, "three", 3)


FAULT_GROUPS = 2


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Groups for ``pytest -n N --dist loadgroup`` (what CI runs): a test file runs in one
    worker, so its session labs start once there; the long fault suite is split in
    halves, each on a lab of its own worker. Lab tests spend most of their time waiting
    on timeouts, not on the CPU, which is why they run side by side."""
    for index, item in enumerate(items):
        group = item.path.name
        if group == "test_faults.py":
            group += str(index % FAULT_GROUPS)
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(autouse=True)
def healthy_session_labs(request: pytest.FixtureRequest) -> None:
    """A test that uses a session lab gets it healthy: every node on, links healed,
    all online. Tests repair what they break; this catches what one did not (a node
    still booting after a fencing), so the failure stays with the test that caused it."""
    from tests.labtools import restore

    for name in ("lab1", "lab3"):
        if name in request.fixturenames:
            restore(request.getfixturevalue(name))
