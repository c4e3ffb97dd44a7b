"""The JSON Schema shipped with the package, and the loader's location bookkeeping."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from haflow.coordinator.workflow import schema
from haflow.coordinator.workflow.durations import parse_ms, to_pacemaker
from haflow.coordinator.workflow.loader import load, loads
from haflow.coordinator.workflow.model import AgentSpec, FailurePolicy, Loc

pytestmark = pytest.mark.tier0

GOLDEN = Path(__file__).parent / "golden"


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(schema.schema())


def test_every_golden_file_matches_the_schema_alone() -> None:
    from haflow.coordinator.workflow.yamlsrc import parse

    for path in GOLDEN.glob("*.yaml"):
        source, reports = parse(path.read_text(), str(path))
        assert reports == []
        assert schema.check(source) == [], path


def test_model_keeps_locations_and_defaults() -> None:
    wf = load(GOLDEN / "policy-mixed.yaml")
    assert wf.failure_policy == FailurePolicy.ROLLBACK
    backfill = wf.steps["backfill"]
    assert backfill.loc == Loc(8, 3)
    assert backfill.where("after.0") == Loc(10, 13)
    assert backfill.failure_policy == FailurePolicy.HOLD
    assert wf.steps["provision"].retries == 5
    assert backfill.retries == 2  # the default
    assert list(wf.steps) == ["provision", "backfill", "cleanup"]  # file order


def test_params_become_text() -> None:
    wf = loads("name: p\nsteps:\n  a:\n    agent: test\n    params: {duration: 5, partial: true}\n")
    assert wf.steps["a"].params == {"duration": "5", "partial": "true"}


@pytest.mark.parametrize(
    ("text", "ms", "cib"),
    [
        (90, 90_000, "90s"),
        ("1500ms", 1500, "1500ms"),
        ("5min", 300_000, "300s"),
        ("5m", 300_000, "300s"),
        ("2h", 7_200_000, "7200s"),
        ("30", 30_000, "30s"),
    ],
)
def test_durations(text: int | str, ms: int, cib: str) -> None:
    assert parse_ms(text) == ms
    assert to_pacemaker(ms) == cib


@pytest.mark.parametrize(
    ("text", "spec"),
    [("exec", "ocf:haflow:exec"), ("ocf:heartbeat:IPaddr2", "ocf:heartbeat:IPaddr2")],
)
def test_agent_specs(text: str, spec: str) -> None:
    parsed = AgentSpec.parse(text)
    assert parsed is not None and str(parsed) == spec


@pytest.mark.parametrize("text", ["lsb:nginx", "ocf::Dummy", "ocf:a:b:c", "shell"])
def test_not_agent_specs(text: str) -> None:
    assert AgentSpec.parse(text) is None
