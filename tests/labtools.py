"""Helpers for tests that run real lab clusters."""

from __future__ import annotations

import os
import shutil
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


def start_lab(root: Path, tag: str, nodes: int) -> LabLayout:
    layout = control.layout_for(unique_lab_name(tag), root)
    try:
        control.up(layout, nodes)
    except BaseException:
        if control.exists(layout):
            control.teardown(layout)
        raise
    return layout


def keep_logs(layout: LabLayout) -> Path:
    """Copy the nodes' cluster logs next to the lab (pytest keeps its last three
    temporary trees): a failure seen only in a full run can be read afterwards."""
    kept = layout.root.parent / "lab-logs" / layout.name
    for node_dir in sorted((layout.dir / "nodes").glob("*")):
        # the node's own files (bound over its /var/log) live under fs/, boot logs beside it
        for sub in ("fs/var/log/pacemaker", "fs/var/log/cluster", "boot.log", "console.log"):
            source, target = node_dir / sub, kept / node_dir.name / sub
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True,
                                ignore_dangling_symlinks=True)
            elif source.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, target)
    return kept


def stop_lab(layout: LabLayout) -> None:
    """Tear the lab down, unless HAFLOW_KEEP_LABS=1 asks to keep it for a post-mortem."""
    if os.environ.get("HAFLOW_KEEP_LABS") == "1":
        print(f"keeping lab {layout.name} in {layout.dir} (HAFLOW_KEEP_LABS=1)")
        return
    try:
        keep_logs(layout)
    except OSError as exc:  # a log is no reason to leave a lab running
        print(f"could not keep the logs of lab {layout.name}: {exc}")
    control.teardown(layout)


# the lab's health helpers live in the package: the fault scenarios use them too
from haflow.lab.workload import (  # noqa: E402
    last_fenced,
    restore,
    wait_fenced,
    wait_healthy,
    wait_idle,
)

__all__ = ["last_fenced", "require_cluster_tools", "restore", "start_lab", "stop_lab",
           "unique_lab_name", "wait_fenced", "wait_healthy", "wait_idle"]
