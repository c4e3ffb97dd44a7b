"""The fault suite (tier2): every scenario of haflow.lab.faults on a real lab.

On the session's 3-node lab by default; ``HAFLOW_FAULT_NODES=5`` runs it on a
5-node lab of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from haflow.lab.faults import SCENARIOS, Scenario, run_scenario
from haflow.lab.layout import LabLayout
from tests.labtools import start_lab, stop_lab

pytestmark = pytest.mark.tier2

NODES = int(os.environ.get("HAFLOW_FAULT_NODES", "3"))


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest, lab_root: Path) -> Iterator[LabLayout]:
    if NODES == 3:
        yield request.getfixturevalue("lab3")
        return
    layout = start_lab(lab_root, "faults", NODES)
    yield layout
    stop_lab(layout)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario(lab: LabLayout, scenario: Scenario, tmp_path: Path) -> None:
    result = run_scenario(lab, scenario, tmp_path)
    assert result.audit.ok, f"{scenario.description}: {result.audit.summary()} " \
                            f"({'; '.join(result.notes)})"
    assert result.recovery is not None
