"""Bad arguments get a clear error, a documented exit code, and change nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from haflow.coordinator.exitcodes import ExitCode
from haflow.lab.layout import LabLayout

pytestmark = pytest.mark.tier1


def haflow(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HAFLOW_LAB_ROOT=str(root))
    return subprocess.run([sys.executable, "-m", "haflow.coordinator.cli", *args],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("count", ["0", "9", "-1"])
def test_node_count_out_of_range_is_refused(tmp_path: Path, count: str) -> None:
    result = haflow("lab", "up", "--lab", "nocount", "--nodes", count, root=tmp_path)
    assert result.returncode == ExitCode.INVALID
    assert "a lab has 1 to 8 nodes" in result.stderr and "LAB_BAD_NODE_COUNT" in result.stderr
    assert not (tmp_path / "nocount").exists()


def test_bad_lab_name_is_refused(tmp_path: Path) -> None:
    result = haflow("lab", "status", "--lab", "Bad_Name", root=tmp_path)
    assert result.returncode == ExitCode.INVALID and "LAB_BAD_NAME" in result.stderr


def test_missing_lab_is_named_in_the_error(tmp_path: Path) -> None:
    for command in (["status"], ["down"], ["crash", "node1"], ["exec", "node1", "--", "true"]):
        result = haflow("lab", command[0], "--lab", "nosuchlab", *command[1:], root=tmp_path)
        assert result.returncode == ExitCode.NOT_FOUND, command
        assert "lab 'nosuchlab' does not exist" in result.stderr


def test_errors_are_json_when_asked(tmp_path: Path) -> None:
    result = haflow("lab", "status", "--lab", "nosuchlab", "--output-as", "json", root=tmp_path)
    assert result.returncode == ExitCode.NOT_FOUND
    (report,) = json.loads(result.stdout)["errors"]
    assert report["code"] == "LAB_NOT_FOUND" and report["severity"] == "error"


def test_existing_lab_is_not_created_twice(lab3: LabLayout) -> None:
    result = haflow("lab", "up", "--lab", lab3.name, root=lab3.root)
    assert result.returncode == ExitCode.CONFLICT
    assert f"lab {lab3.name!r} already exists" in result.stderr


def test_unknown_node_is_refused_naming_the_real_ones(lab3: LabLayout) -> None:
    for command in (["crash", "node7"], ["reboot", "node0"], ["exec", "nodeX", "--", "true"],
                    ["partition", "node1", "node9"]):
        result = haflow("lab", command[0], "--lab", lab3.name, *command[1:], root=lab3.root)
        assert result.returncode == ExitCode.NOT_FOUND, command
        assert "its nodes are node1, node2, node3" in result.stderr


def test_partition_of_every_node_is_refused(lab3: LabLayout) -> None:
    result = haflow("lab", "partition", "node1", "node2", "node3", "--lab", lab3.name,
                    root=lab3.root)
    assert result.returncode == ExitCode.INVALID and "both sides" in result.stderr


def test_exec_runs_as_the_node_and_passes_the_exit_code(lab3: LabLayout) -> None:
    result = haflow("lab", "exec", "--lab", lab3.name, "node2", "--", "uname", "-n",
                    root=lab3.root)
    assert result.returncode == 0 and result.stdout.strip() == "node2"
    failing = haflow("lab", "exec", "--lab", lab3.name, "node2", "--", "sh", "-c", "exit 3",
                     root=lab3.root)
    assert failing.returncode == 3
    missing = haflow("lab", "exec", "--lab", lab3.name, "node2", root=lab3.root)
    assert missing.returncode == ExitCode.USAGE


def test_status_shows_every_node_in_text_and_json(lab3: LabLayout) -> None:
    text = haflow("lab", "status", "--lab", lab3.name, root=lab3.root)
    assert text.returncode == 0
    for node in ("node1", "node2", "node3"):
        assert node in text.stdout
    data = json.loads(haflow("lab", "status", "--lab", lab3.name, "--output-as", "json",
                             root=lab3.root).stdout)
    assert [n["power"] for n in data["nodes"]] == ["on", "on", "on"]
