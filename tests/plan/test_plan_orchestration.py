"""``haflow plan`` of the orchestration keys: instances, approval gates, skipped steps."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from haflow.coordinator.cli import main as cli
from haflow.coordinator.cluster import simulate

pytestmark = pytest.mark.tier0

GOLDEN = Path(__file__).parents[1] / "workflow" / "golden"


@pytest.fixture
def cib(tmp_path: Path) -> str:
    path = tmp_path / "cib.xml"
    path.write_bytes(etree.tostring(simulate.skeleton(3)))
    return str(path)


def plan(capsys: pytest.CaptureFixture[str], cib: str, fmt: str, *extra: str) -> str:
    code = cli.main(["plan", str(GOLDEN / "rolling-deploy.yaml"), "--cib", cib,
                     "--output-as", fmt, "--input", "migrate=false", *extra])
    assert code == 0
    return capsys.readouterr().out


def test_text_shows_instances_gates_and_skipped_steps(capsys: pytest.CaptureFixture[str],
                                                       cib: str) -> None:
    text = plan(capsys, cib, "text", "--input", "hosts=[a, b, c]")
    submit, approved = text.split("once approved (production)")
    assert "production" not in submit.split("at the end")[0]  # held by its gate
    assert "start staging-1 on" in submit
    assert approved.count("(waits for approval: production)") == 3
    assert "production-2 (production): running" in text
    assert "database: skipped (its 'when' is false)" in text
    assert "'haflow approve rolling-deploy production'" in text


def test_dot_draws_gates_instances_and_skipped_steps(capsys: pytest.CaptureFixture[str],
                                                     cib: str) -> None:
    dot = plan(capsys, cib, "dot")
    assert dot.count("shape=diamond") == 1
    assert dot.count("p1_gate_production -> ") == 4
    assert '"skipped database" [label="database\\nskipped", style=dashed' in dot
    assert "staging-0 (staging)\\nstart on" in dot


def test_json_names_gates_units_and_skipped(capsys: pytest.CaptureFixture[str],
                                            cib: str) -> None:
    import json

    data = json.loads(plan(capsys, cib, "json", "--name", "rd2"))
    assert data["workflow"] == "rd2"
    assert data["gates"] == {"production": [f"production-{i}" for i in range(4)]}
    assert data["skipped"] == ["database"]
    assert data["units"]["staging-1"] == "staging"
