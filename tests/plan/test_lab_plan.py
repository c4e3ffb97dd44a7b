"""On a real cluster: a plan changes nothing; the pcs script configures what haflow applies."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from haflow.coordinator.cli import main as cli
from haflow.coordinator.cluster import env, livecib
from haflow.coordinator.workflow import pcs_export
from haflow.coordinator.workflow.compiler import compile_workflow, merge_into
from haflow.coordinator.workflow.loader import load
from haflow.lab import control
from haflow.lab.layout import LabLayout
from tests.plan.cibnorm import differences, snapshot

pytestmark = pytest.mark.tier1

# mostly foreign agents, and haflow's test agent (the lab installs haflow's agents)
WORKFLOW = """name: {name}
description: a diamond of Dummy steps
steps:
  a:
    agent: ocf:pacemaker:Dummy
  b:
    agent: ocf:pacemaker:Dummy
    after: [a]
    retries: 1
  c:
    agent: ocf:pacemaker:Dummy
    after: [a]
    failure_policy: hold
  d:
    agent: ocf:pacemaker:Dummy
    after: [b, c]
    params:
      fake: "it's $HOME"
  e:
    agent: test
    after: [a]
    with: [a]
"""


def workflow_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(WORKFLOW.format(name=name))
    return path


def lab_env(layout: LabLayout) -> env.Env:
    return env.for_lab(layout.name, None, str(layout.root))


def without(cib: etree._Element, workflow: str) -> etree._Element:
    """``cib`` with every element of ``workflow`` (and every reference to it) removed."""
    new = copy.deepcopy(cib)
    for section in ("resources", "constraints", "tags"):
        holder = new.find(f"configuration/{section}")
        for element in [] if holder is None else list(holder):
            text = etree.tostring(element, encoding="unicode")
            if f'"{workflow}.' in text or element.get("id") == workflow:
                holder.remove(element)  # type: ignore[union-attr]
    return new


@pytest.fixture
def clean(lab1: LabLayout) -> Iterator[LabLayout]:
    yield lab1
    where = lab_env(lab1)
    for name in ("plannow", "viahaflow"):
        current = livecib.query(where)
        livecib.push(where, current, without(current, name), "test cleanup")


def versions(cib: etree._Element) -> tuple[str | None, ...]:
    return tuple(cib.get(k) for k in ("admin_epoch", "epoch", "num_updates"))


def settled(where: env.Env, quiet: float = 3.0, timeout: float = 90.0) -> etree._Element:
    """The CIB once the cluster is idle: num_updates also counts the cluster's own status
    writes (a probe result, a fence device starting), which are not the plan's doing."""
    where.run(["crm_resource", "--wait", "--timeout", f"{int(timeout)}s"], timeout=timeout + 5)
    deadline = time.monotonic() + timeout
    last = livecib.query(where)
    stable_since = time.monotonic()
    while time.monotonic() - stable_since < quiet and time.monotonic() < deadline:
        time.sleep(0.5)
        current = livecib.query(where)
        if versions(current) != versions(last):
            last, stable_since = current, time.monotonic()
    return last


def test_plan_against_the_live_cib_changes_nothing(clean: LabLayout, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    where = lab_env(clean)
    before = settled(where)
    path = workflow_file(tmp_path, "plannow")
    for extra in ([], ["--fail", "b"], ["--node-down", control.nodes_of(clean)[0]]):
        argv = ["plan", str(path), "--lab", clean.name, "--lab-root", str(clean.root),
                "--output-as", "json", *extra]
        assert cli.main(argv) == 0
        plan = json.loads(capsys.readouterr().out)
        starts = {a["step"] for p in plan["phases"] for w in p["waves"] for a in w
                  if a["task"] == "start"}
        assert {"a", "b", "c"} <= starts
    after = livecib.query(where)
    assert versions(after) == versions(before)
    assert etree.tostring(after.find("configuration")) == etree.tostring(
        before.find("configuration"))


@pytest.fixture
def maintenance(clean: LabLayout) -> Iterator[LabLayout]:
    """Nothing starts: agents then write no runtime state (outputs, effect markers) into
    the resources' meta attributes, so what is compared is configuration only."""
    where = lab_env(clean)
    prop = ["crm_attribute", "--type", "crm_config", "--name", "maintenance-mode"]
    assert where.run([*prop, "--update", "true"]).returncode == 0
    yield clean
    where.run([*prop, "--delete"])


def test_the_pcs_script_configures_what_haflow_applies(maintenance: LabLayout,
                                                       tmp_path: Path) -> None:
    clean = maintenance
    where = lab_env(clean)
    node = control.nodes_of(clean)[0]
    name = "viahaflow"
    compiled = compile_workflow(load(workflow_file(tmp_path, name)))
    old = livecib.query(where)
    assert livecib.push(where, old, merge_into(old, compiled), "apply with haflow")
    by_haflow = snapshot(livecib.query(where), name)
    assert len(by_haflow["resources"]) == 6  # root clone + 5 steps
    current = livecib.query(where)
    livecib.push(where, current, without(current, name), "remove")
    assert snapshot(livecib.query(where), name)["resources"] == []

    script = pcs_export.script(compiled.resources, compiled.constraints, compiled.tags, name)
    # the node's own pcs, against the live cluster (sh -s: the script's live mode)
    result = control.run_on(clean, node, ["sh", "-s"], timeout=180, input=script)
    assert result.returncode == 0, result.stderr + result.stdout
    diffs = differences(snapshot(livecib.query(where), name), by_haflow)
    assert not diffs, "\n".join(diffs)
