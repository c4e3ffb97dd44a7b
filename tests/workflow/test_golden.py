"""Golden files: each tests/workflow/golden/NAME.yaml compiles to exactly NAME.xml.

In the style of Pacemaker's scheduler regression tests: a change in the
encoding shows up as a diff of expected CIB XML. Regenerate after an
intended change with ``HAFLOW_REGEN_GOLDEN=1 pytest tests/workflow/test_golden.py``
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lxml import etree

from haflow.coordinator.workflow.compiler import compile_workflow, merge_into
from haflow.coordinator.workflow.loader import load
from tests.workflow.cibtools import skeleton, verify_compiled

pytestmark = pytest.mark.tier0

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.yaml"))
REGEN = os.environ.get("HAFLOW_REGEN_GOLDEN") == "1"


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("name", CASES)
def test_compiles_to_expected_bytes(name: str) -> None:
    xml = compile_workflow(load(GOLDEN / f"{name}.yaml")).to_xml()
    expected = GOLDEN / f"{name}.xml"
    if REGEN:
        expected.write_bytes(xml)
    assert expected.exists(), f"no {expected.name}: run with HAFLOW_REGEN_GOLDEN=1"
    assert xml.decode() == expected.read_text()


@pytest.mark.parametrize("name", CASES)
def test_expected_cib_passes_crm_verify(name: str) -> None:
    verify_compiled(compile_workflow(load(GOLDEN / f"{name}.yaml")))


def test_whole_corpus_in_one_cluster() -> None:
    """Ids never collide between workflows: all of them fit in one CIB."""
    verify_compiled(*(compile_workflow(load(GOLDEN / f"{n}.yaml")) for n in CASES))


def test_same_file_same_bytes() -> None:
    path = GOLDEN / "diamond.yaml"
    assert compile_workflow(load(path)).to_xml() == compile_workflow(load(path)).to_xml()


def test_submission_is_set_on_haflow_steps_only() -> None:
    compiled = compile_workflow(load(GOLDEN / "foreign-agents.yaml"), submission="s-42")
    values = {
        p.get("id"): p.get("value")
        for r in compiled.resources
        for p in r.iter("nvpair")
        if p.get("name") == "submission"
    }
    assert values == {"foreign.announce.params.submission": "s-42"}


def test_merge_refuses_an_id_collision() -> None:
    from haflow.coordinator.reports import HaflowError

    compiled = compile_workflow(load(GOLDEN / "single.yaml"))
    once = merge_into(skeleton(), compiled)
    with pytest.raises(HaflowError) as err:
        merge_into(once, compiled)
    assert err.value.reports[0].code == "ID_COLLISION"


@pytest.mark.parametrize("name", CASES)
def test_every_id_is_the_workflows_name_or_below_it(name: str) -> None:
    """merge_into looks for collisions only among such ids."""
    compiled = compile_workflow(load(GOLDEN / f"{name}.yaml"))
    assert all(i == compiled.workflow or i.startswith(f"{compiled.workflow}.")
               for i in compiled.ids())


def test_merge_names_only_the_colliding_ids() -> None:
    from haflow.coordinator.reports import HaflowError

    compiled = compile_workflow(load(GOLDEN / "single.yaml"))
    cib = skeleton()
    resources = cib.find("configuration/resources")
    assert resources is not None
    # a foreign id below the workflow's name is no collision; one the workflow uses is
    resources.append(etree.Element("primitive", id=f"{compiled.workflow}.unrelated"))
    merge_into(cib, compiled)
    taken = sorted(compiled.ids())[0]
    resources.append(etree.Element("primitive", id=taken))
    with pytest.raises(HaflowError) as err:
        merge_into(cib, compiled)
    assert err.value.reports[0].details == {"ids": [taken]}
