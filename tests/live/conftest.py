"""Fixtures for live workflow tests: the haflow CLI against a lab, and cleanup.

Every workflow a test submits is aborted, waited for until undone and
removed afterwards, even when the test fails, so the session's shared lab
stays clean for the tests that come after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from haflow.coordinator.cluster import env as envs
from haflow.coordinator.cluster import livecib
from haflow.coordinator.cluster.env import Env
from haflow.encoding import ids
from haflow.lab import control, power
from haflow.lab.layout import LabLayout

RECORD_DIR = os.environ.get("HAFLOW_RECORD_STATUS")  # save crm_mon/CIB XML for tier0 tests


def ensure_alive(layout: LabLayout) -> None:
    """Reboot any node whose cluster stack died (so one broken test does not doom the rest)."""
    for node in control.nodes_of(layout):
        if not power.is_on(layout, node) or control.cluster_view(layout, node) is None:
            control.reboot(layout, node)


@dataclass
class Live:
    """The haflow CLI pointed at one lab, plus the workflows to clean up."""

    layout: LabLayout
    tmp: Path
    env: Env
    submitted: list[str] = field(default_factory=list)

    @property
    def state_dir(self) -> Path:
        path = self.tmp / "state"
        path.mkdir(exist_ok=True, mode=0o755)
        return path

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "haflow.coordinator.cli", *args,
                "--lab", self.layout.name, "--lab-root", str(self.layout.root)]

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), capture_output=True, text=True,
                              timeout=timeout)

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--output-as", "json")
        return json.loads(result.stdout)

    def history(self, workflow: str, *wanted: tuple[str, str], timeout: float = 20.0,
                node: str | None = None) -> list[tuple[str, str]]:
        """(step, task) of the workflow's history once it holds every ``wanted`` pair:
        the alert agent writes successful events every few seconds (agents/alert/spool.py)."""
        deadline = time.monotonic() + timeout
        extra = ("--node", node) if node else ()
        while True:
            tasks = [(e["step"], e["task"]) for e in self.json("history", workflow, *extra)]
            if set(wanted) <= set(tasks):
                return tasks
            assert time.monotonic() < deadline, f"{workflow}: {wanted} not all in {tasks}"
            time.sleep(0.5)

    def workflow(self, name: str, steps: dict[str, dict[str, Any]],
                 policy: str = "rollback") -> Path:
        """A workflow file of ``test`` steps whose records land in state_dir."""
        for step in steps.values():
            step.setdefault("agent", "test")
            step.setdefault("params", {})["state_dir"] = str(self.state_dir)
        path = self.tmp / f"{name}.yaml"
        # JSON is YAML: no YAML writer needed
        path.write_text(json.dumps({"name": name, "failure_policy": policy, "steps": steps},
                                   indent=2))
        return path

    def submit(self, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        name = json.loads(path.read_text())["name"]
        if name not in self.submitted:
            self.submitted.append(name)
        return self.run("submit", str(path), *extra)

    def status(self, workflow: str) -> dict[str, Any]:
        data: dict[str, Any] = self.json("status", workflow)
        return data

    def wait_state(self, workflow: str, states: tuple[str, ...], timeout: float = 90
                   ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            data = self.status(workflow)
            if data["state"] in states:
                return data
            if time.monotonic() > deadline:
                raise AssertionError(f"{workflow} is {data['state']}, not {states}: {data}")
            time.sleep(0.5)

    def configuration(self) -> bytes:
        """The CIB configuration, canonical: for before/after comparisons. Without what
        the cluster itself writes as steps run (outputs, the alert agent's history)."""
        config = livecib.query(self.env).find("configuration")
        assert config is not None
        for meta in list(config.iter("meta_attributes")):
            if ids.runtime_set(meta.get("id", "")):
                meta.getparent().remove(meta)  # type: ignore[union-attr]
        # whitespace comes and goes with the CIB's own rewrites: compare elements only
        for element in config.iter():
            element.tail = None
            if len(element):
                element.text = None
        return etree.tostring(config, method="c14n")

    def record(self, name: str) -> None:
        """Save crm_mon and CIB XML for tier0 tests (when HAFLOW_RECORD_STATUS is set)."""
        if not RECORD_DIR:
            return
        folder = Path(RECORD_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        mon = self.env.run(["crm_mon", "--output-as=xml", "--inactive"]).stdout
        (folder / f"{name}.mon.xml").write_text(mon)
        (folder / f"{name}.cib.xml").write_text(self.env.run(["cibadmin", "--query"]).stdout)

    def cleanup(self) -> None:
        for name in self.submitted:
            self.run("abort", name)  # fails harmlessly when absent or aborted already
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                result = self.run("status", name, "--output-as", "json")
                if result.returncode not in (0, 7):
                    break  # gone (never submitted, or removed by the test)
                data = json.loads(result.stdout)
                if data["state"] == "rolled back":
                    break
                if data["state"] == "blocked":
                    # what an admin does about a step blocked on purpose (policy hold):
                    # clear its failure; the rollback then goes on
                    for step in data["steps"]:
                        if step["state"] == "blocked":
                            self.env.run(["crm_resource", "--cleanup", "--resource",
                                          step["resource"]])
                time.sleep(0.5)
            self.run("remove", name, "--force")
        self.submitted.clear()


def live_for(layout: LabLayout, tmp_path: Path) -> Iterator[Live]:
    ensure_alive(layout)
    os.chmod(tmp_path, 0o755)  # agents run as root, but keep it readable for hacluster too
    live = Live(layout, tmp_path, envs.for_lab(layout.name, root=str(layout.root)))
    try:
        yield live
    finally:
        live.cleanup()


@pytest.fixture
def live1(lab1: LabLayout, tmp_path: Path) -> Iterator[Live]:
    """The CLI on the 1-node lab; cleans up what the test submitted."""
    yield from live_for(lab1, tmp_path)


@pytest.fixture
def live3(lab3: LabLayout, tmp_path: Path) -> Iterator[Live]:
    """The CLI on the 3-node lab; cleans up what the test submitted."""
    yield from live_for(lab3, tmp_path)
