"""A step's live state: attributes under the CIB's ``<status>`` element, written by its agent.

What an agent records as a step runs — whether its effect may exist, its
outputs, each start's and stop's history record — goes under ``<status>``
(names in meta.py), where a change makes no transition abort and no fencer
recompute its devices: on one ``<haflow-live id=WORKFLOW>`` element per
workflow (``ELEMENT``). One element per workflow, not attributes of
``<status>`` itself, because Pacemaker's CIB manager spends time on each write
in proportion to the square of the changed element's attribute count (one write
with 3,000 attributes on ``<status>``: 2.4 s, 9,000: 27 s; the same 3,000 on
30 elements: 0.5 s, measured on a CIB file). ``<status>``'s own attributes,
where earlier versions wrote, are read still (an element's value outranks
them) and dropped by the next compaction.

The configuration holds the durable copy, written by a checkpoint once per
workflow run (agents/checkpoint.py). A live value outranks the durable one, ""
included (undone); a live history record and its durable copy share their key,
so a record is read once. Once the copy says the same, a compaction drops the
live value (``droppable``), and the element once nothing is left on it. Only a
compaction takes a live value away, and only in a CIB whose configuration holds
its copy: a configuration replaced meanwhile by a stale one (pcs's
read-modify-replace commands, such as ``pcs resource delete``, revert what was
written between their read and their write) takes the copy, not the value, and
the next checkpoint writes it again.

Stdlib only and cheap to import: agents read it on their start and stop paths.
"""

from __future__ import annotations

from haflow.encoding.ids import root_id
from haflow.encoding.meta import (
    EFFECT_PRESENT,
    EFFECT_STATUS_PREFIX,
    EVENT_STATUS_PREFIX,
    OUTPUTS_STATUS_PREFIX,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from haflow.encoding.element import E

Record = tuple[str, str, str]  # workflow, key (record.key), value (record.format_value)
# a configured primitive's durable copy: its effect flag (None: unset), its outputs, and
# the keys of the history records in its history set (a root's)
Durable = tuple[str | None, dict[str, str], frozenset[str]]
VERSION = ("admin_epoch", "epoch", "num_updates")  # the <cib> attributes of its version
ELEMENT = "haflow-live"  # a child of <status>, id = its workflow: that workflow's live state


def attributes(cib: E) -> dict[str, str]:
    """The live state under ``cib``'s ``<status>`` element (none without one)."""
    status = cib.find("status")
    return {} if status is None else attributes_of(status)


def attributes_of(status: E) -> dict[str, str]:
    """The live state a ``<status>`` element holds: its own attributes (written by earlier
    versions), then its ``ELEMENT`` children's but their ids, which outrank them."""
    found = {str(k): str(v) for k, v in status.items()}
    for element in status.findall(ELEMENT):
        found.update((str(k), str(v)) for k, v in element.items() if k != "id")
    return found


def path(workflow: str) -> str:
    """The xpath of ``workflow``'s ``ELEMENT`` (workflow names need no quoting: ids.py)."""
    return f"/cib/status/{ELEMENT}[@id='{workflow}']"


def done(live: Mapping[str, str], workflow: str) -> int:
    """How many of the workflow's steps have their live effect flag present."""
    prefix = f"{EFFECT_STATUS_PREFIX}{workflow}."
    return sum(1 for name, value in live.items()
               if value == EFFECT_PRESENT and name.startswith(prefix))


def flags(live: Mapping[str, str], workflow: str) -> int:
    """How many of the workflow's steps have a live effect flag, whatever its value."""
    prefix = f"{EFFECT_STATUS_PREFIX}{workflow}."
    return sum(1 for name in live if name.startswith(prefix))


def effect_name(resource: str) -> str:
    return EFFECT_STATUS_PREFIX + resource


def outputs_name(resource: str) -> str:
    return OUTPUTS_STATUS_PREFIX + resource


def event_name(workflow: str, key: str) -> str:
    return f"{EVENT_STATUS_PREFIX}{workflow}.{key}"


def encode_outputs(outputs: Mapping[str, str]) -> str:
    """Outputs as one value: JSON in ASCII (escaped: Pacemaker's writer keeps it, value.py)."""
    import json

    return json.dumps(dict(outputs), sort_keys=True, separators=(",", ":"))


def decode_outputs(text: str) -> dict[str, str]:
    """The outputs ``encode_outputs`` wrote; none for "" (cleared) or a value not its own."""
    if not text:
        return {}
    import json

    try:
        found = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(k): str(v) for k, v in found.items()}


def effect(live: Mapping[str, str], resource: str) -> str | None:
    """The step's live effect flag (pending, present, "" once undone); None if unset."""
    return live.get(EFFECT_STATUS_PREFIX + resource)


def outputs(live: Mapping[str, str], resource: str) -> dict[str, str] | None:
    """The step's live outputs; None when it has none on ``<status>`` (then the durable
    copy holds them)."""
    text = live.get(OUTPUTS_STATUS_PREFIX + resource)
    return None if text is None else decode_outputs(text)


def events(live: Mapping[str, str], workflow: str) -> dict[str, str]:
    """The workflow's live history records: key -> value ("" once a checkpoint copied
    the record: left out)."""
    prefix = f"{EVENT_STATUS_PREFIX}{workflow}."
    return {name[len(prefix):]: value for name, value in live.items()
            if value and name.startswith(prefix)}


def of_workflow(live: Mapping[str, str], workflow: str) -> list[str]:
    """The names of every live attribute of ``workflow`` (steps' ids are ``WF.S``)."""
    prefixes = tuple(p + workflow + "." for p in (EFFECT_STATUS_PREFIX, OUTPUTS_STATUS_PREFIX,
                                                  EVENT_STATUS_PREFIX))
    return [name for name in live if name.startswith(prefixes)]


def step_state(resource: str, effect: str | None = None,
               outputs: Mapping[str, str] | None = None,
               event: Record | None = None) -> dict[str, str]:
    """The ``<status>`` attributes that record a step's action: its effect flag (unless
    None), its outputs (unless None; {} for none) and ``event`` in its history."""
    attrs: dict[str, str] = {}
    if effect is not None:
        attrs[effect_name(resource)] = effect
    if outputs is not None:
        attrs[outputs_name(resource)] = encode_outputs(outputs) if outputs else ""
    if event is not None:
        workflow, key, value = event
        attrs[event_name(workflow, key)] = value
    return attrs


def droppable(name: str, value: str, durable: Mapping[str, Durable]) -> bool:
    """Whether a ``<status>`` attribute can go (``durable``: every configured primitive's
    durable copy, by id): a history record its root's history set holds too (or one an
    older checkpoint cleared: ""), a flag or outputs their durable copy now says too
    (read the same without it), or anything of a step or workflow no longer configured
    (removed)."""
    if name.startswith(EVENT_STATUS_PREFIX):
        workflow, _, key = name[len(EVENT_STATUS_PREFIX):].partition(".")
        root = durable.get(root_id(workflow))
        return not value or root is None or key in root[2]
    if name.startswith(EFFECT_STATUS_PREFIX):
        copy = durable.get(name[len(EFFECT_STATUS_PREFIX):])
        return copy is None or (copy[0] or "") == value
    if name.startswith(OUTPUTS_STATUS_PREFIX):
        copy = durable.get(name[len(OUTPUTS_STATUS_PREFIX):])
        return copy is None or decode_outputs(value) == copy[1]
    return False


def compaction_patch(version: E, status: E, durable: Mapping[str, Durable],
                     workflows: Collection[str] | None = None) -> tuple[E, int] | None:
    """A patch (crm_diff's v2 format) that drops the ``droppable`` live state under
    ``status`` (only ``workflows``', if given: ``durable`` then need only hold their
    primitives), and how many attributes it drops; None when there is nothing to drop.
    The CIB applies it only while its version is ``version``'s (the ``<cib>`` element,
    read before ``status`` and ``durable``, read.durable_copies).

    A workflow's element goes whole once nothing is left on it, so what a done workflow
    leaves costs later writes nothing. An attribute of ``<status>`` itself goes too once
    an element's holds its name: it would be read again once that one is dropped.

    A v2 change of an element's attributes replaces all of them (no patch format
    removes one alone), and a delete takes whatever the element holds: without the
    version check, an attribute written after ``status`` was read would be lost. With
    it, the CIB refuses the patch once anything has changed since, and nothing is
    lost."""
    elements = [e for e in status.findall(ELEMENT)
                if workflows is None or e.get("id") in workflows]
    shadowed = {str(k) for e in status.findall(ELEMENT) for k, _ in e.items() if k != "id"}
    own = {str(k): str(v) for k, v in status.items()}
    names = list(own) if workflows is None else \
        [n for w in workflows for n in of_workflow(own, w)]
    diff = status.makeelement("diff", {"format": "2"})
    dropped = _drop(diff, "/cib/status", "status", own, [
        n for n in names if n in shadowed or droppable(n, own[n], durable)])
    for element in elements:
        attrs = {str(k): str(v) for k, v in element.items()}
        at = path(attrs.pop("id", ""))
        drop = [n for n in attrs if droppable(n, attrs[n], durable)]
        if len(drop) == len(attrs):
            _child(diff, "change", {"operation": "delete", "path": at})
            dropped += len(drop)
        else:
            dropped += _drop(diff, at, ELEMENT, {"id": element.get("id", ""), **attrs}, drop)
    if not len(diff):
        return None
    source = {k: str(version.get(k) or "0") for k in VERSION}
    target = dict(source, num_updates=str(int(source["num_updates"]) + 1))
    versions = status.makeelement("version", {})
    diff.insert(0, versions)
    _child(versions, "source", source)
    _child(versions, "target", target)
    return diff, dropped


def _drop(diff: E, at: str, tag: str, attrs: Mapping[str, str], drop: list[str]) -> int:
    """Add to ``diff`` the change that unsets ``drop`` of ``attrs``, the attributes of the
    ``tag`` element at xpath ``at``, if any; how many."""
    if not drop:
        return 0
    change = _child(diff, "change", {"operation": "modify", "path": at})
    changes = _child(change, "change-list")
    for name in drop:
        _child(changes, "change-attr", {"name": name, "operation": "unset"})
    gone = set(drop)
    _child(_child(change, "change-result"), tag,
           {n: v for n, v in attrs.items() if n not in gone})
    return len(drop)


def _child(parent: E, tag: str, attrib: Mapping[str, str] | None = None) -> E:
    made = parent.makeelement(tag, dict(attrib or {}))
    parent.append(made)
    return made
