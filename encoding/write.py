"""Writers over a CIB: target-roles, a step's outputs and effect flag, history, the sweep set.

Written against the ElementTree API (element.py), like read.py: the coordinator
edits a copy of the live CIB (lxml) and pushes the difference; the agents
(stdlib ``xml.etree``) fill a bare ``<primitive id=...>`` and send it with
``cibadmin --modify``, which merges it by id. Either way the same sets and
nvpairs, with the same ids (ids.py), come out. ElementTree has no
``getparent()``: whatever is removed is removed from a parent found by
iterating.
"""

from __future__ import annotations

from haflow.encoding.ids import (
    HISTORY_SET_SUFFIX,
    OUTPUTS_SET_SUFFIX,
    SWEEP_SET_SUFFIX,
    history_set_id,
    meta_set_id,
    nvpair_id,
    outputs_set_id,
    sweep_set_id,
)
from haflow.encoding.meta import (
    EFFECT_META,
    EVENT_META_PREFIX,
    OUTPUT_META_PREFIX,
    STARTED,
    TARGET_ROLE,
)
from haflow.encoding.read import resources_of
from haflow.encoding.record import format_value, key
from haflow.encoding.value import to_cib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from haflow.encoding.element import E
    from haflow.encoding.record import Event

SETS = ("instance_attributes", "meta_attributes")
# a set with this score outranks the resource's other meta attributes
INFINITY = "INFINITY"


def meta_set(primitive: E, set_id: str, score: str | None = None) -> E:
    """The primitive's meta attribute set ``set_id``, added if absent (after its other sets,
    before its operations: the order crm_mon and the compiler show)."""
    for found in primitive.findall("meta_attributes"):
        if found.get("id") == set_id:
            return found
    attrib = {"id": set_id} if score is None else {"id": set_id, "score": score}
    made = primitive.makeelement("meta_attributes", attrib)
    children = list(primitive)
    at = max((i + 1 for i, c in enumerate(children) if c.tag in SETS), default=0)
    primitive.insert(at, made)
    return made


def set_nvpair(meta: E, name: str, value: str) -> E:
    """``name=value`` in the set ``meta``: the nvpair there changed, or one added with id
    ``ids.nvpair_id``."""
    for found in meta.findall("nvpair"):
        if found.get("name") == name:
            found.set("value", value)
            return found
    made = meta.makeelement("nvpair", {"id": nvpair_id(meta.get("id", ""), name), "name": name,
                                       "value": value})
    meta.append(made)
    return made


def set_role(cib: E, workflow: str, role: str | None) -> None:
    """Set ``role`` as the target-role of every resource of ``workflow`` (in place); ``None``
    removes it.

    A target-role already set (by hand, or by a former abort) is changed where it is,
    and any other one removed; without one, it goes into the resource's first meta
    attribute set that is not haflow's record of a run (``RESOURCE.meta`` if it has
    none: most haflow steps, whose meta attributes are the shared defaults): a
    checkpoint rewrites a step's outputs set, and would take it out again. The
    root's sweep set, which would outrank it, is removed.
    """
    sweep = sweep_set_id(workflow)
    records = (OUTPUTS_SET_SUFFIX, HISTORY_SET_SUFFIX, SWEEP_SET_SUFFIX)
    for primitive in resources_of(cib, workflow):
        for meta in primitive.findall("meta_attributes"):
            if meta.get("id") == sweep:
                primitive.remove(meta)
        held = [(m, n) for m in primitive.findall("meta_attributes")
                for n in m.findall("nvpair") if n.get("name") == TARGET_ROLE]
        for meta, nvpair in held[1:] if role is not None else held:
            meta.remove(nvpair)
        if role is None:
            continue
        if held:
            held[0][1].set("value", role)
            continue
        rid = primitive.get("id", "")
        sets = [m for m in primitive.findall("meta_attributes")
                if m.get("id") not in {rid + suffix for suffix in records}]
        meta = sets[0] if sets else meta_set(primitive, meta_set_id(rid))
        set_nvpair(meta, TARGET_ROLE, role)


def outputs(primitive: E, values: Mapping[str, str], effect: str | None = None) -> E:
    """A step's outputs (and its effect flag, meta.EFFECT_META, unless None) in its set
    ``ids.outputs_set_id``; returns the set."""
    meta = meta_set(primitive, outputs_set_id(primitive.get("id", "")))
    for name, value in sorted(values.items()):
        set_nvpair(meta, OUTPUT_META_PREFIX + name, to_cib(value))
    if effect is not None:
        set_nvpair(meta, EFFECT_META, effect)
    return meta


def add_record(root: E, workflow: str, event_key: str, value: str) -> E:
    """One history record (record.py) on the workflow's root, named by its key."""
    return set_nvpair(meta_set(root, history_set_id(workflow)), EVENT_META_PREFIX + event_key,
                      value)


def add_event(root: E, workflow: str, event: Event, what: str) -> E:
    """``event`` in the workflow's history, keyed by its time, node and ``what``."""
    return add_record(root, workflow, key(event.time, event.node, what), format_value(event))


def ask_sweep(root: E, workflow: str) -> E:
    """The root's sweep set (ids.SWEEP_SET_SUFFIX): target-role=Started at score INFINITY,
    over an abort's Stopped, until the root's start deletes it again."""
    meta = meta_set(root, sweep_set_id(workflow), score=INFINITY)
    set_nvpair(meta, TARGET_ROLE, STARTED)
    return meta
