"""The durable copy of a workflow's live state: one configuration change per workflow run.

A step's agent records what it did under the CIB's ``<status>`` element
(encoding/live.py), which outlives any node's crash but not the whole
cluster stopping. A checkpoint copies it into the configuration, which is
kept on disk: each step's effect flag and outputs into its outputs set
(ids.outputs_set_id), the history records into the root's history set. The live
values stay: a compaction (``compact``) drops them once it reads a configuration
that holds their copy, so a configuration replaced meanwhile by a stale copy (pcs's
read-modify-replace, seen in the fault suite: ``pcs resource delete`` took a
checkpoint away 140 ms after it was written) leaves them for the next checkpoint
to copy again. It is asked for when a last step
of a workflow starts and finds every haflow step done (meta.LAST_STEP_META),
and when its root stops (the end of a rollback): a change under the
configuration aborts the DC's transition, so once per run, not once per step, and
the runs that end together on a node are checkpointed in one change
(agents/checkpointer.py).

The live values stay and outrank the copy: a step undone after the
checkpoint is read as undone, and the next checkpoint catches its copy up.
Lost with the cluster's status section, the copy is what is read: a step it
still calls present is undone again by a rollback (undo is idempotent).
Two checkpoints at once write the same thing (a change merges or replaces an
outputs set, and merges records by id), so no lock is needed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from haflow.encoding import live, read, write
from haflow.encoding.ids import history_set_id, outputs_set_id
from haflow.encoding.meta import EFFECT_META, EVENT_META_PREFIX

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

ADDED, REMOVED = "added:top", "removed:top"
MARKER = "__crm_diff_marker__"
COMPACT_TRIES = 3  # a cluster busy enough to change under every try is compacted later


def _set_values(primitive: ET.Element, set_id: str) -> dict[str, str] | None:
    for meta in primitive.findall("meta_attributes"):
        if meta.get("id") == set_id:
            return _values(meta)
    return None


def _resources(holder: ET.Element) -> ET.Element:
    found = holder.find("configuration/resources")
    if found is None:
        found = ET.SubElement(ET.SubElement(holder, "configuration"), "resources")
    return found


def _step_copy(primitive: ET.Element, live_state: dict[str, str]) -> StepCopy | None:
    """What one step's durable copy must become to say what its live state says (None:
    it says it already)."""
    rid = primitive.get("id", "")
    effect, outputs = live.effect(live_state, rid), live.outputs(live_state, rid)
    if effect is None and outputs is None:
        return None
    set_id = outputs_set_id(rid)
    durable = _set_values(primitive, set_id)
    copy = durable or {}
    flag = effect if effect is not None else copy.get(EFFECT_META)
    if flag == "" and durable is None:
        flag = None  # undone, and never copied: nothing to say
    wanted_set = write.outputs(ET.Element("primitive", id=rid),
                               read.outputs(copy) if outputs is None else outputs, flag)
    wanted = _values(wanted_set)
    if durable is None:
        return StepCopy(rid, wanted_set, new=True, drops=False) if wanted else None
    if wanted.get(EFFECT_META) == "":
        # undone: the flag "" hides the outputs (read.outputs), so theirs are cleared in
        # place rather than removed, which only a patch can do
        for name in sorted(durable.keys() - wanted.keys()):
            write.set_nvpair(wanted_set, name, "")
        wanted = _values(wanted_set)
    if wanted == durable:
        return None
    return StepCopy(rid, wanted_set, new=False, drops=bool(durable.keys() - wanted.keys()))


def _values(meta: ET.Element) -> dict[str, str]:
    return {n.get("name", ""): n.get("value", "") for n in meta.findall("nvpair")}


@dataclass
class StepCopy:
    """A step's outputs set as its durable copy must read (``new``: it has none yet;
    ``drops``: some of its nvpairs must go)."""

    resource: str
    wanted: ET.Element
    new: bool
    drops: bool


def change_for(cib: ET.Element, *workflows: str) -> tuple[str, ET.Element] | None:
    """The checkpoint of ``workflows`` as one CIB change: copying their live state
    (``cib``: their configuration and their live state under ``<status>``) into the
    configuration. None when there is nothing to copy (a workflow without a root has
    nothing to copy to).

    ``("modify", <cib>)``, to merge with ``cibadmin --modify``, unless an nvpair must
    go (outputs a step no longer has), which a merge cannot do: then ``("patch",
    <diff>)``, a versionless patch (crm_diff's v1 format) that replaces the steps' sets.
    The merge costs every node's CIB manager about half what the patch does (measured
    on a lab: 0.5 s against 0.9 s with 200 steps), and a rollback's checkpoint, whose
    steps' flags become "", merges too."""
    live_state = live.attributes(cib)
    steps: list[StepCopy] = []
    histories: list[tuple[str, ET.Element, dict[str, str] | None, dict[str, str]]] = []
    for workflow in dict.fromkeys(workflows):
        root = read.root_of(cib, workflow)
        if root is None:
            continue
        steps += [c for p in read.resources_of(cib, workflow) if read.is_haflow_step(p)
                  and (c := _step_copy(p, live_state)) is not None]
        history = _set_values(root, history_set_id(workflow))
        copied = history or {}
        records = {k: v for k, v in live.events(live_state, workflow).items()
                   if copied.get(EVENT_META_PREFIX + k) != v}
        if records:
            histories.append((workflow, root, history, records))
    if not steps and not histories:
        return None
    patch = any(c.drops for c in steps)
    added, removed = ET.Element("cib"), ET.Element("cib")
    for c in steps:
        if patch and not c.new:
            ET.SubElement(ET.SubElement(_resources(removed), "primitive", id=c.resource),
                          "meta_attributes", {"id": c.wanted.get("id", ""), MARKER: REMOVED})
        if patch:
            c.wanted.set(MARKER, ADDED)
        ET.SubElement(_resources(added), "primitive", id=c.resource).append(c.wanted)
    for workflow, root, history, records in histories:
        copy = ET.SubElement(_resources(added), "primitive", id=root.get("id", ""))
        for key, value in sorted(records.items()):
            nvpair = write.add_record(copy, workflow, key, value)
            if patch and history is not None:
                nvpair.set(MARKER, ADDED)
        if patch and history is None:
            copy[0].set(MARKER, ADDED)
    if not patch:
        return "modify", added
    diff = ET.Element("diff", format="1")
    ET.SubElement(diff, "diff-removed").append(removed)
    ET.SubElement(diff, "diff-added").append(added)
    return "patch", diff


def compact(workflows: list[str], log: Callable[[str, str], None]) -> int:
    """Drop the live state of ``workflows`` nothing needs any more (live.droppable), in
    one change; how many attributes. The patch is checked against the CIB's version read
    first: a CIB that changed meanwhile refuses it, and it is read again, up to
    COMPACT_TRIES times. What removed workflows left is for ``haflow remove`` and
    ``haflow submit`` (coordinator/cluster/livecib.py): an agent reads its own
    workflows' part of the configuration only."""
    from haflow.agents import cibio

    last: Exception | None = None
    for _ in range(COMPACT_TRIES):
        try:
            version = cibio.version()  # first: what changes after it fails the patch
            cib = cibio.workflows_configuration(workflows)
            status = cib.find("status")
            if status is None:
                return 0
            compaction = live.compaction_patch(version, status, read.durable_copies(cib),
                                               set(workflows))
            if compaction is None:
                return 0
            cibio.patch(compaction[0])
            return compaction[1]
        except cibio.CibUnavailable as exc:
            last = exc
    log("INFO", f"the status section's cleared records are left for later: {last}")
    return 0


def write_now(workflows: list[str], log: Callable[[str, str], None]) -> bool:
    """Checkpoint ``workflows`` now, in one change, then drop the live state no longer
    needed; whether the checkpoint made a change. Raises cibio.CibUnavailable when the
    CIB does not take it: the live state stays as it is, for the next checkpoint."""
    from haflow.agents import cibio

    change = change_for(cibio.workflows_configuration(workflows), *workflows)
    if change is None:
        return False
    kind, content = change
    if kind == "modify":
        cibio.modify(content)
    else:
        cibio.patch(content)
    compact(workflows, log)
    return True


def run(workflows: list[str], log: Callable[[str, str], None]) -> bool:
    """``write_now``, a CIB that does not take it logged and left for later."""
    from haflow.agents import cibio

    try:
        return write_now(workflows, log)
    except cibio.CibUnavailable as exc:
        log("WARNING", f"the checkpoint of {', '.join(workflows)} is left for later: {exc}")
        return False
