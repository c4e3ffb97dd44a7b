"""What the orchestration keys make of a file's steps (expand.py), what gates and pauses
write into a CIB (encoding/tickets.py, workflow_cib), and how status reads them back."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from lxml import etree

from haflow.coordinator.cluster import simulate
from haflow.coordinator.codes import Code
from haflow.coordinator.commands.workflow_cib import with_workflow
from haflow.coordinator.reports import HaflowError
from haflow.coordinator.status import workflow_status
from haflow.coordinator.workflow.compiler import compile_workflow, merge_into
from haflow.coordinator.workflow.loader import check_text, load, loads
from haflow.encoding import ids, tickets

pytestmark = pytest.mark.tier0

GOLDEN = Path(__file__).parent / "golden"


def test_fan_out_makes_one_step_per_item_with_item_and_index() -> None:
    wf = loads("""name: f
steps:
  patch:
    agent: test
    for_each: [web1, "x${steps.a.b}", 3]
    nodes: ["${item}"]
    params: {output: "${item} ${index} $${item}"}
""", "f.yaml")
    assert list(wf.steps) == ["patch-0", "patch-1", "patch-2"]
    assert [s.params["output"] for s in wf.steps.values()] == [
        "web1 0 $${item}", "x$${steps.a.b} 1 $${item}", "3 2 $${item}"]  # items are data
    assert wf.steps["patch-0"].nodes == ("web1",) and wf.steps["patch-1"].unit == "patch"
    assert wf.units == {"patch": ("patch-0", "patch-1", "patch-2")}


def test_max_parallel_orders_each_instance_after_the_one_n_before_it() -> None:
    wf = load(GOLDEN / "fan-out-lanes.yaml")
    after = {name: step.after for name, step in wf.steps.items()}
    assert after["upgrade-0"] == after["upgrade-1"] == ("drain",)
    assert (after["upgrade-2"], after["upgrade-3"], after["upgrade-4"]) == (
        ("upgrade-0",), ("upgrade-1",), ("upgrade-2",))
    assert after["undrain"] == tuple(f"upgrade-{i}" for i in range(5))  # the join


def test_a_skipped_step_passes_its_dependencies_on() -> None:
    wf = load(GOLDEN / "conditions.yaml", inputs={"env": "staging"})
    assert wf.skipped == ("backup", "monitor")
    assert wf.steps["verify"].after == ("create",)  # backup is skipped
    wf = load(GOLDEN / "conditions.yaml", inputs={"with_backup": True})
    assert wf.skipped == ("verify",) and wf.steps["monitor"].after == ("backup",)


def test_an_empty_fan_out_is_skipped() -> None:
    wf = load(GOLDEN / "fan-out-input.yaml", inputs={"hosts": []})
    assert wf.skipped == ("agent-on-host",) and wf.steps == {}


def test_with_and_apart_name_every_instance() -> None:
    wf = loads("""name: f
steps:
  web: {agent: test, for_each: [a, b]}
  lb: {agent: test, apart: [web]}
""", "f.yaml")
    assert wf.steps["lb"].apart == ("web-0", "web-1")


def test_a_sub_workflow_becomes_steps_of_this_one_with_its_outputs() -> None:
    wf = load(GOLDEN / "subworkflow.yaml")
    assert list(wf.steps) == ["network", "database-create", "database-migrate",
                              "database-seed", "app"]
    assert wf.steps["database-create"].after == ("network",)
    assert wf.steps["database-migrate"].params["output"] == "${steps.database-create.id}"
    assert wf.steps["database-create"].params["output"] == "db of 50 GB"  # its input
    assert set(wf.steps["app"].after) == {"database-migrate", "database-seed"}
    assert wf.steps["app"].params["output"] == "db=${steps.database-create.id}"


def test_gates_and_skips_of_a_sub_workflow_come_along(tmp_path: Path) -> None:
    (tmp_path / "inner.yaml").write_text("""name: inner
steps:
  a: {agent: test}
  b: {agent: test, after: [a], approval: true}
  c: {agent: test, after: [a], when: false}
""")
    (tmp_path / "outer.yaml").write_text("""name: outer
steps:
  sub: {workflow: inner.yaml, approval: true}
""")
    wf = load(tmp_path / "outer.yaml")
    assert wf.gates == {"sub-b": ("sub-b",), "sub": ("sub-a", "sub-b")}
    assert wf.skipped == ("sub-c",)


def test_errors_in_a_sub_workflow_are_reported_in_its_own_file(tmp_path: Path) -> None:
    (tmp_path / "inner.yaml").write_text("""name: inner
inputs: {size: {type: integer}}
steps:
  a: {agent: test}
""")
    outer = tmp_path / "outer.yaml"
    outer.write_text("""name: outer
steps:
  sub:
    workflow: inner.yaml
    inputs: {size: big}
""")
    _, reports = check_text(outer.read_text(), str(outer))
    assert [(r.code, r.file, r.line) for r in reports] == [
        (Code.SUBWORKFLOW_INVALID, str(outer), 4),
        (Code.INPUT_TYPE, str(tmp_path / "inner.yaml"), 2)]


def test_files_that_include_each_other_are_a_cycle(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: a\nsteps:\n  b: {workflow: b.yaml}\n")
    (tmp_path / "b.yaml").write_text("name: b\nsteps:\n  a: {workflow: a.yaml}\n")
    with pytest.raises(HaflowError) as err:
        load(tmp_path / "a.yaml")
    codes = [r.code for r in err.value.reports]
    assert Code.SUBWORKFLOW_CYCLE in codes and codes[0] == Code.SUBWORKFLOW_INVALID


def test_a_missing_sub_workflow_file_is_named() -> None:
    with pytest.raises(HaflowError) as err:
        loads("name: a\nsteps:\n  b: {workflow: /nonexistent/x.yaml}\n", "a.yaml")
    assert [r.code for r in err.value.reports] == [Code.SUBWORKFLOW_INVALID,
                                                  Code.FILE_NOT_FOUND]


def _cib_with(name: str, **inputs: object) -> etree._Element:
    wf = load(GOLDEN / f"{name}.yaml", inputs=inputs or None)
    return merge_into(simulate.skeleton(3), compile_workflow(wf))


def test_tickets_gates_and_pauses_read_back() -> None:
    cib = _cib_with("approval")
    assert tickets.gates(cib, "approval") == {"production": ["approval.production"]}
    assert not tickets.approved(cib, "approval", "production")
    tickets.grant(cib, ids.approval_ticket("approval", "production"), now=5)
    assert tickets.approved(cib, "approval", "production")
    assert not tickets.paused(cib, "approval")
    tickets.add_pause(cib, "approval")
    assert tickets.paused(cib, "approval")
    tickets.grant(cib, ids.run_ticket("approval"))  # granted by hand: it runs again
    assert not tickets.paused(cib, "approval")
    assert tickets.forget_tickets(cib, "approval") == 2


def test_a_replacement_keeps_its_pause_and_approvals_a_new_workflow_has_none() -> None:
    wf = load(GOLDEN / "approval.yaml")
    cib = _cib_with("approval")
    tickets.add_pause(cib, wf.name)
    tickets.grant(cib, ids.approval_ticket(wf.name, "production"))
    replaced, _ = with_workflow(cib, wf)
    assert tickets.paused(replaced, wf.name)
    assert tickets.approved(replaced, wf.name, "production")
    fresh = simulate.skeleton(3)
    tickets.grant(fresh, ids.approval_ticket(wf.name, "production"))  # a removed one's
    new, _ = with_workflow(fresh, wf)
    assert not tickets.approved(new, wf.name, "production")


def _mon(cib: etree._Element) -> etree._Element:
    with tempfile.NamedTemporaryFile(suffix=".xml") as handle:
        handle.write(etree.tostring(cib))
        handle.flush()
        result = subprocess.run(["crm_mon", "--output-as=xml", "--inactive", "-1"],
                                env={**os.environ, "CIB_file": handle.name},
                                capture_output=True, text=True, timeout=60, check=True)
    return etree.fromstring(result.stdout.encode())


def test_status_shows_awaiting_approval_skipped_and_paused() -> None:
    started = simulate.run(_cib_with("rolling-deploy", migrate=False), keep_output=True)
    cib = started.output
    assert cib is not None
    found = workflow_status(cib, _mon(cib), "rolling-deploy")
    states = {s.name: s.state.value for s in found.steps}
    assert found.state.value == "running" and not found.paused
    assert states["staging-1"] == "done" and states["announce"] == "waiting"
    assert {states[f"production-{i}"] for i in range(4)} == {"awaiting approval"}
    assert states["database"] == "skipped"
    tickets.add_pause(cib, "rolling-deploy")
    paused = workflow_status(cib, _mon(cib), "rolling-deploy")
    assert paused.state.value == "paused" and paused.paused
    # frozen while paused (unmanaged): done, not blocked
    assert {s.name: s.state.value for s in paused.steps}["build"] == "done"
