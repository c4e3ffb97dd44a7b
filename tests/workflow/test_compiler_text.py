"""The compiler writes the CIB text itself: the same bytes lxml would write."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from haflow.coordinator.workflow.compiler import CompiledWorkflow, Node, compile_workflow
from haflow.coordinator.workflow.loader import loads
from haflow.encoding.value import from_cib, unkeepable

pytestmark = pytest.mark.tier0

# what XML 1.0 can hold (the loader refuses the rest, see model.NOT_XML)
xml_text = st.text(st.characters(blacklist_categories=("Cs",), min_codepoint=0x9).filter(
    lambda c: c in "\t\n\r" or (ord(c) >= 0x20 and c not in "\ufffe\uffff")), max_size=12)


def as_lxml(node: Node) -> etree._Element:
    element = etree.Element(node.tag, node.attrs)
    element.extend(as_lxml(child) for child in node.children)
    return element


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(xml_text, xml_text), min_size=1, max_size=4), st.booleans())
def test_any_attribute_value_is_written_as_lxml_writes_it(
    values: list[tuple[str, str]], nested: bool
) -> None:
    compiled = CompiledWorkflow("w")
    for i, (first, second) in enumerate(values):
        primitive = Node("primitive", {"id": f"w.s{i}", "description": first})
        if nested:
            primitive.children.append(Node("nvpair", {"id": f"w.s{i}.p", "value": second}))
        compiled.resource_nodes.append(primitive)
    ours = compiled.to_xml()
    theirs = etree.tostring(as_lxml(compiled._config()), pretty_print=True, encoding="utf-8")
    assert ours == theirs
    # and the compact form, which merge_into parses, holds the same values
    parsed = compiled.fragment().find("resources")
    assert parsed is not None
    assert [p.get("description") for p in parsed] == [first for first, _ in values]


def lxml_pretty(xml: bytes) -> bytes:
    """What lxml writes for the same elements (whitespace between them dropped)."""
    parser = etree.XMLParser(remove_blank_text=True)
    return etree.tostring(etree.fromstring(xml, parser), pretty_print=True, encoding="utf-8")


# and what YAML takes as raw text (no C1 controls), for a workflow file
yaml_text = xml_text.filter(lambda t: not any(0x7F <= ord(c) <= 0x9F for c in t))


@settings(max_examples=150, deadline=None)
# a rule value Pacemaker's writer would change is refused (BAD_RULE, encoding/value.py)
@given(yaml_text, yaml_text, yaml_text.filter(lambda t: unkeepable(t) is None))
def test_a_workflow_with_any_text_compiles_to_what_lxml_writes(
    description: str, command: str, node: str
) -> None:
    description = description or "d"
    wf = loads(json.dumps({
        "name": "w", "description": description,
        "steps": {"a": {"agent": "exec", "params": {"do": command or "x"}},
                  "b": {"agent": "test", "after": ["a"],
                        "rules": [{"attribute": "site", "op": "eq", "value": node}]}},
    }, ensure_ascii=False), "w.yaml")
    xml = compile_workflow(wf, submission=command or "1").to_xml()
    assert xml == lxml_pretty(xml)
    # the text is the value, whatever had to be escaped on the way (and quoted for
    # Pacemaker's writer: encoding/value.py)
    root = etree.fromstring(xml)
    assert from_cib(root.find(".//nvpair[@name='description']").get("value")) == description
    assert from_cib(etree.fromstring(compile_workflow(wf).to_xml(pretty=False)).find(
        ".//nvpair[@name='do']").get("value")) == (command or "x")
