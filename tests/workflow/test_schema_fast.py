"""The generated schema checks (schema_fast.py) agree with jsonschema.

They decide alone that a workflow is valid (jsonschema only runs to report what
is wrong), so a file they let through that jsonschema refuses would be a
workflow validated by the wrong rules.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haflow.coordinator.workflow import schema, schema_fast, schema_gen, yamlsrc

pytestmark = pytest.mark.tier0

REPO = Path(__file__).resolve().parents[2]
CORPUS = sorted(p for d in ("tests", "docs") for p in (REPO / d).rglob("*.yaml"))


def jsonschema_valid(data: Any) -> bool:
    return not any(True for _ in schema._validator().iter_errors(data))


def test_the_generated_checks_are_made_from_the_current_schema() -> None:
    assert schema.digest() == schema_fast.SCHEMA_SHA256, (
        "workflow.schema.json changed: run python -m haflow.coordinator.workflow.schema_gen")


def test_generating_again_gives_the_shipped_file() -> None:
    fastjsonschema = pytest.importorskip("fastjsonschema")
    if fastjsonschema.VERSION != schema_fast.VERSION:
        pytest.skip(f"made with fastjsonschema {schema_fast.VERSION}, "
                    f"{fastjsonschema.VERSION} installed")
    assert schema_gen.generate() == schema_gen.TARGET.read_text()


def test_stale_checks_are_not_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema_fast, "SCHEMA_SHA256", "0" * 64)
    assert not schema.valid({"name": "w", "steps": {"a": {"agent": "test"}}})


def corpus_data() -> list[Any]:
    found = []
    for path in CORPUS:
        source, _ = yamlsrc.parse(path.read_text(errors="surrogateescape"), path.name)
        if source.data is not None:
            found.append(source.data)
    return found


def test_every_corpus_file_is_judged_the_same() -> None:
    data = corpus_data()
    verdicts = [(schema.valid(d), jsonschema_valid(d)) for d in data]
    assert all(fast == full for fast, full in verdicts)
    # both kinds are there: the corpus holds valid workflows and schema errors
    assert {True, False} <= {fast for fast, _ in verdicts}


VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 2000), st.floats(allow_nan=False),
    st.sampled_from(["", "a", "x-y", "5s", "5 s", "1min", "10\n", "test", "ocf:heartbeat:Dummy",
                     "rollback", "hold", "eq", "defined", "integer", "node1", "#uname"]),
    st.lists(st.sampled_from(["a", "b", "", 1]), max_size=3),
    st.dictionaries(st.sampled_from(["a", "x-1", "do", "value", ""]), st.just("v"), max_size=2),
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, (*prefix, i))
    return found


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_workflows_are_judged_the_same(data: st.DataObject) -> None:
    base = copy.deepcopy(data.draw(st.sampled_from(VALID)))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths(base)))
        value = data.draw(VALUES)
        if not path:
            continue
        holder = base
        for part in path[:-1]:
            holder = holder[part]
        if isinstance(holder, dict) and data.draw(st.booleans()):
            holder[data.draw(st.sampled_from(["name", "extra", "retries", "with", "rules",
                                              "op", "after", "x-tpl"]))] = value
        else:
            holder[path[-1]] = value
    assert schema.valid(base) == jsonschema_valid(base)


VALID = [d for d in corpus_data() if jsonschema_valid(d)]
