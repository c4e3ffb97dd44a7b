"""A workflow file's ``inputs``: declared, given (``--input NAME=VALUE``, or a service's
mapping), checked against their types, and substituted for ``${inputs.NAME}``.

Substitution works on the schema-valid data, before the model is built, so
every value keeps its place in the file. A reference that is a whole value of
``for_each``, ``when`` or a sub-workflow's ``inputs`` takes the input's value
as it is (a list stays a list); anywhere else it becomes text (``true``,
``3``, a list as JSON). An input's text is data, never a template: a ``${``
in it is written ``$${`` (a literal), so no value given at submit can make a
step reference an output, another input or a secret. ``${secrets.NAME}`` is
not ours: it passes through untouched (the service resolves it when the
action runs), and so do ``${steps...}``, ``${item}``, ``${index}`` and ``$${``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from haflow.coordinator.codes import Code
from haflow.coordinator.reports import Report
from haflow.coordinator.workflow.model import Loc
from haflow.coordinator.workflow.yamlsrc import Path, Source

INPUT_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
# "$${" (an escaped "${", kept as is) or ${inputs.NAME} (group 1: NAME)
TOKEN_RE = re.compile(r"\$\$\{|\$\{inputs\.(" + INPUT_NAME + r")\}")
# a value that is one reference and nothing else
WHOLE_RE = re.compile(r"\$\{inputs\.(" + INPUT_NAME + r")\}\Z")
# keys whose whole-reference values keep the input's type
TYPED_KEYS = ("for_each",)
CONDITION_RE = re.compile(
    r"\s*\$\{inputs\.(" + INPUT_NAME + r")\}\s*(?:(==|!=)\s*(.*?))?\s*\Z", re.DOTALL)
TYPES = ("string", "integer", "boolean", "list")


class RawInput(str):
    """An input value given as text on a command line: read as YAML, except for an
    input of type string, which keeps the text (``--input version=1.10`` is not 1.1)."""


@dataclass(frozen=True)
class Declared:
    name: str
    type: str
    default: Any
    has_default: bool
    loc: Loc


def declarations(source: Source) -> dict[str, Declared]:
    found: dict[str, Declared] = {}
    for name, spec in (source.data.get("inputs") or {}).items():
        found[name] = Declared(name, spec.get("type", "string"), spec.get("default"),
                               "default" in spec, source.key_loc(("inputs", name)))
    return found


def parse_assignment(text: str) -> tuple[str, RawInput]:
    """``NAME=VALUE`` from a command line; ValueError naming what is wrong."""
    name, sep, value = text.partition("=")
    if not sep or not re.fullmatch(INPUT_NAME, name):
        raise ValueError(f"--input {text!r}: write NAME=VALUE (NAME: letters, digits, '_', '-')")
    return name, RawInput(value)


def _read_yaml(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(text)


def _fits(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, list) and all(
        isinstance(v, str | int | float | bool) for v in value)


def _unstorable(value: Any) -> bool:
    from haflow.coordinator.workflow.model import NOT_XML

    texts = value if isinstance(value, list) else [value]
    return any(isinstance(t, str) and NOT_XML.search(t) for t in texts)


def text_of(value: Any) -> str:
    """An input's (or item's) value as parameter text: YAML booleans as Pacemaker writes
    them, lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def literal(text: str) -> str:
    """``text`` made literal where ``${...}`` is read: every ``${`` becomes ``$${``."""
    return text.replace("${", "$${")


class Applied:
    """The inputs' values for one file, and the reports found on the way."""

    def __init__(self, source: Source, given: Mapping[str, object] | None) -> None:
        self.source = source
        self.declared = declarations(source)
        self.values: dict[str, Any] = {}
        self.reports: list[Report] = []
        self._given(dict(given or {}))

    def _add(self, code: Code, message: str, loc: Loc | None, **details: Any) -> None:
        self.reports.append(Report(code, message, file=self.source.filename,
                                   line=loc.line if loc else None,
                                   column=loc.column if loc else None, details=details))

    def _given(self, given: dict[str, object]) -> None:
        inputs_loc = self.source.key_loc(("inputs",)) if "inputs" in self.source.data else None
        for name in given:
            if name not in self.declared:
                known = ", ".join(self.declared) or "none"
                self._add(Code.INPUT_UNKNOWN, f"input '{name}' is not declared by this file "
                          f"(declared: {known})", inputs_loc, input=name)
        for name, decl in self.declared.items():
            if decl.type not in TYPES:
                continue  # the schema said so already
            if decl.has_default and not _fits(decl.type, decl.default):
                self._add(Code.INPUT_TYPE, f"input '{name}': default {decl.default!r} is not "
                          f"of type {decl.type}",
                          self.source.value_loc(("inputs", name, "default")), input=name)
                continue
            if name not in given:
                if decl.has_default:
                    self.values[name] = decl.default
                else:
                    self._add(Code.INPUT_MISSING, f"input '{name}' ({decl.type}) is required: "
                              f"give it with --input {name}=VALUE", decl.loc, input=name)
                continue
            value = given[name]
            if isinstance(value, RawInput) and decl.type != "string":
                try:
                    value = _read_yaml(str(value))
                except Exception as exc:  # ruamel's errors have no common base worth naming
                    self._add(Code.INPUT_BAD_VALUE, f"input '{name}': {str(value)!r} is not "
                              f"YAML ({type(exc).__name__})", decl.loc, input=name)
                    continue
            elif isinstance(value, RawInput):
                value = str(value)
            if _unstorable(value):
                self._add(Code.INPUT_BAD_VALUE, f"input '{name}': {value!r} holds a character "
                          "the CIB cannot store", decl.loc, input=name)
                continue
            if not _fits(decl.type, value):
                self._add(Code.INPUT_TYPE, f"input '{name}' is of type {decl.type}: "
                          f"{value!r} given", decl.loc, input=name)
                continue
            self.values[name] = value

    def substitute(self) -> None:
        """Replace every ``${inputs.NAME}`` in the data (in place)."""
        data = self.source.data
        if isinstance(data.get("name"), str) and "${inputs." in data["name"]:
            self._add(Code.INPUT_NOT_HERE, "the workflow's name is literal text (give another "
                      "one with --name)", self.source.value_loc(("name",)))
        for key in ("description",):
            if isinstance(data.get(key), str):
                data[key] = self._text((key,), data[key])
        for step, spec in (data.get("steps") or {}).items():
            if "${inputs." in step:
                self._add(Code.INPUT_NOT_HERE, f"step name '{step}' is literal text",
                          self.source.key_loc(("steps", step)))
            if isinstance(spec, dict):
                self._walk(("steps", step), spec)

    def _walk(self, path: Path, node: dict[str, Any] | list[Any]) -> None:
        items: Iterator[tuple[Any, Any]] = (
            iter(node.items()) if isinstance(node, dict) else enumerate(node))
        for key, value in list(items):
            here = (*path, key)
            if len(path) == 2 and key == "when":
                node[key] = self._condition(here, value)
            elif isinstance(value, dict | list):
                self._walk(here, value)
            elif isinstance(value, str) and "${" in value:
                typed = (len(path) == 2 and key in TYPED_KEYS) or (
                    len(path) == 3 and path[2] == "inputs")
                match = WHOLE_RE.match(value) if typed else None
                if match:
                    node[key] = self._value(here, match.group(1), 0, value)
                else:
                    node[key] = self._text(here, value)

    def _condition(self, path: Path, value: Any) -> Any:
        """``when``, decided now: True or False (or the text, reported)."""
        if isinstance(value, bool):
            return value
        match = CONDITION_RE.fullmatch(value)
        if match is None:
            self._add(Code.BAD_CONDITION, f"when: {value!r} is not ${{inputs.NAME}}, "
                      "'${inputs.NAME} == VALUE' or '${inputs.NAME} != VALUE'",
                      self.source.value_loc(path))
            return value
        name, op, expected = match.groups()
        found = self._value(path, name, value.index("${"), value)
        if found is value:
            return value
        if op is None:
            if not isinstance(found, bool):
                kind = self.declared[name].type
                self._add(Code.BAD_CONDITION, f"when: input '{name}' is a {kind}, not a "
                          "boolean: compare it (== VALUE or != VALUE)",
                          self.source.value_loc(path))
                return value
            return found
        expected = expected.strip()
        if len(expected) >= 2 and expected[0] == expected[-1] and expected[0] in "'\"":
            expected = expected[1:-1]
        return (text_of(found) == expected) == (op == "==")

    def _where(self, path: Path, offset: int) -> Loc:
        loc = self.source.value_loc(path)
        if "\n" in str(self._raw(path))[:offset]:
            return loc
        shift = 1 if path in self.source.quoted else 0
        return Loc(loc.line, loc.column + offset + shift)

    def _raw(self, path: Path) -> Any:
        node: Any = self.source.data
        for part in path:
            node = node[part]
        return node

    def _value(self, path: Path, name: str, offset: int, whole: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name not in self.declared:
            known = ", ".join(self.declared) or "none"
            self._add(Code.INPUT_UNDECLARED, f"${{inputs.{name}}}: no input '{name}' is "
                      f"declared (declared: {known})", self._where(path, offset), input=name)
        return whole  # reported already (undeclared, missing or of the wrong type)

    def _text(self, path: Path, value: str) -> str:
        def one(match: re.Match[str]) -> str:
            whole = match.group(0)
            if not match.group(1):
                return whole
            found = self._value(path, match.group(1), match.start(), whole)
            return whole if found is whole else literal(text_of(found))

        return TOKEN_RE.sub(one, value)


def apply(source: Source, given: Mapping[str, object] | None) -> Applied:
    """Check ``given`` against the file's declarations and substitute them into
    ``source.data`` (in place): the reports are in the result."""
    applied = Applied(source, given)
    applied.substitute()
    return applied
