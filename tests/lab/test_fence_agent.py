"""fence_haflow_lab follows the fence-agents conventions (options, stdin, meta-data)."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

import pytest

from haflow.lab import control
from haflow.lab.layout import LabLayout

pytestmark = pytest.mark.tier1
AGENT = str(control.FENCE_AGENT_PATH)


def agent(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENT, *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_metadata_is_valid_and_declares_the_lab_dir_and_actions(lab3: LabLayout) -> None:
    result = agent("-o", "metadata")
    assert result.returncode == 0
    root = ET.fromstring(result.stdout)
    assert root.tag == "resource-agent" and root.get("name") == "fence_haflow_lab"
    params = {p.get("name") for p in root.iter("parameter")}
    assert {"lab_dir", "port", "action"} <= params
    actions = {a.get("name") for a in root.iter("action")}
    assert {"on", "off", "reboot", "status", "list", "monitor", "metadata"} <= actions


def test_list_and_status_through_getopt_flags(lab3: LabLayout) -> None:
    listed = agent("--lab-dir", str(lab3.dir), "-o", "list")
    assert listed.returncode == 0
    assert [line.split(",")[0] for line in listed.stdout.split()] == ["node1", "node2", "node3"]
    status = agent("--lab-dir", str(lab3.dir), "-o", "status", "-n", "node2")
    assert status.returncode == 0 and "ON" in status.stdout


def test_status_and_monitor_through_stdin_options(lab3: LabLayout) -> None:
    result = agent(stdin=f"action=status\nlab_dir={lab3.dir}\nport=node1\n")
    assert result.returncode == 0 and "ON" in result.stdout
    assert agent(stdin=f"action=monitor\nlab_dir={lab3.dir}\n").returncode == 0


def test_unknown_node_fails_with_a_reason(lab3: LabLayout) -> None:
    result = agent("--lab-dir", str(lab3.dir), "-o", "status", "-n", "node9")
    assert result.returncode != 0
    assert "unknown node 'node9'" in result.stderr


def test_missing_lab_dir_is_a_usage_error() -> None:
    result = agent("-o", "status", "-n", "node1")
    assert result.returncode != 0 and "lab-dir" in result.stderr
