"""The encoding's readers and writers give the same CIB with stdlib ElementTree and with lxml.

The agents edit the CIB with ``xml.etree`` and the coordinator with lxml,
through the same functions (haflow.encoding.read and .write): each test runs
on both, and set_role must make the same XML of the same CIB with both.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree

from haflow.agents import checkpoint
from haflow.agents.alert import agent as alert
from haflow.agents.alert import spool
from haflow.encoding import live, read, record, write

pytestmark = pytest.mark.tier0

CIB = """<cib><configuration><resources>
  <primitive id="wf.root" class="ocf" provider="haflow" type="workflow">
    <instance_attributes id="wf.root.params">
      <nvpair id="wf.root.params.workflow" name="workflow" value="wf"/>
    </instance_attributes>
    <meta_attributes id="wf.root.meta">
      <nvpair id="wf.root.meta.haflow-failure-policy" name="haflow-failure-policy"
              value="rollback"/>
    </meta_attributes>
    <operations><op id="wf.root.start" name="start" interval="0s"/></operations>
    <meta_attributes id="wf.root.sweep" score="INFINITY">
      <nvpair id="wf.root.sweep.target-role" name="target-role" value="Started"/>
    </meta_attributes>
  </primitive>
  <primitive id="wf.a" class="ocf" provider="haflow" type="test">
    <instance_attributes id="wf.a.params">
      <nvpair id="wf.a.params.workflow" name="workflow" value="wf"/>
      <nvpair id="wf.a.params.submission" name="submission" value="s1"/>
    </instance_attributes>
    <meta_attributes id="wf.a.meta">
      <nvpair id="wf.a.meta.migration-threshold" name="migration-threshold" value="2"/>
    </meta_attributes>
    <operations><op id="wf.a.start" name="start" interval="0s"/></operations>
    <meta_attributes id="wf.a.outputs">
      <nvpair id="wf.a.outputs.haflow-effect" name="haflow-effect" value="present"/>
    </meta_attributes>
  </primitive>
  <primitive id="wf.b" class="ocf" provider="heartbeat" type="Dummy">
    <meta_attributes id="wf.b.meta">
      <nvpair id="wf.b.meta.resource-stickiness" name="resource-stickiness" value="INFINITY"/>
    </meta_attributes>
    <meta_attributes id="by-hand">
      <nvpair id="by-hand-role" name="target-role" value="Started"/>
      <nvpair id="by-hand-role-2" name="target-role" value="Started"/>
    </meta_attributes>
  </primitive>
  <primitive id="wf.c" class="ocf" provider="haflow" type="test">
    <instance_attributes id="wf.c.params">
      <nvpair id="wf.c.params.step" name="step" value="c"/>
    </instance_attributes>
    <operations><op id="wf.c.start" name="start" interval="0s"/></operations>
  </primitive>
  <primitive id="wfx.root" class="ocf" provider="haflow" type="workflow">
    <meta_attributes id="wfx.root.meta">
      <nvpair id="wfx.root.meta.target-role" name="target-role" value="Started"/>
    </meta_attributes>
  </primitive>
  <primitive id="wfx.a" class="ocf" provider="haflow" type="test">
    <instance_attributes id="wfx.a.params">
      <nvpair id="wfx.a.params.workflow" name="workflow" value="wf"/>
    </instance_attributes>
    <meta_attributes id="wfx.a.outputs">
      <nvpair id="wfx.a.outputs.haflow-effect" name="haflow-effect" value="present"/>
    </meta_attributes>
  </primitive>
</resources><constraints>
  <rsc_location id="wf.root.place.a" rsc="wf.a">
    <rule id="wf.root.place.a.nodes" score="-INFINITY" boolean-op="and">
      <expression id="wf.root.place.a.nodes.0" attribute="#uname" operation="ne" value="n1"/>
    </rule>
  </rsc_location>
  <rsc_order id="wfx.root.order.a" first="wfx.root" then="wfx.a"/>
</constraints><tags>
  <tag id="wf"><obj_ref id="wf.a"/></tag>
  <tag id="wfx"><obj_ref id="wfx.a"/></tag>
</tags></configuration><status/></cib>"""


class Lib:
    """One ElementTree implementation: parse, serialize (canonical), make an element."""

    def __init__(self, name: str, parse: Callable[[str], Any], text: Callable[[Any], str],
                 element: Callable[..., Any]) -> None:
        self.name = name
        self.parse = parse
        self._text = text
        self.element = element

    def canonical(self, element: Any) -> str:
        return ET.canonicalize(self._text(element), strip_text=True)


STDLIB = Lib("xml.etree", ET.fromstring, lambda e: ET.tostring(e, encoding="unicode"),
             ET.Element)
LXML = Lib("lxml", etree.fromstring, lambda e: etree.tostring(e, encoding="unicode"),
           etree.Element)


@pytest.fixture(params=[STDLIB, LXML], ids=lambda lib: lib.name)
def lib(request: pytest.FixtureRequest) -> Lib:
    return request.param  # type: ignore[no-any-return]


def _roles(cib: Any) -> dict[str, list[tuple[str, str, str]]]:
    """Resource -> its target-roles as (set id, nvpair id, value)."""
    return {p.get("id"): [(m.get("id"), n.get("id"), n.get("value"))
                          for m in p.findall("meta_attributes") for n in m.findall("nvpair")
                          if n.get("name") == "target-role"]
            for p in cib.iter("primitive")}


# ---- readers ---------------------------------------------------------------------------


def test_the_readers_decide_a_workflows_elements_by_id(lib: Lib) -> None:
    cib = lib.parse(CIB)
    assert read.workflows(cib) == ["wf", "wfx"]
    # wfx.a says workflow=wf, but its id makes it wfx's
    assert [p.get("id") for p in read.resources_of(cib, "wf")] == ["wf.root", "wf.a", "wf.b",
                                                                   "wf.c"]
    assert [e.get("id") for e in read.elements_of(cib, "wfx")] == ["wfx.root", "wfx.a",
                                                                   "wfx.root.order.a", "wfx"]
    assert [p.get("id") for p in read.flagged_steps(cib, "wf")] == ["wf.a"]
    assert read.submission_of(cib, "wf") == "s1"
    assert read.banned(cib, "wf.a", "n2") and not read.banned(cib, "wf.a", "n1")
    resources = cib.find("configuration/resources")
    assert [p.get("id") for p in read.resources_of(resources, "wf")] == \
        [p.get("id") for p in read.resources_of(cib, "wf")]


def test_a_steps_live_flag_outranks_its_durable_copy(lib: Lib) -> None:
    # wf.c's do began (live only); wfx.a was undone after its checkpoint (cleared: "")
    flags = ('<status haflow-effect-wf.c="pending" haflow-effect-wfx.a="" '
             'haflow-effect-wf.gone="pending"/>')
    cib = lib.parse(CIB.replace("<status/>", flags))
    assert [p.get("id") for p in read.flagged_steps(cib, "wf")] == ["wf.a", "wf.c"]
    assert read.flagged_steps(cib, "wfx") == []
    # the status section lost (the whole cluster stopped): the durable copies decide
    resources = cib.find("configuration/resources")
    assert [p.get("id") for p in read.flagged_steps(resources, "wf")] == ["wf.a"]
    assert [p.get("id") for p in read.flagged_steps(resources, "wfx")] == ["wfx.a"]


def test_an_action_is_recorded_in_one_status_change(lib: Lib) -> None:
    undone = live.step_state("wf.a", effect="", outputs={}, event=("wf", "k1", "v1"))
    assert undone == {"haflow-effect-wf.a": "", "haflow-outputs-wf.a": "",
                      "haflow-event-wf.k1": "v1"}
    started = live.step_state("wf.a", "present", {"url": 'café "noir" <b>\n'})
    assert started["haflow-outputs-wf.a"].isascii()  # nothing Pacemaker's writer breaks
    status = lib.element("status", started)
    cib = lib.parse(CIB.replace("<status/>", lib._text(status)))
    step = read.primitive(cib, "wf.a")
    assert step is not None
    assert read.step_outputs(step, live.attributes(cib)) == {"url": 'café "noir" <b>\n'}
    # "" outranks the durable copy: cleared
    assert read.step_outputs(step, {"haflow-outputs-wf.a": ""}) == {}
    assert live.events({"haflow-event-wf.k1": "v1", "haflow-event-wf.k2": "",
                        "haflow-event-wfx.k3": "v3"}, "wf") == {"k1": "v1"}


def test_compaction_drops_only_what_nothing_needs(lib: Lib) -> None:
    attrs = {"haflow-event-wf.k1": "", "haflow-event-wf.k2": "v2",
             "haflow-event-wf.k4": "v4", "haflow-event-gone.k3": "v3", "haflow-effect-wf.a": "",
             "haflow-effect-gone.s": "present", "haflow-outputs-gone.s": "{}", "other": "",
             "haflow-effect-wf.b": "present", "haflow-outputs-wf.b": '{"k":"v"}',
             "haflow-effect-wf.c": "present", "haflow-outputs-wf.c": ""}
    durable: dict[str, live.Durable] = {
        "wf.root": (None, {}, frozenset({"k4"})), "wf.a": ("present", {}, frozenset()),
        "wf.b": ("present", {"k": "v"}, frozenset()), "wf.c": ("pending", {"k": "v"}, frozenset())}
    version = lib.element("cib", {"admin_epoch": "0", "epoch": "5", "num_updates": "9"})
    compaction = live.compaction_patch(version, lib.element("status", attrs), durable)
    assert compaction is not None
    patch, dropped = compaction
    assert dropped == 7
    # records the history set holds (or an older checkpoint cleared), what a removed
    # workflow left, and what the durable copy says too; k2 has no copy yet: it stays
    assert {c.get("name") for c in patch.iter("change-attr")} == {
        "haflow-event-wf.k1", "haflow-event-wf.k4", "haflow-event-gone.k3", "haflow-effect-gone.s",
        "haflow-outputs-gone.s", "haflow-effect-wf.b", "haflow-outputs-wf.b"}
    # wf.a's "" and wf.c's live state outrank a copy that says otherwise: they stay
    result = patch.find("change/change-result/status")
    assert result is not None and dict(result.attrib) == {
        "haflow-event-wf.k2": "v2", "haflow-effect-wf.a": "", "other": "",
        "haflow-effect-wf.c": "present", "haflow-outputs-wf.c": ""}
    assert dict(patch.find("version/source").attrib) == {  # type: ignore[union-attr]
        "admin_epoch": "0", "epoch": "5", "num_updates": "9"}
    assert patch.find("version/target").get("num_updates") == "10"  # type: ignore[union-attr]
    assert live.compaction_patch(version, lib.element("status", {"haflow-effect-wf.a": ""}),
                                 {"wf.a": ("present", {}, frozenset())}) is None
    # undone, and the copy caught up: nothing left to say live
    assert live.compaction_patch(version, lib.element("status", {"haflow-effect-wf.a": ""}),
                                 {"wf.a": (None, {}, frozenset())}) is not None


def test_each_workflows_live_state_is_its_own_element_and_goes_whole(lib: Lib) -> None:
    status = lib.element("status", {"haflow-effect-wf.a": "present", "haflow-effect-old.s": ""})
    wf = lib.element(live.ELEMENT, {"id": "wf", "haflow-effect-wf.a": "",
                                    "haflow-outputs-wf.a": "", "haflow-event-wf.k1": "v1"})
    done = lib.element(live.ELEMENT, {"id": "done", "haflow-effect-done.s": "present"})
    status.append(wf)
    status.append(done)
    # an element's value outranks what <status> itself holds (an earlier version's)
    assert live.attributes_of(status) == {
        "haflow-effect-wf.a": "", "haflow-effect-old.s": "", "haflow-outputs-wf.a": "",
        "haflow-event-wf.k1": "v1", "haflow-effect-done.s": "present"}
    durable: dict[str, live.Durable] = {
        "wf.root": (None, {}, frozenset()), "wf.a": ("", {}, frozenset()),
        "done.root": (None, {}, frozenset()), "done.s": ("present", {}, frozenset())}
    version = lib.element("cib", {"admin_epoch": "0", "epoch": "5", "num_updates": "9"})
    compaction = live.compaction_patch(version, status, durable)
    assert compaction is not None
    patch, dropped = compaction
    changes = {c.get("path"): c for c in patch.findall("change")}
    # <status>'s own: one an element holds too goes (it would be read once that one is
    # dropped), and one of a workflow no longer configured
    on_status = changes["/cib/status"]
    assert {a.get("name") for a in on_status.iter("change-attr")} == {
        "haflow-effect-wf.a", "haflow-effect-old.s"}
    assert on_status.find("change-result/status").attrib == {}  # type: ignore[union-attr]
    # wf's record has no copy yet: its element stays, with its id
    mine = changes["/cib/status/haflow-live[@id='wf']"]
    assert mine.get("operation") == "modify"
    assert dict(mine.find(f"change-result/{live.ELEMENT}").attrib) == {  # type: ignore[union-attr]
        "id": "wf", "haflow-event-wf.k1": "v1"}
    # done's copy says all: its element goes whole
    assert changes["/cib/status/haflow-live[@id='done']"].get("operation") == "delete"
    assert dropped == 2 + 2 + 1
    # an agent compacts its own workflow's only
    compaction = live.compaction_patch(version, status, durable, {"done"})
    assert compaction is not None
    assert [c.get("path") for c in compaction[0].findall("change")] == [
        "/cib/status/haflow-live[@id='done']"]


def test_the_sweep_set_is_no_configured_role(lib: Lib) -> None:
    cib = lib.parse(CIB)
    assert read.target_role(cib, "wf") is None  # only the sweep set says Started
    root = read.root_of(cib, "wf")
    assert root is not None
    assert read.configured_meta(root) == {"haflow-failure-policy": "rollback"}


# ---- set_role ----------------------------------------------------------------------------


def test_set_role_stops_every_resource_of_the_workflow_and_nothing_else(lib: Lib) -> None:
    cib = lib.parse(CIB)
    before = _roles(cib)
    write.set_role(cib, "wf", "Stopped")
    roles = _roles(cib)
    assert roles["wf.root"] == [("wf.root.meta", "wf.root.meta.target-role", "Stopped")]
    assert roles["wf.a"] == [("wf.a.meta", "wf.a.meta.target-role", "Stopped")]
    # one set by hand is changed where it is, the other one removed
    assert roles["wf.b"] == [("by-hand", "by-hand-role", "Stopped")]
    # no meta attributes at all: a set of its own, before the operations
    assert roles["wf.c"] == [("wf.c.meta", "wf.c.meta.target-role", "Stopped")]
    c = read.primitive(cib, "wf.c")
    assert c is not None and [x.tag for x in c] == ["instance_attributes", "meta_attributes",
                                                    "operations"]
    # the sweep set would outrank the abort
    root = read.root_of(cib, "wf")
    assert root is not None
    assert [m.get("id") for m in root.findall("meta_attributes")] == ["wf.root.meta"]
    assert {r: v for r, v in roles.items() if r.startswith("wfx.")} == \
        {r: v for r, v in before.items() if r.startswith("wfx.")}
    assert read.aborted(cib, "wf") and not read.aborted(cib, "wfx")


def test_set_role_keeps_the_role_out_of_a_steps_record_of_its_run(lib: Lib) -> None:
    """A step with no meta set of its own (its meta attributes are the shared defaults)
    and a checkpointed outputs set: the role goes into a set of its own, which no
    checkpoint rewrites (a rewritten outputs set would start the step again)."""
    cib = lib.parse(CIB)
    c = read.primitive(cib, "wf.c")
    assert c is not None
    write.outputs(c, {"id": "x"}, "present")
    write.set_role(cib, "wf", "Stopped")
    assert _roles(cib)["wf.c"] == [("wf.c.meta", "wf.c.meta.target-role", "Stopped")]
    assert [m.get("id") for m in c.findall("meta_attributes")] == ["wf.c.outputs",
                                                                   "wf.c.meta"]


def test_set_role_none_resumes(lib: Lib) -> None:
    cib = lib.parse(CIB)
    write.set_role(cib, "wf", "Stopped")
    write.set_role(cib, "wf", None)
    assert all(not v for r, v in _roles(cib).items() if r.startswith("wf."))
    assert read.target_role(cib, "wf") is None and not read.aborted(cib, "wf")
    assert _roles(cib)["wfx.root"] == [("wfx.root.meta", "wfx.root.meta.target-role",
                                        "Started")]


@pytest.mark.parametrize("role", ["Stopped", None])
def test_set_role_writes_the_same_xml_with_both_libraries(role: str | None) -> None:
    made = []
    for lib in (STDLIB, LXML):
        cib = lib.parse(CIB)
        write.set_role(cib, "wf", role)
        made.append(lib.canonical(cib))
    assert made[0] == made[1]


def test_the_alert_stops_a_workflow_as_set_role_does() -> None:
    """The alert agent sends the target-roles set_role made (a merge: cibadmin --modify)."""
    patch = ET.fromstring(alert.stop_everything(ET.fromstring(CIB), "wf"))
    stopped = LXML.parse(CIB)
    write.set_role(stopped, "wf", "Stopped")
    assert {r: v for r, v in _roles(patch).items()} == \
        {r: v for r, v in _roles(stopped).items() if r.startswith("wf.")}


# ---- outputs, history, sweep -------------------------------------------------------------


def test_outputs_and_effect_flag(lib: Lib) -> None:
    step = lib.element("primitive", id="wf.a")
    write.outputs(step, {"url": "http://x/1", "id": "7"}, effect="pending")
    assert lib.canonical(step) == (
        '<primitive id="wf.a"><meta_attributes id="wf.a.outputs">'
        '<nvpair id="wf.a.outputs.haflow-output-id" name="haflow-output-id" value="7"></nvpair>'
        '<nvpair id="wf.a.outputs.haflow-output-url" name="haflow-output-url" '
        'value="http://x/1"></nvpair>'
        '<nvpair id="wf.a.outputs.haflow-effect" name="haflow-effect" value="pending"></nvpair>'
        "</meta_attributes></primitive>")
    write.outputs(step, {"id": "8"}, effect="present")  # changed in place
    assert read.outputs(read.configured_meta(step)) == {"id": "8", "url": "http://x/1"}
    assert read.effect_flagged(step, {})
    assert len(step.findall("meta_attributes/nvpair")) == 3


def test_outputs_and_history_texts_pacemaker_would_break_are_quoted(lib: Lib) -> None:
    step = lib.element("primitive", id="wf.a")
    write.outputs(step, {"note": 'café "noir" <b>', "plain": "é"})
    stored = {n.get("name"): n.get("value") for n in step.iter("nvpair")}
    assert stored["haflow-output-note"] == '"caf\\u00e9 \\"noir\\" <b>"'
    assert stored["haflow-output-plain"] == "é"  # nothing to break: readable as it is
    assert read.outputs(read.configured_meta(step)) == {"note": 'café "noir" <b>',
                                                        "plain": "é"}
    cib = lib.parse(CIB)
    root = read.root_of(cib, "wf")
    assert root is not None
    failed = record.Event(1795672400.5, "n1", "a", "start", 1, 0, "failed",
                          'é: <no such file> "x"')
    nvpair = write.add_event(root, "wf", failed, "a")
    assert nvpair.get("value", "").isascii()
    assert [e.text for e in read.events(cib, "wf")] == ['é: <no such file> "x"']


def _checkpoint_of(recorded: dict[str, str], cib_text: str = CIB
                   ) -> tuple[str, ET.Element] | None:
    status = ET.tostring(ET.Element("status", recorded), encoding="unicode")
    return checkpoint.change_for(ET.fromstring(cib_text.replace("<status/>", status)), "wf")


def test_a_checkpoint_merges_the_live_state_as_the_writers_write_it() -> None:
    recorded = {"haflow-effect-wf.c": "present", "haflow-outputs-wf.c": '{"id":"7"}',
                "haflow-effect-wf.a": "", "haflow-event-wf.k1": "v1",
                "haflow-event-wfx.k2": "v2"}
    change = _checkpoint_of(recorded)
    assert change is not None and change[0] == "modify"
    merged = change[1]
    assert "__crm_diff_marker__" not in ET.tostring(merged, encoding="unicode")
    added = {p.get("id"): p for p in merged.findall("configuration/resources/primitive")}
    # wf.c: its outputs set as the writer makes it
    made = ET.Element("primitive", id="wf.c")
    write.outputs(made, {"id": "7"}, "present")
    assert STDLIB.canonical(added["wf.c"][0]) == STDLIB.canonical(made[0])
    # wf.a was undone: its set stays, its flag "" (a merge cannot remove an nvpair)
    assert {n.get("name"): n.get("value") for n in added["wf.a"].iter("nvpair")} == {
        "haflow-effect": ""}
    # wf's record into its history set (wfx's is not wf's); the live one stays for the
    # compaction, which drops it once it reads the copy
    assert added["wf.root"][0].get("id") == "wf.root.history"
    assert [n.get("value") for n in added["wf.root"].iter("nvpair")] == ["v1"]
    assert merged.find("status") is None
    # copied once: a record the history set holds is not written again
    root = '<primitive id="wf.root" class="ocf" provider="haflow" type="workflow">'
    held = CIB.replace(root, root + '<meta_attributes id="wf.root.history"><nvpair '
                       'id="wf.root.history.haflow-event-k1" name="haflow-event-k1" '
                       'value="v1"/></meta_attributes>')
    assert held != CIB
    assert _checkpoint_of({"haflow-event-wf.k1": "v1"}, held) is None


def test_an_undone_steps_copy_reads_unflagged_with_no_outputs() -> None:
    with_outputs = CIB.replace(
        '<nvpair id="wf.a.outputs.haflow-effect" name="haflow-effect" value="present"/>',
        '<nvpair id="wf.a.outputs.haflow-effect" name="haflow-effect" value="present"/>'
        '<nvpair id="wf.a.outputs.haflow-output-id" name="haflow-output-id" value="7"/>')
    change = _checkpoint_of({"haflow-effect-wf.a": "", "haflow-outputs-wf.a": ""},
                            with_outputs)
    assert change is not None and change[0] == "modify"
    copy = change[1].find("configuration/resources/primitive/meta_attributes")
    assert copy is not None
    assert {n.get("name"): n.get("value") for n in copy} == {
        "haflow-effect": "", "haflow-output-id": ""}
    # as the merge leaves it: the flag "" hides the outputs cleared in place
    step = ET.fromstring('<primitive id="wf.a"/>')
    step.append(copy)
    assert not read.effect_flagged(step, {})
    assert read.step_outputs(step, {}) == {}
    assert read.durable_copies(ET.fromstring(f"<cib>{ET.tostring(step).decode()}</cib>")
                               ) == {"wf.a": ("", {}, frozenset())}
    # said already: nothing to copy
    said = with_outputs.replace('value="present"/>', 'value=""/>').replace(
        'name="haflow-output-id" value="7"', 'name="haflow-output-id" value=""')
    assert _checkpoint_of({"haflow-effect-wf.a": "", "haflow-outputs-wf.a": ""},
                          said) is None


def test_a_checkpoint_that_must_drop_an_output_is_a_patch_replacing_the_set() -> None:
    with_old = CIB.replace(
        '<nvpair id="wf.a.outputs.haflow-effect" name="haflow-effect" value="present"/>',
        '<nvpair id="wf.a.outputs.haflow-effect" name="haflow-effect" value="present"/>'
        '<nvpair id="wf.a.outputs.haflow-output-old" name="haflow-output-old" value="1"/>')
    # wf.a ran again and made other outputs; wf.c is new
    change = _checkpoint_of({"haflow-effect-wf.a": "present",
                             "haflow-outputs-wf.a": '{"id":"7"}',
                             "haflow-effect-wf.c": "present", "haflow-event-wf.k1": "v1"},
                            with_old)
    assert change is not None and change[0] == "patch"
    diff = change[1]
    removed = diff.findall("diff-removed/cib/configuration/resources/primitive")
    assert [(p.get("id"), p[0].get("id"), p[0].get("__crm_diff_marker__"))
            for p in removed] == [("wf.a", "wf.a.outputs", "removed:top")]
    added = {p.get("id"): p for p in
             diff.findall("diff-added/cib/configuration/resources/primitive")}
    assert added["wf.a"][0].attrib.pop("__crm_diff_marker__") == "added:top"
    made = ET.Element("primitive", id="wf.a")
    write.outputs(made, {"id": "7"}, "present")
    assert STDLIB.canonical(added["wf.a"][0]) == STDLIB.canonical(made[0])
    assert added["wf.c"][0].get("__crm_diff_marker__") == "added:top"
    assert added["wf.root"][0].get("__crm_diff_marker__") == "added:top"
    assert diff.find("diff-added/cib/status") is None


def test_history_events_read_back(lib: Lib) -> None:
    cib = lib.parse(CIB)
    root = read.root_of(cib, "wf")
    assert root is not None
    first = record.Event(1795672400.5, "n1", "a", "start", 0, 0, "ok", "started\n fine")
    later = record.Event(1795672401.0, "n2", "root", "abort", 0, 0, "ok", "by admin")
    write.add_event(root, "wf", later, "abort")
    nvpair = write.add_event(root, "wf", first, "a")
    assert nvpair.get("id") == "wf.root.history.haflow-event-1795672400-500000-n1-a"
    assert nvpair.get("name") == "haflow-event-1795672400-500000-n1-a"
    write.add_event(root, "wf", first, "a")  # the same key: the same record
    assert [(e.step, e.text) for e in read.events(cib, "wf")] == [("a", "started fine"),
                                                                 ("root", "by admin")]
    history = [m for m in root.findall("meta_attributes") if m.get("id") == "wf.root.history"]
    assert len(history) == 1 and len(history[0]) == 2


def test_the_alert_spool_writes_the_writers_records() -> None:
    event = record.Event(1795672400.5, "n1", "a", "start", 0, 0, "ok", "ok")
    key = record.key(event.time, event.node, "a")
    sent = ET.fromstring(spool.events_xml([("wf", key, record.format_value(event))]))
    made = LXML.element("resources")
    root = etree.SubElement(made, "primitive", id="wf.root")
    write.add_event(root, "wf", event, "a")
    assert STDLIB.canonical(sent) == LXML.canonical(made)


def test_a_sweep_set_starts_an_aborted_root_until_set_role_drops_it(lib: Lib) -> None:
    cib = lib.parse(CIB)
    write.set_role(cib, "wf", "Stopped")
    root = read.root_of(cib, "wf")
    assert root is not None
    sweep = write.ask_sweep(root, "wf")
    assert (sweep.get("id"), sweep.get("score")) == ("wf.root.sweep", "INFINITY")
    assert [(n.get("id"), n.get("value")) for n in sweep] == [("wf.root.sweep.target-role",
                                                               "Started")]
    assert read.aborted(cib, "wf")  # a passing override, not a resumed workflow
    write.set_role(cib, "wf", "Stopped")
    assert "wf.root.sweep" not in [m.get("id") for m in root.findall("meta_attributes")]
