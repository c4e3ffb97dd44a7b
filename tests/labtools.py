"""Helpers for tests that run real lab clusters."""

from __future__ import annotations

import os
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from haflow.lab import control, power
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


def stop_lab(layout: LabLayout) -> None:
    """Tear the lab down, unless HAFLOW_KEEP_LABS=1 asks to keep it for a post-mortem."""
    if os.environ.get("HAFLOW_KEEP_LABS") == "1":
        print(f"keeping lab {layout.name} in {layout.dir} (HAFLOW_KEEP_LABS=1)")
        return
    control.teardown(layout)


def wait_healthy(layout: LabLayout, timeout: float = 90.0) -> None:
    """Wait until every node of the lab is powered on and online with a DC."""
    nodes = control.nodes_of(layout)
    control.wait_until(
        layout, nodes[0], lambda v: v.dc is not None and set(nodes) <= set(v.online), timeout
    )


def last_fenced(layout: LabLayout, observer: str, target: str) -> str:
    """When ``target`` was last fenced, as ``observer``'s fencer knows it ("" if never).

    ``--last`` rather than ``--history``: the history may keep an older event for a target.
    """
    argv = ["stonith_admin", "--last", target, "--output-as=xml"]
    out = control.run_on(layout, observer, argv).stdout
    element = ET.fromstring(out).find("last-fenced")  # absent (exit 74) when never fenced
    return "" if element is None else element.get("when", "")


def wait_fenced(layout: LabLayout, observer: str, target: str, since: str,
                timeout: float = 90.0) -> None:
    """Wait until ``target`` has been fenced after ``since`` (a last_fenced value)."""
    deadline = time.monotonic() + timeout
    while last_fenced(layout, observer, target) <= since:
        if time.monotonic() > deadline:
            raise AssertionError(f"{target} was not fenced within {timeout:.0f} s")
        time.sleep(0.5)


def restore(layout: LabLayout) -> None:
    """Power on every node that is off, heal the network, wait until all are online."""
    for node in control.nodes_of(layout):
        if not power.is_on(layout, node):
            power.power_on(layout, node)
    control.heal(layout)
    wait_healthy(layout)
