"""Hypothesis against the loader: random bytes, random YAML-ish text, and mutations of
the golden files. Every input gets a clear error or a correct compile (see
fuzzcheck.outcome); compiles are sampled through crm_verify.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from haflow.coordinator.reports import HaflowError
from haflow.coordinator.workflow.compiler import CompiledWorkflow
from haflow.coordinator.workflow.loader import load
from haflow.coordinator.workflow.yamlsrc import parse
from tests.fuzz.fuzzcheck import assert_clear_error, outcome, reference, time_limit
from tests.workflow.cibtools import verify_compiled

pytestmark = pytest.mark.tier0

GOLDEN = Path(__file__).parents[1] / "workflow" / "golden"
# as if beside the golden files: their sub-workflows are found
GOLDEN_NAME = str(GOLDEN / "fuzz.yaml")
GOLDEN_TEXTS = [p.read_text() for p in sorted(GOLDEN.glob("*.yaml"))]
# a per-example deadline (fuzzcheck's alarm also stops an example that never ends)
FAST = settings(
    max_examples=150,
    deadline=timedelta(seconds=3),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# strings meant to break out of XML, a shell, YAML or a ${steps...} reference
HOSTILE = [
    "<",
    "&",
    '"',
    "'",
    "]]>",
    "</nvpair><primitive id='x'/>",
    "&amp;&#0;&#x1b;",
    "<!DOCTYPE x [<!ENTITY e 'e'>]>&e;",
    ";",
    "$(touch /tmp/haflow-fuzz-sentinel-h)",
    "`touch /tmp/haflow-fuzz-sentinel-h`",
    "| id",
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "\x1b[31m",
    "\x7f",
    "\ufffe",
    "\ud800",
    "\u202e",
    "e\u0301",
    "\U0001f680",
    "\u0430",
    "\u200d",
    "\u2028",
    "\ufeff",
    "${steps.a.out}",
    "${steps.<x>.y}",
    "$${",
    "${",
    "*a",
    "&a",
    "<<",
    "!!python/object:os.system",
    "---",
    "...",
    "#",
    ": ",
    "- ",
    "{",
    "[",
    "%",
    "@",
    "x" * 300,
]
# YAML-significant pieces for random text
TOKENS = [
    "name",
    "steps",
    "agent",
    "params",
    "after",
    "nodes",
    "rules",
    "timeout",
    "test",
    "exec",
    "do",
    "a",
    "b",
    ": ",
    ":",
    "\n",
    "\n  ",
    "\n    ",
    "- ",
    "-",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "&x ",
    "*x",
    "<<: ",
    "!!str ",
    "!!int ",
    "!!binary ",
    "!x ",
    "? ",
    "|\n  ",
    ">-\n  ",
    "'",
    '"',
    "\\",
    "#",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "~",
    "yes",
    "no",
    "1e400",
    ".nan",
    "0x1F",
    "2001-12-14",
    "\t",
    "\x00",
    "\ufeff",
    " ",
    "${steps.a.out}",
    *HOSTILE[:12],
]


def _check(text: str, filename: str = "fuzz.yaml") -> CompiledWorkflow | HaflowError:
    result = outcome(text, filename)
    if isinstance(result, HaflowError):
        assert_clear_error(result)
    return result


@FAST
@given(st.binary(max_size=3000))
def test_random_bytes_from_a_file(data: bytes) -> None:
    """Through ``load``: decoding, then the whole pipeline."""
    with tempfile.NamedTemporaryFile("wb", suffix=".yaml", delete=False) as f:
        f.write(data)
    try:
        with time_limit():
            try:
                load(f.name)
            except HaflowError as err:
                assert err.reports and all(r.code for r in err.reports)
                assert all(r.line and r.column for r in err.reports if r.code != "UNREADABLE")
    finally:
        os.unlink(f.name)


@FAST
@given(st.binary(max_size=3000))
def test_random_bytes_as_text(data: bytes) -> None:
    """Undecodable bytes become lone surrogates: text no file read could give, still no crash."""
    _check(data.decode("utf-8", "surrogateescape"))


@FAST
@given(st.lists(st.sampled_from(TOKENS), max_size=80).map("".join))
def test_random_yamlish_text(text: str) -> None:
    _check(text)


@FAST
@given(
    st.sampled_from(TOKENS).flatmap(lambda t: st.just(f"name: a\nsteps: {{a: {{agent: {t}}}}}\n"))
)
def test_every_token_as_an_agent(text: str) -> None:
    _check(text)


@st.composite
def text_mutations(draw: st.DrawFn) -> str:
    """A golden file with a few random edits: insertions (hostile or YAML pieces),
    deletions, swaps of one character, lines duplicated or dropped."""
    text = draw(st.sampled_from(GOLDEN_TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "dup-line", "drop-line"]))
        if kind == "insert":
            text = text[:at] + draw(st.sampled_from(HOSTILE + TOKENS)) + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        elif kind == "replace":
            text = text[:at] + draw(st.characters()) + text[at + 1 :]
        else:
            lines = text.splitlines(keepends=True)
            if lines:
                i = draw(st.integers(0, len(lines) - 1))
                lines[i : i + 1] = [lines[i], lines[i]] if kind == "dup-line" else []
                text = "".join(lines)
    return text


@FAST
@given(text_mutations())
def test_text_mutations_of_golden_files(text: str) -> None:
    _check(text, GOLDEN_NAME)


def _strings(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every string value (not key) in loaded YAML data."""
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _strings(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _strings(v, (*path, i))]
    return [path] if isinstance(node, str) else []


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


@st.composite
def value_mutations(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A golden workflow with some string values (names, params, agents, nodes, the
    description) replaced by hostile or arbitrary text, written as JSON or YAML."""
    data = YAML(typ="safe", pure=True).load(draw(st.sampled_from(GOLDEN_TEXTS)))
    data.setdefault("description", "")
    data = {k: v for k, v in data.items() if not str(k).startswith("x-")}  # no anchors left
    data = json.loads(json.dumps(data))  # plain dicts and lists, merges resolved
    paths = _strings(data)
    # mostly where any text is allowed (params, description), so that many compile and
    # the round trip is exercised; sometimes names, agents, nodes (which must be refused)
    free = [p for p in paths if p == ("description",) or (len(p) == 4 and p[2] == "params")]
    for _ in range(draw(st.integers(1, 3))):
        mostly_free = bool(free) and draw(st.integers(0, 4)) > 0
        path = draw(st.sampled_from(free if mostly_free else paths))
        pieces = st.lists(st.sampled_from(HOSTILE) | st.text(max_size=8), min_size=1, max_size=4)
        _set(data, path, "".join(draw(pieces)))
    if draw(st.booleans()):
        return data, json.dumps(data, ensure_ascii=draw(st.booleans()), indent=1)
    from io import StringIO

    out = StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = draw(st.booleans())
    yaml.allow_unicode = draw(st.booleans())
    yaml.dump(data, out)
    if reference(out.getvalue()) != data:
        # ruamel's emitter can write text its own reader reads differently (a line
        # break after an escape, folded to a space): not haflow's to test, use JSON
        return data, json.dumps(data)
    return data, out.getvalue()


@settings(
    max_examples=120,
    deadline=timedelta(seconds=3),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(value_mutations())
def test_hostile_values_in_golden_files(case: tuple[dict[str, Any], str]) -> None:
    """Values round-trip exactly against the data that was written (not only the reading)."""
    data, text = case
    result = outcome(text, GOLDEN_NAME, data=data)
    if isinstance(result, CompiledWorkflow):
        assert result.workflow == data["name"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value_mutations())
def test_hostile_values_that_compile_pass_crm_verify(case: tuple[dict[str, Any], str]) -> None:
    """A sample of the compiles goes through Pacemaker's own checker (a subprocess each)."""
    data, text = case
    result = outcome(text, GOLDEN_NAME, data=data)
    if isinstance(result, CompiledWorkflow):
        verify_compiled(result)


@FAST
@given(st.lists(st.sampled_from(TOKENS), max_size=80).map("".join))
def test_parse_yields_plain_data_only(text: str) -> None:
    """Whatever the tags: dicts, lists, str, int, float, bool, None, never an object."""
    with time_limit():
        source, _ = parse(text, "fuzz.yaml")
    stack = [source.data]
    while stack:
        item = stack.pop()
        assert isinstance(item, (dict, list, str, int, float, bool, type(None))), type(item)
        if isinstance(item, dict):
            assert all(isinstance(k, str) for k in item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


NAMES = ["a", "b", "c", "root", "A-1", "x_y", "a" * 48, "a" * 49, "1a", "a.b", "é", "a\u0430"]
NODES = ["node1", "node2", "node3", "<n>", "n&1", "$(id)", ""]
AGENTS = [
    "test",
    "exec",
    "http",
    "workflow",
    "ocf:haflow:test",
    "ocf:haflow:workflow",
    "ocf:heartbeat:Dummy",
    "ocf:x:y",
    "lsb:nginx",
    "ocf::",
    "",
]
ANY_SCALAR = (
    st.sampled_from(HOSTILE + NAMES)
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
    | st.text(max_size=10)
)
DURATIONS = st.sampled_from(
    [0, 1, 5, "999ms", "1000ms", "30s", "2min", "1h", "600h", -1, "5d", 2**40]
)


@st.composite
def odd_workflows(draw: st.DrawFn) -> dict[str, Any]:
    """Schema-shaped workflows whose every field may be odd: probes the semantic
    checks and the compiler rather than the YAML layer."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True))
    name_refs = st.lists(st.sampled_from(NAMES), max_size=3, unique=True)
    fields: dict[str, st.SearchStrategy[Any]] = {
        "params": st.dictionaries(
            st.sampled_from(["do", "undo", "check", "env", "shell", "url", "method", "x", "step"]),
            ANY_SCALAR,
            max_size=4,
        ),
        "after": name_refs,
        "with": name_refs,
        "apart": name_refs,
        "nodes": st.lists(st.sampled_from(NODES), min_size=1, max_size=3, unique=True),
        "avoid": st.lists(st.sampled_from(NODES), max_size=3, unique=True),
        "rules": st.lists(
            st.fixed_dictionaries(
                {
                    "attribute": st.sampled_from(["site", "#uname", "gpu", "a:b", "x y"]),
                    "op": st.sampled_from(["eq", "ne", "lt", "gte", "defined", "not_defined"]),
                },
                optional={
                    "value": ANY_SCALAR,
                    "type": st.sampled_from(["string", "integer", "number", "version"]),
                },
            ),
            max_size=3,
        ),
        "timeout": DURATIONS,
        "interval": DURATIONS,
        "retries": st.sampled_from([0, 1, 1000, 1001, -1, True]),
        "failure_policy": st.sampled_from(["hold", "rollback", "HOLD"]),
    }
    steps: dict[str, Any] = {}
    for step in names:
        keys = draw(st.lists(st.sampled_from(sorted(fields)), max_size=5, unique=True))
        steps[step] = {"agent": draw(st.sampled_from(AGENTS))}
        steps[step].update({k: draw(fields[k]) for k in keys})
    workflow: dict[str, Any] = {"name": draw(st.sampled_from(NAMES)), "steps": steps}
    if draw(st.booleans()):
        workflow["description"] = draw(st.text(max_size=30) | st.sampled_from(HOSTILE))
    return workflow


@settings(
    max_examples=200,
    deadline=timedelta(seconds=3),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(odd_workflows())
def test_odd_but_schema_shaped_workflows(data: dict[str, Any]) -> None:
    text = json.dumps(data)
    outcome(text, data=json.loads(text))
