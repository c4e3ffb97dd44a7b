"""Compare CIB configuration written by different tools, ignoring what is only spelling.

pcs and haflow write the same configuration with different incidental details:
pcs names sub-elements itself (``W.a-instance_attributes``, ``W.a-monitor-interval-10s``,
``W-set_set``), writes Pacemaker's defaults out (``first-action="start"``,
``interval="0s"``), leaves out a rule's ``boolean-op`` when it has one
expression, and may leave an empty ``<operations/>``. None of that changes
what Pacemaker does. So the normal form keeps every id that names something
(primitives, constraints, tags: what other objects and admins refer to) and drops
the ids of sub-elements; durations become milliseconds; defaults are filled in;
empty containers are dropped; children are sorted where their order carries no
meaning (nvpairs, ops, a clone's meta attributes and primitive), while the order
of resource sets and of their members is kept (it does).
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

NAMED = {"primitive", "group", "clone", "bundle", "rsc_order", "rsc_colocation",
         "rsc_location", "rsc_ticket", "tag"}
DURATION = re.compile(r"^(\d+)(ms|msec|s|sec|m|min|h|hr)?$")
FACTOR = {None: 1000, "s": 1000, "sec": 1000, "ms": 1, "msec": 1, "m": 60_000, "min": 60_000,
          "h": 3_600_000, "hr": 3_600_000}
DURATION_ATTRS = {"interval", "timeout", "start-delay", "interval-origin"}
DEFAULTS = {"rsc_order": {"first-action": "start", "then-action": "start"}}
# where the order of children means something (sets in sequence, members of a set)
ORDERED = {"rsc_order", "rsc_colocation", "rsc_location", "rsc_ticket", "resource_set", "group"}


def ms(value: str) -> str:
    match = DURATION.match(value.strip())
    return str(int(match.group(1)) * FACTOR[match.group(2)]) if match else value


def normal(element: etree._Element) -> Any:
    """A hashable, comparable normal form of one CIB element (see the module doc)."""
    attrs = dict(DEFAULTS.get(str(element.tag), {}))
    for key, value in element.attrib.items():
        if key == "id" and element.tag not in NAMED:
            continue
        attrs[key] = ms(value) if key in DURATION_ATTRS else value
    if element.tag == "rule" and (len(element) < 2 or attrs.get("boolean-op") == "and"):
        attrs.pop("boolean-op", None)  # "and" is the default; one expression has no op
    children = [normal(c) for c in element if isinstance(c.tag, str)]
    children = [c for c in children if not (c[0] in ("operations", "meta_attributes",
                                                     "instance_attributes") and not c[2])]
    if element.tag not in ORDERED:
        children.sort()
    return (str(element.tag), tuple(sorted(attrs.items())), tuple(children))


def snapshot(cib: etree._Element, workflow: str) -> dict[str, list[Any]]:
    """The normal form of a workflow's resources, constraints and tag in ``cib``."""
    prefix = f"{workflow}."
    config = cib.find("configuration")
    assert config is not None

    def refers(element: etree._Element) -> bool:
        text = etree.tostring(element, encoding="unicode")
        return f'"{prefix}' in text or f'id="{workflow}"' in text

    out: dict[str, list[Any]] = {}
    for section in ("resources", "constraints", "tags"):
        found = config.find(section)
        items = [] if found is None else [e for e in found if isinstance(e.tag, str)]
        out[section] = sorted(normal(e) for e in items if refers(e))
    return out


def differences(got: dict[str, list[Any]], expected: dict[str, list[Any]]) -> list[str]:
    """What differs, element by element (empty when equal): readable assertion messages."""
    lines = []
    for section in sorted(set(got) | set(expected)):
        mine, theirs = set(got.get(section, [])), set(expected.get(section, []))
        lines += [f"{section}: only expected: {e}" for e in sorted(theirs - mine)]
        lines += [f"{section}: only got:      {e}" for e in sorted(mine - theirs)]
    return lines
