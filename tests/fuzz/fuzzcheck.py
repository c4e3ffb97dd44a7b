"""What every input to the workflow loader must give: a clear error or a correct compile.

``outcome(text)`` is the oracle the corpus and the hypothesis tests share:

- ``loads`` raises HaflowError whose reports all have a code, a line and a
  column (every loader report points somewhere in the text), or
- it returns a workflow that compiles to well-formed XML in which every
  parameter and the description are exactly the strings the file holds
  (checked against an independent reading of the YAML), and
- nothing else: any other exception, or taking longer than a hard time limit,
  fails the test.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from lxml import etree
from ruamel.yaml import YAML

from haflow.coordinator.codes import Code
from haflow.coordinator.reports import HaflowError
from haflow.coordinator.workflow.agent_info import AgentInfo, agent_info
from haflow.coordinator.workflow.build import param_text
from haflow.coordinator.workflow.compiler import CompiledWorkflow, compile_workflow
from haflow.coordinator.workflow.loader import loads
from haflow.coordinator.workflow.model import AgentSpec, Workflow
from haflow.encoding.ids import root_id, step_id
from haflow.encoding.value import from_cib

# a strict parser: the CIB must be well-formed without any help (no recovery,
# no entities resolved, no DTD fetched)
STRICT = etree.XMLParser(recover=False, resolve_entities=False, no_network=True, huge_tree=True)
HARD_LIMIT_S = 20.0
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
# what the hostile strings' shell payloads would create
SENTINELS = ("/tmp/haflow-fuzz-sentinel-h",)


class Hung(BaseException):
    """Raised by the alarm: a BaseException so no ``except Exception`` in the code swallows it."""


@contextmanager
def time_limit(seconds: float = HARD_LIMIT_S) -> Iterator[None]:
    """Fail instead of hanging: hypothesis' deadline only judges examples that finish."""

    def fire(_sig: int, _frame: FrameType | None) -> None:
        raise Hung(f"took more than {seconds}s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def offline_meta(spec: AgentSpec) -> AgentInfo:
    """haflow's agents answer in-process; any other agent is 'not installed' without
    asking crm_resource (fuzzing must not spawn a process per example)."""
    if spec.is_haflow:
        return agent_info(spec)
    return AgentInfo(str(spec), error="no such agent installed on this machine")


def assert_clear_error(err: HaflowError) -> None:
    assert err.reports
    for report in err.reports:
        assert isinstance(report.code, Code) and report.code.isupper(), report
        assert report.message, report
        json.dumps(report.to_dict())  # `haflow validate --output-as json` can render it
        # safe to print: no terminal escapes, bidi overrides or line breaks from the file
        assert not UNPRINTABLE.search(report.message + (report.step or "")), repr(report)
        assert report.line is not None and report.line >= 1, str(report)
        assert report.column is not None and report.column >= 1, str(report)


def reference(text: str) -> Any:
    """The file as ruamel's own safe loader reads it (None when it cannot): the
    independent reading that compiled values are compared with."""
    try:
        return YAML(typ="safe", pure=True).load(text)
    except Exception:
        return None


def _nvpairs(root: etree._Element, set_id: str) -> dict[str, str]:
    holder = root.find(f".//instance_attributes[@id='{set_id}']")
    assert holder is not None, f"no {set_id}"
    return {str(nv.get("name")): str(nv.get("value")) for nv in holder.iterfind("nvpair")}


ORCHESTRATION_KEYS = ("for_each", "workflow", "when", "approval")


def plain(data: dict[str, Any]) -> bool:
    """A file whose steps compile one to one, with the values as written: no inputs and
    no orchestration keys."""
    steps = data.get("steps")
    return "inputs" not in data and not (isinstance(steps, dict) and any(
        isinstance(step, dict) and any(k in step for k in ORCHESTRATION_KEYS)
        for step in steps.values()))


def assert_round_trip(wf: Workflow, compiled: CompiledWorkflow, data: Any) -> etree._Element:
    """Parse the compiled XML back: well-formed, one primitive per step, and every
    value exactly what the workflow (and, when given, the raw data) says."""
    xml = compiled.to_xml()
    root = etree.fromstring(xml, parser=STRICT)
    primitives = {str(p.get("id")) for p in root.iter("primitive")}
    assert primitives == {root_id(wf.name)} | {step_id(wf.name, n) for n in wf.steps}
    if isinstance(data, dict) and not plain(data):
        # inputs are substituted and orchestration keys make steps of their own (instances,
        # a sub-workflow's steps) or none (a skipped step): every step still comes from
        # one of the file's, under the file's name; the values are checked by the
        # orchestration's own golden and property tests
        assert wf.name == data.get("name")
        raw_names = set(data.get("steps") or {})
        assert all(any(n == r or n.startswith(f"{r}-") for r in raw_names) for n in wf.steps)
        data = None
    if isinstance(data, dict):
        # the ids come from exactly the names the file holds
        assert wf.name == data.get("name")
        assert isinstance(data.get("steps"), dict) and set(wf.steps) == set(data["steps"])
    # resource_ref/obj_ref ids are references, not definitions
    ids = [
        str(e.get("id"))
        for e in root.iter()
        if isinstance(e.tag, str) and e.get("id") and e.tag not in ("resource_ref", "obj_ref")
    ]
    assert len(ids) == len(set(ids)), "duplicate ids"
    root_params = _nvpairs(root, f"{root_id(wf.name)}.params")
    # values as haflow's agents read them back (encoding/value.py); a foreign agent's are
    # stored as they are
    assert from_cib(root_params.get("description", "")) == wf.description
    raw_steps = data.get("steps") if isinstance(data, dict) else None
    if isinstance(data, dict) and isinstance(data.get("description"), str):
        assert wf.description == data["description"]
    for name, step in wf.steps.items():
        got = _nvpairs(root, f"{step_id(wf.name, name)}.params")
        if step.agent.is_haflow:
            got = {k: from_cib(v) for k, v in got.items()}
        for key, value in step.params.items():
            assert got[key] == value, (name, key)
        raw = raw_steps.get(name) if isinstance(raw_steps, dict) else None
        raw_params = raw.get("params") if isinstance(raw, dict) else None
        if isinstance(raw_params, dict):
            for key, value in raw_params.items():
                if isinstance(value, (str, int, float, bool)):
                    assert got[str(key)] == param_text(value), (name, key, value)
    return root


def outcome(
    text: str,
    filename: str = "fuzz.yaml",
    meta: Callable[[AgentSpec], AgentInfo] = offline_meta,
    data: Any = None,
) -> CompiledWorkflow | HaflowError:
    """The compiled workflow or the error, after checking the contract above."""
    with time_limit():
        try:
            wf = loads(text, filename, meta)
        except HaflowError as err:
            assert_clear_error(err)
            assert not any(os.path.exists(p) for p in SENTINELS), "a payload ran"
            return err
        compiled = compile_workflow(wf)
        assert_round_trip(wf, compiled, reference(text) if data is None else data)
    assert not any(os.path.exists(p) for p in SENTINELS), "a payload ran"
    return compiled


class Spawns:
    """Every process started (subprocess, os.system, os.popen, os.exec*/spawn*)."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def install(self, monkeypatch: Any) -> None:
        import os

        real_popen = subprocess.Popen.__init__

        def popen_init(proc: Any, args: Any, *rest: Any, **kw: Any) -> None:
            self.calls.append(args)
            real_popen(proc, args, *rest, **kw)

        monkeypatch.setattr(subprocess.Popen, "__init__", popen_init)
        for name in ("system", "popen", "execv", "execve", "execvp", "spawnv", "posix_spawn"):
            if hasattr(os, name):
                monkeypatch.setattr(os, name, self._refuse(name))

    def _refuse(self, name: str) -> Callable[..., Any]:
        def refused(*args: Any, **kw: Any) -> Any:
            self.calls.append((name, args))
            raise AssertionError(f"os.{name} called during validation: {args!r}")

        return refused
