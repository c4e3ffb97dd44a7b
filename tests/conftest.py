"""Shared fixtures: real lab clusters, started once per session, always torn down.

Every lab lives under pytest's temporary directory with a name unique to this
run, so tests never touch the host's /etc/corosync or /var/lib/pacemaker and
two test runs never collide.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from haflow.lab.layout import LabLayout
from tests.labtools import require_cluster_tools, start_lab, stop_lab


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
