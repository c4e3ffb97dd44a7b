"""Workloads on a lab: workflows of the test agent, submitted, watched, cleaned up.

Used by the tests, the fault scenarios and `haflow lab chaos`.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from haflow.coordinator.cluster import livecib
from haflow.coordinator.cluster.crm_mon import ClusterView
from haflow.coordinator.cluster.env import Env
from haflow.coordinator.commands.abort import abort
from haflow.coordinator.commands.remove import remove
from haflow.coordinator.commands.submit import submit
from haflow.coordinator.workflow.loader import loads
from haflow.encoding import read
from haflow.lab import control, power
from haflow.lab.env import for_lab as lab_env_for
from haflow.lab.layout import LabLayout

T = TypeVar("T")


def lab_env(layout: LabLayout, node: str | None = None) -> Env:
    return lab_env_for(layout.name, node, str(layout.root))


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 90.0,
             every: float = 0.5) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def view(layout: LabLayout, node: str | None = None) -> ClusterView:
    nodes = [node] if node else control.nodes_of(layout)
    for name in nodes:
        seen = control.cluster_view(layout, name)
        if seen is not None:
            return seen
    raise AssertionError(f"no node of lab {layout.name} answers crm_mon")


def placement(layout: LabLayout, workflow: str, steps: list[str],
              node: str | None = None) -> dict[str, list[str]]:
    """Step -> the nodes it has started on (a start still running does not count)."""
    seen = view(layout, node)
    return {s: seen.resources.get(f"{workflow}.{s}", [])
            if seen.roles.get(f"{workflow}.{s}") == "Started" else [] for s in steps}


def wait_started(layout: LabLayout, workflow: str, steps: list[str], timeout: float = 90.0,
                 node: str | None = None) -> dict[str, str]:
    """Wait until every step is active on exactly one node; step -> node."""
    def probe() -> dict[str, str] | None:
        where = placement(layout, workflow, steps, node)
        if all(len(nodes) == 1 for nodes in where.values()):
            return {s: nodes[0] for s, nodes in where.items()}
        return None

    return wait_for(f"{workflow}: {', '.join(steps)} started", probe, timeout)


def wait_stopped(layout: LabLayout, workflow: str, steps: list[str],
                 timeout: float = 90.0) -> None:
    def probe() -> bool:
        seen = view(layout)
        ids = [f"{workflow}.{s}" for s in steps]
        return all(not seen.resources.get(rid) for rid in ids)

    wait_for(f"{workflow}: {', '.join(steps)} stopped", probe, timeout)


def workflow_yaml(name: str, state: Path, steps: dict[str, dict[str, Any]],
                  **doc: Any) -> str:
    """A workflow of test-agent steps (JSON, which is YAML): ``steps`` maps a step to
    its keys (``after``, ``params``, ...); ``state_dir`` and a 2 s monitor are added."""
    body: dict[str, Any] = {}
    for step, keys in steps.items():
        params = {"state_dir": str(state), **keys.get("params", {})}
        body[step] = {"agent": "test", "interval": "2s", **keys, "params": params}
    return json.dumps({"name": name, **doc, "steps": body}, indent=2) + "\n"


@contextmanager
def submitted(layout: LabLayout, text: str, steps: list[str]) -> Iterator[str]:
    """Submit a workflow; abort, wait until undone and remove it afterwards, always."""
    wf = loads(text, "test.yaml")
    submit(lab_env(layout), wf)
    try:
        yield wf.name
    finally:
        env = lab_env(layout)
        cib = livecib.query(env)
        if read.elements_of(cib, wf.name):
            if not read.aborted(cib, wf.name):
                abort(env, wf.name)
            wait_stopped(layout, wf.name, steps, timeout=120)
            remove(env, wf.name, force=True)


def wait_healthy(layout: LabLayout, timeout: float = 90.0) -> None:
    """Wait until every node of the lab is powered on and online with a DC."""
    nodes = control.nodes_of(layout)
    control.wait_until(
        layout, nodes[0], lambda v: v.dc is not None and set(nodes) <= set(v.online), timeout
    )


def wait_idle(layout: LabLayout, timeout: float = 180.0) -> None:
    """Wait until the DC has no transition in flight (its controller in S_IDLE).

    Workflows can be back where they belong while the DC still waits on an action that
    was lost: a probe sent to a controller that was restarting holds the transition for
    the probe's timeout plus cluster-delay (80 s), and while it is held the DC still
    expects that node's shutdown: the node crashing then is taken for that shutdown and
    never fenced."""
    node = control.nodes_of(layout)[0]
    deadline = time.monotonic() + timeout
    state = "no DC"
    while time.monotonic() < deadline:
        view = control.cluster_view(layout, node)
        if view is not None and view.dc is not None:
            argv = ["crmadmin", "--status", view.dc, "--output-as=xml"]
            out = control.run_on(layout, node, argv).stdout
            try:
                crmd = ET.fromstring(out).find("crmd")
            except ET.ParseError:
                crmd = None
            state = f"DC {view.dc} in " + (crmd.get("state", "?") if crmd is not None else "?")
            if crmd is not None and crmd.get("state") == "S_IDLE":
                return
        time.sleep(1.0)
    raise AssertionError(f"the cluster did not settle within {timeout:.0f} s: {state}")


def last_fenced(layout: LabLayout, observer: str, target: str) -> str:
    """When ``target`` was last fenced, as ``observer``'s fencer knows it ("" if never).

    ``--last`` rather than ``--history``: the history may keep an older event for a target.
    """
    argv = ["stonith_admin", "--last", target, "--output-as=xml"]
    out = control.run_on(layout, observer, argv).stdout
    element = ET.fromstring(out).find("last-fenced")  # absent (exit 74) when never fenced
    return "" if element is None else element.get("when", "")


def wait_fenced(layout: LabLayout, observer: str, target: str, since: str,
                timeout: float = 90.0) -> None:
    """Wait until ``target`` has been fenced after ``since`` (a last_fenced value)."""
    deadline = time.monotonic() + timeout
    while last_fenced(layout, observer, target) <= since:
        if time.monotonic() > deadline:
            raise AssertionError(f"{target} was not fenced within {timeout:.0f} s")
        time.sleep(0.5)


def restore(layout: LabLayout) -> None:
    """Power on every node that is off, heal the network, wait until all are online."""
    for node in control.nodes_of(layout):
        if not power.is_on(layout, node):
            power.power_on(layout, node)
    control.heal(layout)
    wait_healthy(layout)
