"""The one-pass build of plain YAML documents agrees with the full path.

``yamlsrc.parse`` builds plain documents straight from the parser's events and
hands anything else (anchors, tags, merges, duplicate keys, non-text keys,
directives, oversized input, syntax errors) to the full path. Both must give the
same data, locations and reports, or a file would validate differently
depending on which path it took.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from haflow.coordinator.workflow import yamlsrc

pytestmark = pytest.mark.tier0

REPO = Path(__file__).resolve().parents[2]
CORPUS = sorted(p for d in ("tests", "docs") for p in (REPO / d).rglob("*.yaml"))


def both(text: str) -> tuple[Any, Any]:
    def seen(result: tuple[yamlsrc.Source, list[Any]]) -> Any:
        source, reports = result
        return source.data, source.values, source.keys, source.quoted, reports

    return seen(yamlsrc.parse(text, "f.yaml")), seen(yamlsrc.parse(text, "f.yaml", fast=False))


def takes_fast_path(text: str) -> bool:
    yaml = yamlsrc._yaml()
    return yamlsrc._Builder(yaml, "f.yaml").build_plain(text, yaml.parse(text))


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_corpus_file_reads_the_same_either_way(path: Path) -> None:
    fast, full = both(path.read_text(errors="surrogateescape"))
    assert fast == full


def test_the_golden_workflows_take_the_fast_path() -> None:
    golden = [p.read_text() for p in CORPUS if "golden" in p.parts]
    plain = [text for text in golden if "&" not in text]  # templates.yaml has anchors
    assert len(plain) >= 15
    assert all(takes_fast_path(text) for text in plain)


@pytest.mark.parametrize("text", [
    "a: &x 1\nb: *x\n",           # anchor and alias
    "a: !!str 1\n",               # explicit tag
    "base: &b {x: 1}\nc: {<<: *b}\n",
    "a: 1\na: 2\n",               # duplicate key
    "true: 1\n",                  # a key that is not text
    "? [a]\n: 1\n",               # a collection as key
    "%YAML 1.2\n---\na: 1\n",     # a directive
    "a: 1\n---\nb: 2\n",          # two documents
    "~\n",                        # nothing in it
    "a: [1\n",                    # a syntax error
])
def test_what_is_not_plain_goes_the_full_way(text: str) -> None:
    if not text.endswith("[1\n"):
        assert not takes_fast_path(text)
    fast, full = both(text)
    assert fast == full


def test_too_many_values_is_reported_at_the_same_place_either_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the fast path reports it itself: it stops at the same event as the shape pass
    monkeypatch.setattr(yamlsrc, "MAX_VALUES", 1000)
    text = "name: w\nx-big: [" + "1," * 1000 + "1]\n"
    fast, full = both(text)
    assert fast == full
    assert [r.code for r in fast[4]] == ["YAML_TOO_LARGE"]


# scalars that YAML 1.2 reads as other types, or that look as if they might
TOKENS = ["yes", "No", "on", "~", "null", "", "010", "0o17", "0x1F", "1e3", ".inf", "-.5",
          "2024-01-01", "true", "False", "<<", "a b", "x: y", "#c", "- d", "'q'", "@", "\t",
          "é", "\x00", "\u0085", "12:30", "+1", "1_000", "=", "?", "!"]
scalars = st.one_of(st.sampled_from(TOKENS), st.integers(), st.floats(allow_nan=False),
                    st.booleans(), st.none(), st.text(max_size=8))
keys = st.one_of(st.sampled_from(TOKENS), st.text(max_size=6), st.integers(), st.booleans())
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(documents, st.booleans(), st.data())
def test_random_documents_read_the_same_either_way(doc: Any, flow: bool, data: Any) -> None:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    out = io.StringIO()
    yaml.dump(doc, out)
    text = out.getvalue()
    lines = text.splitlines(keepends=True)
    if lines and data.draw(st.booleans()):
        # a repeated line: duplicate keys, or an odd but valid list
        i = data.draw(st.integers(0, len(lines) - 1))
        text = "".join(lines[: i + 1] + lines[i:])
    fast, full = both(text)
    assert fast == full
