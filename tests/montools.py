"""crm_mon's view of a CIB held in memory, as the status code gets it from a lab."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from haflow.coordinator.cluster import live_view


def crm_mon_of(cib: etree._Element, folder: Path) -> etree._Element:
    """What ``crm_mon`` (haflow's arguments) prints of ``cib``, written to a file in
    ``folder``: the real scheduler's reading, not a hand-made one."""
    if not shutil.which("crm_mon"):
        pytest.fail("crm_mon is missing: install pacemaker-cli-utils")
    path = folder / "cib-for-crm_mon.xml"
    path.write_bytes(etree.tostring(cib))
    shown = subprocess.run(live_view.MON, capture_output=True, text=True, check=True,
                           env=dict(os.environ, CIB_file=str(path)))
    return etree.fromstring(shown.stdout.encode())
