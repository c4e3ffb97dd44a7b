"""Check parsed workflow data against the JSON Schema shipped with the package."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from haflow.coordinator.codes import Code
from haflow.coordinator.reports import Report
from haflow.coordinator.workflow.yamlsrc import Source

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_FILE = "workflow.schema.json"


@cache
def schema_text() -> str:
    return resources.files("haflow.coordinator.workflow").joinpath(SCHEMA_FILE).read_text()


@cache
def schema() -> dict[str, Any]:
    """The workflow JSON Schema (also what editors can use for completion)."""
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


def inlined(full: dict[str, Any]) -> dict[str, Any]:
    """The schema with its local references inlined and its patterns made Python's."""
    result: dict[str, Any] = _inline_refs(full, full.get("$defs", {}))
    return result


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with local ``$ref``s replaced by what they point to (it has no
    recursion): resolving a reference per step was a third of validation time."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {
                **_inline_refs(defs[ref.removeprefix("#/$defs/")], defs),
                **_inline_refs(rest, defs),
            }
        return {
            k: _python_pattern(v)
            if k == "pattern" and isinstance(v, str)
            else _inline_refs(v, defs)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def _python_pattern(pattern: Any) -> Any:
    """JSON Schema patterns are ECMA-262, where ``$`` is the end of the text; Python's
    ``$`` also matches before a final newline, which let ``"site\\n"`` pass as a rule
    attribute and ``"5s\\n"`` as a duration."""
    if isinstance(pattern, str) and pattern.endswith("$") and not pattern.endswith("\\$"):
        return pattern[:-1] + "\\Z"
    return pattern


@cache
def _validator() -> Draft202012Validator:
    # imported here: ~80 ms, and a valid workflow never needs it (see valid)
    from jsonschema import Draft202012Validator

    return Draft202012Validator(inlined(schema()))


def valid(data: Any) -> bool:
    """Whether ``data`` fits the schema, by the generated checks (schema_gen.py).

    False also when they are stale (the schema changed since they were made):
    jsonschema then decides alone.
    """
    from haflow.coordinator.workflow import schema_fast

    if digest() != schema_fast.SCHEMA_SHA256:
        return False
    try:
        schema_fast.validate(data)  # type: ignore[no-untyped-call]
    except Exception:  # its JsonSchemaValueException, or anything odd: jsonschema decides
        return False
    return True


@cache
def digest() -> str:
    """Of the schema file: what the generated checks were made from."""
    import hashlib

    return hashlib.sha256(schema_text().encode()).hexdigest()


def _leaves(err: ValidationError) -> list[ValidationError]:
    """For oneOf/anyOf, the innermost errors say more than "is not valid under any"."""
    if err.context and err.validator not in ("oneOf", "anyOf"):
        return [e for sub in err.context for e in _leaves(sub)]
    if err.context and all(sub.validator == "required" for sub in err.context):
        return [err.context[0]]  # a step's agent, or its workflow: the first is asked for
    return [err]


def _report(err: ValidationError, source: Source, extra_key: str = "") -> Report:
    path = tuple(err.absolute_path)
    rule: dict[str, Any] = err.schema if isinstance(err.schema, dict) else {}
    instance: Any = err.instance
    details: dict[str, Any] = {}
    step = str(path[1]) if len(path) >= 2 and path[0] == "steps" else None
    field_name = ".".join(str(p) for p in path) or "the workflow"
    if "propertyNames" in err.schema_path:
        # the error is about a key (a parameter name): point at the key
        where = source.key_loc((*path, instance))
        code, message = Code.BAD_KEY, f"{field_name}: {instance!r} is not a valid name here"
        details = {"key": instance}
    elif err.validator == "additionalProperties":
        # name the unknown key and point at it, not at the mapping holding it
        known = set(rule.get("properties", {}))
        key = extra_key
        where = source.key_loc((*path, key))
        hint = f" (known: {', '.join(sorted(known))})" if known else ""
        code, message = Code.UNKNOWN_KEY, f"unknown key '{key}' in {field_name}{hint}"
        details = {"key": key}
    elif err.validator == "required":
        where = source.value_loc(path)
        code, message = Code.MISSING_KEY, f"{field_name}: {err.message}"
    elif err.validator in ("type", "oneOf", "anyOf"):
        where = source.value_loc(path)
        # a oneOf (durations) has no single type: its description says what fits
        wanted = _describe(rule["type"]) if "type" in rule else rule.get("description", "?")
        code, message = Code.WRONG_TYPE, f"{field_name}: expected {wanted}, got {instance!r}"
    else:
        where = source.value_loc(path)
        code, message = Code.INVALID_VALUE, f"{field_name}: {err.message}"
        details = {"rule": str(err.validator)}
    return Report(
        code,
        message,
        file=source.filename,
        line=where.line,
        column=where.column,
        step=step,
        details=details,
    )


def _reports(err: ValidationError, source: Source) -> list[Report]:
    if err.validator == "additionalProperties":
        # one report per unknown key, each pointing at its key
        rule: dict[str, Any] = err.schema if isinstance(err.schema, dict) else {}
        known = set(rule.get("properties", {}))
        instance: dict[str, Any] = err.instance if isinstance(err.instance, dict) else {}
        return [_report(err, source, k) for k in instance if k not in known]
    return [_report(err, source)]


def _describe(wanted: Any) -> str:
    if isinstance(wanted, list):
        return " or ".join(str(w) for w in wanted)
    if wanted == "object":
        return "a mapping"
    if wanted == "array":
        return "a list"
    return str(wanted)


def check(source: Source) -> list[Report]:
    """Every schema violation, in file order, one report per place."""
    if valid(source.data):
        return []
    reports: list[Report] = []
    seen: set[tuple[Any, ...]] = set()
    for err in _validator().iter_errors(source.data):
        for leaf in _leaves(err):
            for report in _reports(leaf, source):
                key = (report.code, report.line, report.column)
                if key not in seen:
                    seen.add(key)
                    reports.append(report)
    return sorted(reports, key=lambda r: (r.line or 0, r.column or 0))
