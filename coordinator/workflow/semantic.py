"""Checks beyond the schema: names, the dependency graph, output references,
agents and their parameters, and placement that no cluster could satisfy.

Each check returns reports and never stops the others: a user fixing a file
sees every problem in one run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

from haflow.agents.outputs import LOOSE_REFERENCE_RE, references
from haflow.coordinator.codes import Code
from haflow.coordinator.reports import Report, Severity
from haflow.coordinator.workflow.agent_info import AgentInfo, agent_info
from haflow.coordinator.workflow.build import SUBWORKFLOW, UNPARSED
from haflow.coordinator.workflow.graph import Ancestors, find_cycles
from haflow.coordinator.workflow.model import (
    HAFLOW_AGENTS,
    AgentSpec,
    FailurePolicy,
    Loc,
    RuleOp,
    Step,
    Workflow,
)
from haflow.encoding.ids import NAME_MAX, ROOT_AGENT, ROOT_STEP, valid_name
from haflow.encoding.meta import PARAM_STEP, PARAM_SUBMISSION, PARAM_WORKFLOW
from haflow.encoding.value import unkeepable

# not ours to check: ${secrets.NAME} is resolved when the action runs, from a store outside
# the CIB (the service's); ${item} and ${index} are a for_each step's (expand.py)
PASSED_ON_RE = re.compile(r"\$\{(?:secrets\.[A-Za-z_][A-Za-z0-9_.-]*|item|index)\}")
FRAMEWORK_PARAMS = (PARAM_WORKFLOW, PARAM_STEP, PARAM_SUBMISSION)
MAX_CYCLES = 20
SUGGESTION_BUDGET = 10_000  # candidates compared, per file: ~0.1 s
NAME_RULE = "a letter, then up to 47 letters, digits, '_' or '-'"

MetaLookup = Callable[[AgentSpec], AgentInfo]


class _Out:
    """Collects reports for one workflow file."""

    def __init__(self, wf: Workflow) -> None:
        self.wf = wf
        self.reports: list[Report] = []
        self.quoted: set[tuple[Any, ...]] = set()
        self._ancestors: Ancestors | None = None
        # "did you mean" is a fuzzy match against every step: a few are helpful, one per
        # typo in a 3,000-step file took 7 minutes. Spent per candidate compared
        self.suggestion_budget = SUGGESTION_BUDGET

    def runs_after(self, step: str, other: str) -> bool:
        if self._ancestors is None:  # built on first use: most workflows reference nothing
            self._ancestors = Ancestors({n: s.after for n, s in self.wf.steps.items()})
        return self._ancestors(step, other)

    def add(
        self,
        code: Code,
        message: str,
        loc: Loc,
        step: str | None = None,
        severity: Severity = Severity.ERROR,
        **details: Any,
    ) -> None:
        self.reports.append(
            Report(
                code,
                message,
                severity=severity,
                file=self.wf.source,
                line=loc.line,
                column=loc.column,
                step=step,
                details=details,
            )
        )


def check(
    wf: Workflow, meta: MetaLookup = agent_info, quoted: Collection[tuple[Any, ...]] = ()
) -> list[Report]:
    """Every semantic problem of ``wf``; ``quoted`` (paths of quoted scalars) sharpens columns."""
    out = _Out(wf)
    out.quoted = set(quoted)
    _names(out)
    _step_refs(out)
    _cycles(out)
    for step in wf.steps.values():
        _agent_and_params(out, step, meta)
        _output_refs(out, step)
        _rules(out, step)
        _timing(out, step)
    _placement(out)
    return sorted(out.reports, key=lambda r: (r.line or 0, r.column or 0, r.code))


def _names(out: _Out) -> None:
    wf = out.wf
    if not valid_name(wf.name):
        out.add(
            Code.BAD_NAME,
            f"workflow name '{wf.name}' is not valid: {NAME_RULE}",
            wf.locs.get("name", wf.loc),
        )
    for step in wf.steps.values():
        if step.name == ROOT_STEP:
            out.add(
                Code.RESERVED_NAME,
                f"'{ROOT_STEP}' is reserved for the workflow's root resource",
                step.loc,
                step.name,
            )
        elif not valid_name(step.name):
            out.add(
                Code.BAD_NAME,
                f"step name '{step.name}' is not valid: {NAME_RULE}",
                step.loc,
                step.name,
            )


def _step_refs(out: _Out) -> None:
    """after/with/apart name steps of this workflow, other than the step itself."""
    for step in out.wf.steps.values():
        for key, names in (("after", step.after), ("with", step.with_), ("apart", step.apart)):
            for i, name in enumerate(names):
                loc = step.where(f"{key}.{i}")
                if name == step.name:
                    out.add(Code.SELF_REFERENCE, f"'{key}' names the step itself", loc, step.name)
                elif name not in out.wf.steps:
                    out.add(
                        Code.UNKNOWN_STEP,
                        f"'{key}' names unknown step '{name}'" + _suggest(out, name),
                        loc,
                        step.name,
                        target=name,
                    )


def _suggest(out: _Out, name: str) -> str:
    import difflib

    if len(name) > NAME_MAX:
        return ""  # a name that long is no typo of a valid one, and matching costs len²
    known = [k for k in out.wf.steps if len(k) <= NAME_MAX]
    if len(known) > out.suggestion_budget:
        return ""
    out.suggestion_budget -= len(known)
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _cycles(out: _Out) -> None:
    after = {name: [d for d in s.after if d != name] for name, s in out.wf.steps.items()}
    # 600 steps each after all the others hold 180,000 cycles (300 MB of reports): the
    # first ones say what is wrong, and fixing them shows the next
    for cycle in find_cycles(after, limit=MAX_CYCLES):
        first = out.wf.steps[cycle[0]]
        # the cycle runs against the arrows: a after b after ... after a
        text = " -> ".join(reversed(cycle)) + " (each runs before the next)"
        loc = first.where(f"after.{first.after.index(cycle[1])}")
        out.add(Code.CYCLE, f"dependency cycle: {text}", loc, first.name,
                cycle=list(reversed(cycle)))


def _agent_and_params(out: _Out, step: Step, meta: MetaLookup) -> None:
    if step.agent == SUBWORKFLOW:
        return  # its file's steps are checked when it is loaded (expand.py)
    agent_loc = step.where("agent")
    if step.agent.standard == UNPARSED:
        text = step.agent.type
        if ":" not in text:
            known = ", ".join(HAFLOW_AGENTS)
            out.add(
                Code.UNKNOWN_AGENT,
                f"no haflow agent named '{text}' (known: {known}; "
                "others are written ocf:PROVIDER:TYPE)",
                agent_loc,
                step.name,
            )
        else:
            out.add(
                Code.BAD_AGENT,
                f"agent '{text}': write exec, http, test or "
                "ocf:PROVIDER:TYPE (only OCF agents can be steps; PROVIDER and TYPE "
                "are letters, digits, '_', '.', '+' or '-', not starting with '.' or '-')",
                agent_loc,
                step.name,
            )
        return
    if step.agent.is_haflow and step.agent.type == ROOT_AGENT:
        out.add(
            Code.BAD_AGENT,
            f"'{step.agent}' is the workflow's root agent, not a step's",
            agent_loc,
            step.name,
        )
        return
    if step.agent.is_haflow:
        for param in FRAMEWORK_PARAMS:
            if param in step.params:
                out.add(
                    Code.RESERVED_PARAM,
                    f"parameter '{param}' is set by haflow itself",
                    step.key_where(f"params.{param}"),
                    step.name,
                    param=param,
                )
    else:
        for param, value in step.params.items():
            what = unkeepable(value)
            if what is not None:
                out.add(
                    Code.PARAM_NOT_KEEPABLE,
                    f"parameter '{param}' of agent '{step.agent}' holds {what}, which "
                    "Pacemaker 2.1.5 cannot write into the CIB unchanged (only haflow's own "
                    "agents take such a value, quoted)",
                    step.where(f"params.{param}"),
                    step.name,
                    param=param,
                )
    info = meta(step.agent)
    if info.error and info.checked:
        out.add(Code.UNKNOWN_AGENT, f"agent '{step.agent}': {info.error}", agent_loc, step.name)
        return
    if not info.checked:
        out.add(
            Code.UNCHECKED_PARAMS,
            f"parameters of '{step.agent}' not checked: {info.error}",
            agent_loc,
            step.name,
            severity=Severity.WARNING,
        )
        return
    given = set(step.params)
    for param in step.params:
        if param not in info.params and not (step.agent.is_haflow and param in FRAMEWORK_PARAMS):
            known = ", ".join(sorted(info.params)) or "none"
            out.add(
                Code.UNKNOWN_PARAM,
                f"agent '{step.agent}' has no parameter '{param}' (known: {known})",
                step.key_where(f"params.{param}"),
                step.name,
                param=param,
            )
    framework = set(FRAMEWORK_PARAMS) if step.agent.is_haflow else set()
    for param in sorted(info.required - given - framework):
        out.add(
            Code.MISSING_PARAM,
            f"agent '{step.agent}' requires parameter '{param}'",
            step.where("params") if step.params else agent_loc,
            step.name,
            param=param,
        )


def _output_refs(out: _Out, step: Step) -> None:
    """``${steps.S.KEY}`` must name a step this one (transitively) runs after."""
    for param, value in step.params.items():
        if "${" not in value:
            continue
        loc = step.where(f"params.{param}")
        if ("steps", step.name, "params", param) in out.quoted:
            loc = Loc(loc.line, loc.column + 1)  # the text starts after the quote
        # where references start: a reference holds no '$', so a loose `${` inside one
        # can only start where it does (a set, not a scan per match: 30,000 references
        # in one value took minutes)
        parsed: set[int] = set()
        newline = value.find("\n")
        for target, key, offset in references(value):
            end = value.index("}", offset) + 1
            parsed.add(offset)
            ref = value[offset:end]
            on_first_line = newline < 0 or offset < newline
            where = Loc(loc.line, loc.column + offset) if on_first_line else loc
            if target not in out.wf.steps:
                out.add(
                    Code.REFERENCE_UNKNOWN_STEP,
                    f"{ref} names unknown step '{target}'",
                    where,
                    step.name,
                    target=target,
                    key=key,
                )
                continue
            if not out.runs_after(step.name, target):
                out.add(
                    Code.REFERENCE_NOT_DEPENDENCY,
                    f"{ref}: '{step.name}' does not run after '{target}' (add it to 'after')",
                    where,
                    step.name,
                    target=target,
                    key=key,
                )
        for match in LOOSE_REFERENCE_RE.finditer(value):
            if match.start() not in parsed and not PASSED_ON_RE.fullmatch(match.group(0)):
                out.add(
                    Code.BAD_REFERENCE,
                    f"'{match.group(0)}' is not a reference: write "
                    "${steps.STEP.KEY}, or $${ for a literal ${",
                    Loc(loc.line, loc.column + match.start()),
                    step.name,
                )


# Pacemaker keeps op timeouts and intervals as 32-bit milliseconds (~24.8 days):
# a longer one would wrap around in the cluster, not wait longer
MAX_DURATION_MS = 2**31 - 1


def _timing(out: _Out, step: Step) -> None:
    if step.timeout_ms < 1000:
        out.add(Code.BAD_DURATION, "timeout must be at least 1s", step.where("timeout"), step.name)
    for name, value in (("timeout", step.timeout_ms), ("interval", step.interval_ms)):
        if value > MAX_DURATION_MS:
            out.add(
                Code.BAD_DURATION,
                f"{name} must be at most {MAX_DURATION_MS // 1000}s (~24 days)",
                step.where(name),
                step.name,
            )
    if 0 < step.interval_ms < 1000:
        out.add(
            Code.BAD_DURATION,
            "interval must be 0 (no monitor) or at least 1s",
            step.where("interval"),
            step.name,
        )
    if step.failure_policy == FailurePolicy.HOLD and "retries" in step.locs:
        out.add(
            Code.RETRIES_IGNORED,
            "under failure_policy hold the first failure blocks the step: 'retries' has no effect",
            step.where("retries"),
            step.name,
            severity=Severity.WARNING,
        )


def _rules(out: _Out, step: Step) -> None:
    for rule in step.rules:
        unary = rule.op in (RuleOp.DEFINED, RuleOp.NOT_DEFINED)
        if unary and rule.value is not None:
            out.add(Code.BAD_RULE, f"rule op '{rule.op}' takes no value", rule.loc, step.name)
        elif not unary and rule.value is None:
            out.add(Code.BAD_RULE, f"rule op '{rule.op}' needs a value", rule.loc, step.name)
        elif rule.value is not None and (what := unkeepable(str(rule.value))) is not None:
            out.add(Code.BAD_RULE, f"rule value holds {what}, which Pacemaker 2.1.5 cannot "
                    "write into the CIB unchanged", rule.loc, step.name)


def _placement(out: _Out) -> None:
    from haflow.coordinator.workflow.placement import impossible_placement

    for code, message, step, key in impossible_placement(out.wf):
        s = out.wf.steps[step]
        out.add(code, message, s.where(key), step)
