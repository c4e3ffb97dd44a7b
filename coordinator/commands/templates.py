"""``templates add|list|show|remove`` and instantiating one: the workflows a service's callers
may run, stored in the CIB (every node's API has them), validated when added.

A caller never sends a workflow or a command: only a template's name, its inputs and an
instance name. Inputs must not become shell text: in an ``exec`` step a template may use
``${inputs.NAME}`` only as the whole value of a line of the ``env`` parameter
(``NAME=${inputs.NAME}``), so a command reads it as ``"$NAME"``, an environment
variable; an input value holding a line break or NUL is refused, so it cannot add a
variable of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from haflow.coordinator.cluster import live_view, livecib
from haflow.coordinator.cluster.quorum import require_quorum
from haflow.coordinator.codes import Code
from haflow.coordinator.commands.property_sets import remove_value, set_value, values
from haflow.coordinator.reports import HaflowError, Report, error
from haflow.encoding import ids
from haflow.encoding.service import (
    TEMPLATES_SET,
    template_name,
    template_nvpair,
    template_text,
    template_value,
)

if TYPE_CHECKING:
    from lxml import etree

    from haflow.coordinator.cluster.env import Env
    from haflow.coordinator.commands.submit import Submitted
    from haflow.coordinator.workflow.model import Workflow

MAX_TEMPLATE = 256 * 1024  # characters of YAML: a template is replicated with the CIB
EXEC_AGENTS = ("exec", "ocf:haflow:exec")
EXEC_COMMANDS = ("do", "undo", "check", "shell", "user", "workdir")
INPUT_REF = re.compile(r"\$\{inputs\.([A-Za-z_][A-Za-z0-9_-]*)\}")
ENV_LINE = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*=\$\{inputs\.[A-Za-z_][A-Za-z0-9_-]*\}\s*")
# what a template's declared inputs are given when it is validated on add
SAMPLE = {"string": "x", "integer": 1, "boolean": True, "list": ["x"]}


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    description: str
    inputs: dict[str, Any]

    def to_dict(self, text: bool = True) -> dict[str, Any]:
        data = {"name": self.name, "description": self.description, "inputs": self.inputs}
        return {**data, "text": self.text} if text else data


def _data(text: str, filename: str) -> dict[str, Any]:
    from haflow.coordinator.workflow.yamlsrc import parse

    source, reports = parse(text, filename)
    errors = [r for r in reports if r.severity == "error"]
    if errors or not isinstance(source.data, dict):
        raise HaflowError(*(errors or [Report(Code.EMPTY, "the template holds no workflow",
                                              file=filename)]))
    return source.data


def _parsed(name: str, text: str) -> Template:
    data = _data(text, f"template {name}")
    declared = data.get("inputs") or {}
    return Template(name, text, str(data.get("description") or ""),
                    {k: dict(v) if isinstance(v, dict) else v for k, v in declared.items()}
                    if isinstance(declared, dict) else {})


def templates_in(cib: etree._Element) -> dict[str, Template]:
    found = {}
    for key, value in values(cib, TEMPLATES_SET).items():
        name, text = template_name(key), template_text(value)
        if name is not None and text is not None:
            found[name] = _parsed(name, text)
    return found


def unsafe_inputs(data: Mapping[str, Any], filename: str) -> list[Report]:
    """Every place an ``exec`` step would splice an input into a command line."""
    problems = []
    for step, spec in (data.get("steps") or {}).items():
        if not isinstance(spec, dict) or spec.get("agent") not in EXEC_AGENTS:
            continue
        params = spec.get("params") or {}
        for key in EXEC_COMMANDS:
            if INPUT_REF.search(str(params.get(key, ""))):
                problems.append(Report(
                    Code.BAD_REFERENCE, f"params.{key}: ${{inputs...}} in a command line would "
                    "run whatever a caller sends; pass it in 'env' (NAME=${inputs.NAME}) and "
                    "use \"$NAME\" in the command", file=filename, step=str(step)))
        for line in str(params.get("env", "")).splitlines():
            if INPUT_REF.search(line) and not ENV_LINE.fullmatch(line):
                problems.append(Report(
                    Code.BAD_REFERENCE, f"params.env: {line.strip()!r}: an input must be a "
                    "line's whole value (NAME=${inputs.NAME})", file=filename, step=str(step)))
    return problems


def check(text: str, filename: str) -> Template:
    """The template in ``text`` if it is a valid workflow (its inputs given sample values)
    that passes inputs to commands safely; else HaflowError with every problem."""
    if len(text) > MAX_TEMPLATE:
        raise error(Code.YAML_TOO_LARGE, f"a template is at most {MAX_TEMPLATE // 1024} KiB "
                    "(it is replicated with the CIB)", file=filename)
    data = _data(text, filename)
    name = data.get("name")
    if not isinstance(name, str) or not ids.valid_name(name):
        raise error(Code.BAD_NAME, f"the template's name {name!r} is not valid", file=filename)
    problems = unsafe_inputs(data, filename)
    declared = data.get("inputs") if isinstance(data.get("inputs"), dict) else {}
    sample = {k: SAMPLE.get(str((v or {}).get("type", "string")), "x")
              for k, v in (declared or {}).items()
              if not (isinstance(v, dict) and "default" in v)}
    try:
        _load(text, filename, sample, None)
    except HaflowError as exc:
        problems += exc.reports
    if problems:
        raise HaflowError(*problems)
    return _parsed(name, text)


def _load(text: str, filename: str, inputs: Mapping[str, object] | None,
          name: str | None) -> Workflow:
    from haflow.coordinator.workflow.loader import loads

    return loads(text, filename, inputs=inputs, name=name)


def add(env: Env, path: str, replace: bool = False) -> Template:
    """Validate the template in ``path`` and store it in the cluster (one change)."""
    from haflow.coordinator.workflow.loader import read

    return add_text(env, read(path), path, replace)


def add_text(env: Env, text: str, filename: str, replace: bool = False) -> Template:
    found = check(text, filename)
    require_quorum(env, f"add template '{found.name}'")
    old = live_view.query(env)
    if found.name in templates_in(old) and not replace:
        raise error(Code.TEMPLATE_EXISTS, f"a template named '{found.name}' is in the cluster "
                    "already; remove it first (or --replace)")
    new = deepcopy(old)
    set_value(new, TEMPLATES_SET, template_nvpair(found.name), template_value(text))
    livecib.push(env, old, new, f"adding template '{found.name}'")
    return found


def get(cib: etree._Element, name: str) -> Template:
    if not ids.valid_name(name):
        raise error(Code.BAD_NAME, f"template name {name!r} is not valid")
    found = templates_in(cib)
    if name not in found:
        raise error(Code.TEMPLATE_NOT_FOUND, f"no template '{name}' (templates: "
                    f"{', '.join(sorted(found)) or 'none'})")
    return found[name]


def remove(env: Env, name: str) -> None:
    require_quorum(env, f"remove template '{name}'")
    old = live_view.query(env)
    get(old, name)
    new = deepcopy(old)
    remove_value(new, TEMPLATES_SET, template_nvpair(name)[1])
    livecib.push(env, old, new, f"removing template '{name}'")


def check_inputs(inputs: Mapping[str, object]) -> None:
    """Inputs a caller sends: scalars or lists of them, no line breaks or NULs (they would
    add lines to an ``env`` parameter)."""
    problems = []
    for key, value in inputs.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, str | int | float | bool) or (
                    isinstance(item, str) and any(c in item for c in "\n\r\0")):
                problems.append(Report(Code.BAD_INPUTS, f"input '{key}': {item!r} is not "
                                       "one line of text, a number or a boolean",
                                       details={"input": key}))
    if problems:
        raise HaflowError(*problems)


def instantiate(env: Env, template: str, inputs: Mapping[str, object], name: str | None,
                idempotency: str | None = None) -> Submitted:
    """Submit the template as workflow ``name`` with ``inputs`` (one atomic change)."""
    from haflow.coordinator.commands.submit import replayed, submit

    check_inputs(inputs)
    if name is not None and not ids.valid_name(name):
        raise error(Code.BAD_NAME, f"workflow name {name!r} is not valid: a letter, then up "
                    f"to {ids.NAME_MAX - 1} letters, digits, '_' or '-'")
    cib = live_view.query(env)
    if idempotency is not None:  # a retry: the inputs were checked the first time
        done = replayed(cib, idempotency)
        if done is not None:
            return done
    found = get(cib, template)
    wf = _load(found.text, f"template {template}", inputs, name)
    return submit(env, wf, idempotency=idempotency)
