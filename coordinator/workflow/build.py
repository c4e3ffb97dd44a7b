"""Schema-valid data -> the typed model, keeping every location."""

from __future__ import annotations

from typing import Any

from haflow.coordinator.workflow.durations import parse_ms
from haflow.coordinator.workflow.model import (
    DEFAULT_INTERVAL_MS,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_MS,
    AgentSpec,
    FailurePolicy,
    Loc,
    Rule,
    RuleOp,
    Step,
    Workflow,
)
from haflow.coordinator.workflow.yamlsrc import Path, Source

# YAML key -> Step field, where they differ ("with" is a Python keyword)
_LIST_FIELDS = {
    "after": "after",
    "with": "with_",
    "apart": "apart",
    "nodes": "nodes",
    "avoid": "avoid",
}
# an agent that does not parse still gets a spec (standard "?", the text as its
# type), so later checks can name it
UNPARSED = "?"


def param_text(value: Any) -> str:
    """Parameter values are strings in the CIB; YAML's booleans become ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _step_locs(table: dict[Path, Loc]) -> dict[str, dict[str, Loc]]:
    """Per step, locations below it from ``table``, keyed ``after.0``, ``params.url``..."""
    found: dict[str, dict[str, Loc]] = {}
    for where, loc in table.items():
        if len(where) > 2 and where[0] == "steps":
            # most are a step's own keys (agent, after): no join for those
            key = str(where[2]) if len(where) == 3 else ".".join(map(str, where[2:]))
            found.setdefault(str(where[1]), {})[key] = loc
    return found


# a sub-workflow step's agent until expand.py replaces the step by the file's steps
SUBWORKFLOW = AgentSpec("", "", "")


def _agent(data: dict[str, Any]) -> AgentSpec:
    if "agent" not in data:
        return SUBWORKFLOW
    return AgentSpec.parse(data["agent"]) or AgentSpec(UNPARSED, UNPARSED, data["agent"])


def build_step(
    name: str,
    data: dict[str, Any],
    source: Source,
    default: FailurePolicy,
    locs: dict[str, Loc],
    key_locs: dict[str, Loc],
) -> Step:
    path: Path = ("steps", name)
    lists = {field: tuple(data.get(key, ())) for key, field in _LIST_FIELDS.items()}
    rules = tuple(
        Rule(
            attribute=r["attribute"],
            op=RuleOp(r["op"]),
            value=None if "value" not in r else param_text(r["value"]),
            type=r.get("type", "string"),
            loc=source.value_loc((*path, "rules", i)),
        )
        for i, r in enumerate(data.get("rules", ()))
    )
    return Step(
        name=name,
        agent=_agent(data),
        params={k: param_text(v) for k, v in data.get("params", {}).items()},
        rules=rules,
        timeout_ms=parse_ms(data["timeout"]) if "timeout" in data else DEFAULT_TIMEOUT_MS,
        retries=data.get("retries", DEFAULT_RETRIES),
        interval_ms=parse_ms(data["interval"]) if "interval" in data else DEFAULT_INTERVAL_MS,
        failure_policy=FailurePolicy(data.get("failure_policy", default)),
        unit="",
        loc=source.key_loc(path),
        locs=locs,
        key_locs=key_locs,
        **lists,
    )


def build_workflow(source: Source) -> Workflow:
    data: dict[str, Any] = source.data
    default = FailurePolicy(data.get("failure_policy", FailurePolicy.ROLLBACK))
    locs, key_locs = _step_locs(source.values), _step_locs(source.keys)
    steps = {
        name: build_step(name, step, source, default, locs.get(name, {}), key_locs.get(name, {}))
        for name, step in data["steps"].items()
    }
    return Workflow(
        name=data["name"],
        steps=steps,
        description=data.get("description", ""),
        failure_policy=default,
        source=source.filename,
        outputs=dict(data.get("outputs", {})),
        loc=source.value_loc(()),
        locs={str(p[0]): loc for p, loc in source.values.items() if len(p) == 1},
    )
