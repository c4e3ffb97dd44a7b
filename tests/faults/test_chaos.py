"""``haflow lab chaos``: random faults against running workflows, audited."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from haflow.lab.chaos import FAULTS, run_chaos
from haflow.lab.layout import LabLayout


def chaos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "haflow.coordinator.cli", "lab", "chaos",
                           *args], capture_output=True, text=True, timeout=600)


@pytest.mark.tier0
def test_chaos_needs_an_existing_lab_and_sane_arguments(tmp_path: Path) -> None:
    missing = chaos("--lab", "nosuchlab", "--lab-root", str(tmp_path), "--output-as", "json")
    assert missing.returncode == 4
    assert json.loads(missing.stdout)["errors"][0]["code"] == "LAB_NOT_FOUND"
    (tmp_path / "here").mkdir()
    bad = chaos("--lab", "here", "--lab-root", str(tmp_path), "--minutes", "0")
    assert bad.returncode == 2 and "--minutes must be positive" in bad.stderr


@pytest.mark.tier2
def test_a_short_chaos_run_loses_nothing(lab3: LabLayout, tmp_path: Path) -> None:
    report = run_chaos(lab3, minutes=0.3, seed=7, base=tmp_path, count=2)
    assert report.faults, "no fault was injected"
    assert all(f.split()[0] in FAULTS or f.startswith("restart") for f in report.faults)
    assert report.audit.ok, report.text()
    assert len(report.recoveries) == len(report.faults)
