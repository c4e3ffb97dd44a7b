"""Shared fixtures: real lab clusters, started once per session, always torn down.

Every lab lives under pytest's temporary directory with a name unique to this
run, so tests never touch the host's /etc/corosync or /var/lib/pacemaker and
two test runs never collide.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from haflow.lab import control
from haflow.lab.layout import LabLayout


def require_cluster_tools() -> None:
    """Fail loudly, never skip: a suite that silently skips its clusters proves nothing."""
    if os.geteuid() != 0:
        pytest.fail("lab tests need root (namespaces, mounts)")
    if shutil.which("pacemakerd") is None:
        pytest.fail("Debian's pacemaker/corosync are missing: run the README's test command")


def unique_lab_name(tag: str) -> str:
    """Lab names are global (they name network namespaces): make them unique per run."""
    return f"{tag}{os.getpid() % 100000}"[:12]


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("labs")


def start_lab(root: Path, tag: str, nodes: int) -> LabLayout:
    layout = control.layout_for(unique_lab_name(tag), root)
    try:
        control.up(layout, nodes)
    except BaseException:
        if control.exists(layout):
            control.teardown(layout)
        raise
    return layout


@pytest.fixture(scope="session")
def lab1(lab_root: Path) -> Iterator[LabLayout]:
    """A real 1-node cluster (tier1)."""
    require_cluster_tools()
    layout = start_lab(lab_root, "one", 1)
    yield layout
    control.teardown(layout)


@pytest.fixture(scope="session")
def lab3(lab_root: Path) -> Iterator[LabLayout]:
    """A real 3-node cluster with lab fencing (tier2). Tests that break it must repair it."""
    require_cluster_tools()
    layout = start_lab(lab_root, "three", 3)
    yield layout
    control.teardown(layout)
