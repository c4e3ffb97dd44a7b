"""How big a CIB change haflow makes, and what it reports when cibadmin gives up on one.

Pacemaker 2.1.5 places each element a patch creates by counting, for every sibling
before it, the siblings before that one: the cost of a submit grows with the square of
the elements already in a section unless the new ones go first (compiler.merge_into).
Checked here on the patch crm_diff computes, not by timing it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from haflow.coordinator.cluster import livecib, simulate
from haflow.coordinator.codes import Code
from haflow.coordinator.commands.workflow_cib import with_workflow
from haflow.coordinator.reports import HaflowError, error
from haflow.coordinator.workflow.loader import loads
from haflow.coordinator.workflow.model import Workflow

pytestmark = pytest.mark.tier0


def chain(name: str, steps: int) -> Workflow:
    spec = {"name": name, "steps": {f"s{i}": {"agent": "test", **(
        {"after": [f"s{i - 1}"]} if i else {})} for i in range(steps)}}
    return loads(json.dumps(spec), f"{name}.yaml")


def with_all(cib: etree._Element, *workflows: Workflow) -> etree._Element:
    for wf in workflows:
        cib, _ = with_workflow(cib, wf)
    return cib


def creates(old: etree._Element, new: etree._Element) -> dict[str, list[int]]:
    """The positions of the elements the patch from ``old`` to ``new`` creates, by parent."""
    patch = livecib.diff(old, new)
    assert patch is not None
    found: dict[str, list[int]] = {}
    for change in etree.fromstring(patch.encode()).iter("change"):
        if change.get("operation") == "create":
            found.setdefault(change.get("path", ""), []).append(int(change.get("position", 0)))
    return found


def test_a_new_workflow_goes_first_in_every_section_it_adds_to() -> None:
    old = with_all(simulate.skeleton(3), chain("old1", 30), chain("old2", 30))
    new = with_all(old, chain("fresh", 5))
    made = creates(old, new)
    assert {"/cib/configuration/resources", "/cib/configuration/constraints",
            "/cib/configuration/tags"} <= set(made)
    for path, positions in made.items():
        # in front of the 60 steps there: positions 0..k-1, not 61..61+k
        assert sorted(positions) == list(range(len(positions))), path


def test_several_new_workflows_in_one_change_take_the_front_together() -> None:
    old = with_all(simulate.skeleton(3), chain("old", 40))
    new = with_all(old, chain("a", 4), chain("b", 4), chain("c", 4))
    for path, positions in creates(old, new).items():
        assert sorted(positions) == list(range(len(positions))), path


def test_a_replacement_by_the_same_workflow_stays_where_it_is() -> None:
    """Put anywhere else, its elements would move: a change (crm_diff says "move")."""
    middle = chain("middle", 6)
    old = with_all(simulate.skeleton(3), chain("last", 3), middle, chain("first", 3))
    submission = old.xpath("string(//nvpair[@name='submission'][contains(@id, 'middle')]"
                           "/@value)")
    again, _ = with_workflow(old, middle, str(submission))
    assert livecib.diff(old, again) is None
    changed, _ = with_workflow(old, chain("middle", 7), str(submission))
    patch = livecib.diff(old, changed) or ""
    assert 'operation="move"' not in patch, "a longer replacement moves nothing either"
    assert creates(old, changed)["/cib/configuration/resources"] == [
        [p.get("id") for p in changed.iter("primitive")].index("middle.s6")]


class FakeCib:
    """An Env whose cibadmin answers as told: the patch with ``patch_rc`` (or never:
    None), a query with ``cib`` (or a failure: None)."""

    description = "node1"
    node_name = "node1"
    actor = None

    def __init__(self, patch_rc: int | None, cib: etree._Element | None) -> None:
        self.patch_rc, self.cib = patch_rc, cib
        self.ran: list[list[str]] = []

    def run(self, argv: list[str], input: str | None = None,
            **_: Any) -> subprocess.CompletedProcess[str]:
        self.ran.append(list(argv))
        if "--patch" in argv:
            if self.patch_rc is None:
                raise error(Code.TOOL_TIMEOUT, "no answer")
            return subprocess.CompletedProcess(argv, self.patch_rc, "",
                                               "Call cib_apply_diff failed: Timer expired")
        if self.cib is None:
            return subprocess.CompletedProcess(argv, 102, "", "Transport endpoint is not "
                                               "connected")
        return subprocess.CompletedProcess(argv, 0, etree.tostring(self.cib).decode(), "")


@pytest.fixture(scope="module")
def change() -> tuple[etree._Element, etree._Element]:
    old = with_all(simulate.skeleton(3), chain("there", 3))
    return old, with_all(old, chain("wf", 3))


def code_of(env: FakeCib, change: tuple[etree._Element, etree._Element]) -> Code:
    with pytest.raises(HaflowError) as raised:
        livecib.push(env, *change, "submitting workflow 'wf'")  # type: ignore[arg-type]
    return raised.value.reports[0].code


@pytest.mark.parametrize("patch_rc", [livecib.CIB_TIMED_OUT, None])
def test_a_change_cibadmin_gave_up_on_is_asked_for_and_reported_as_the_cib_says(
        change: tuple[etree._Element, etree._Element], patch_rc: int | None) -> None:
    old, new = change
    env = FakeCib(patch_rc, new)
    assert livecib.push(env, old, new, "submitting")  # type: ignore[arg-type]
    assert "--query" in env.ran[-1], "the CIB was asked after cibadmin gave up"
    assert code_of(FakeCib(patch_rc, old), change) == Code.CIB_UPDATE_FAILED


def test_a_change_the_cib_cannot_account_for_is_reported_unknown(
        change: tuple[etree._Element, etree._Element]) -> None:
    new = change[1]
    assert code_of(FakeCib(livecib.CIB_TIMED_OUT, None), change) == Code.CIB_UPDATE_UNKNOWN
    half = etree.fromstring(etree.tostring(new))
    for tag in half.findall("configuration/tags/tag[@id='wf']"):
        tag.getparent().remove(tag)  # type: ignore[union-attr]
    assert code_of(FakeCib(livecib.CIB_TIMED_OUT, half), change) == Code.CIB_UPDATE_UNKNOWN


def test_a_change_creating_too_many_elements_under_one_parent_is_refused_unapplied(
        change: tuple[etree._Element, etree._Element],
        monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = change
    created = livecib.most_created(etree.fromstring((livecib.diff(old, new) or "").encode()))
    assert created is not None and created[0] == "/cib/configuration/resources"
    monkeypatch.setattr(livecib, "MAX_CREATED", created[1] - 1)
    env = FakeCib(0, new)
    assert code_of(env, change) == Code.CHANGE_TOO_LARGE
    assert env.ran == [], "nothing was sent to the CIB"
    monkeypatch.setattr(livecib, "MAX_CREATED", created[1])
    assert livecib.push(env, old, new, "submitting")  # type: ignore[arg-type]


def test_landed_reads_creates_deletes_and_attribute_changes(tmp_path: Path) -> None:
    old = with_all(simulate.skeleton(3), chain("gone", 2), chain("kept", 2))
    new, _ = with_workflow(old, chain("added", 2))
    for element in new.xpath("//*[starts-with(@id, 'gone')]"):
        element.getparent().remove(element)
    new.find("configuration/crm_config//nvpair").set("value", "changed")
    patch = etree.fromstring((livecib.diff(old, new) or "").encode())
    operations = {c.get("operation") for c in patch.iter("change")}
    assert {"create", "delete", "modify"} <= operations
    assert livecib.landed(new, patch) is True
    assert livecib.landed(old, patch) is False
    partly = etree.fromstring(etree.tostring(new))
    partly.find("configuration/crm_config//nvpair").set("value", "other")
    assert livecib.landed(partly, patch) is None
