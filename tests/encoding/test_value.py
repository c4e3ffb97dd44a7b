"""Values the CIB keeps as given (encoding/value.py), through Pacemaker's own writer."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from haflow.encoding.value import from_cib, to_cib, unkeepable

pytestmark = pytest.mark.tier0

# what XML 1.0 can hold, and so what a workflow file can give (model.NOT_XML)
xml_text = st.text(st.characters(blacklist_categories=("Cs",), min_codepoint=0x9).filter(
    lambda c: c in "\t\n\r" or (ord(c) >= 0x20 and c not in "\ufffe\uffff")))


@given(st.text())
def test_every_text_reads_back_as_it_was_stored(value: str) -> None:
    stored = to_cib(value)
    assert from_cib(stored) == value
    assert unkeepable(stored) is None
    assert stored == value or stored.isascii()


@given(xml_text.filter(lambda v: unkeepable(v) is None and not v.startswith('"')))
def test_a_plain_value_is_stored_as_it_is(value: str) -> None:
    assert to_cib(value) == value


def test_what_pacemaker_would_change_is_named() -> None:
    assert unkeepable("a\nb") == "a line break"
    assert unkeepable("\x7f") == "the control character U+007F"
    assert unkeepable("é ok <") == "'<' after the non-ASCII character 'é'"
    assert unkeepable("< é") is None
    assert unkeepable("plain é") is None


def test_a_value_that_starts_with_a_quote_is_quoted_so_it_reads_back() -> None:
    assert to_cib('"a"') == '"\\"a\\""'
    assert from_cib(to_cib('"a"')) == '"a"'
    assert to_cib("say \"hi\"") == 'say "hi"'  # not at the start: left alone


def test_a_quoted_value_haflow_did_not_write_is_taken_as_it_is() -> None:
    assert from_cib('"an admin\'s edit') == '"an admin\'s edit'
    assert from_cib('"1"') == "1"
    assert from_cib("[1]") == "[1]"
    assert from_cib('"') == '"'


def _through_pacemaker(tmp_path: Path, values: list[str]) -> list[str]:
    """The values as Pacemaker's CIB writer gives them back (cibadmin on a CIB file)."""
    cib = etree.fromstring(subprocess.run(["cibadmin", "--empty"], capture_output=True,
                                          check=True).stdout)
    config = cib.find("configuration")
    assert config is not None
    resources = config.find("resources")
    assert resources is not None
    primitive = etree.SubElement(resources, "primitive", id="r", type="exec",
                                 provider="haflow", **{"class": "ocf"})
    params = etree.SubElement(primitive, "instance_attributes", id="r-params")
    for i, value in enumerate(values):
        etree.SubElement(params, "nvpair", id=f"r-p{i}", name=f"p{i}", value=value)
    path = tmp_path / "cib.xml"
    path.write_bytes(etree.tostring(cib))
    out = subprocess.run(["cibadmin", "--query", "--xpath", "//instance_attributes"],
                         env={**os.environ, "CIB_file": str(path)}, capture_output=True,
                         check=True).stdout
    return [n.get("value", "") for n in etree.fromstring(out).iter("nvpair")]


VALUES = ["echo first\necho second\n", "a\tb", "crlf\r\n", "del\x7f", 'é"<&',
          'literal \\n and "quotes"', '"quoted"', "plain", "é ☃", "<&> é"]


@pytest.mark.skipif(not Path("/usr/sbin/cibadmin").exists(), reason="needs Pacemaker")
def test_what_pacemaker_writes_reads_back_unchanged(tmp_path: Path) -> None:
    # the reason for the quoting: Pacemaker 2.1.5's writer changes the first four values
    # and writes the fifth as text that is not XML
    changed = VALUES[:4]
    assert not set(_through_pacemaker(tmp_path, changed)) & set(changed)
    with pytest.raises(etree.XMLSyntaxError):
        _through_pacemaker(tmp_path, VALUES[4:5])
    stored = _through_pacemaker(tmp_path, [to_cib(v) for v in VALUES])
    assert [from_cib(v) for v in stored] == VALUES


@settings(max_examples=25, deadline=None)
@given(st.lists(xml_text, min_size=1, max_size=5))
@pytest.mark.skipif(not Path("/usr/sbin/cibadmin").exists(), reason="needs Pacemaker")
def test_any_text_survives_pacemakers_writer(values: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        stored = _through_pacemaker(Path(scratch), [to_cib(v) for v in values])
    assert [from_cib(v) for v in stored] == values
