"""The orchestration keys, decided at submit time: the file's steps -> the workflow's steps.

- ``when`` false: the step is skipped; steps after it run after what it ran after.
- ``for_each``: one step per item, ``STEP-INDEX``, with ``${item}`` and ``${index}``
  in its parameters, nodes and avoid; a step after it runs after every instance (a
  join). ``max_parallel: N`` puts the instances in N lanes: instance i runs after
  instance i-N, so at most N start (or, reversed, undo) at once, with nothing
  Pacemaker has to count (docs/workflow-format.md, "max_parallel").
- ``workflow: PATH``: the other file's steps, ``STEP-INNER``, become steps of this
  one; its first steps run after this step's ``after``, and a step after this one
  runs after its last ones. Its ``outputs`` are read as ``${steps.STEP.KEY}``.
- ``approval: true``: the steps the step became wait for one ticket (compiler).

The result is a plain workflow (every step an agent's) the compiler knows, plus
what status and plan show: ``units``, ``skipped`` and ``gates``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from haflow.agents.outputs import TOKEN_RE as OUTPUT_TOKEN_RE
from haflow.coordinator.codes import Code
from haflow.coordinator.reports import Report, Severity
from haflow.coordinator.workflow.inputs import literal, text_of
from haflow.coordinator.workflow.model import Loc, Step, Workflow
from haflow.coordinator.workflow.yamlsrc import Source
from haflow.encoding.ids import valid_name

# "$${" (kept) or ${item} / ${index} (group 1)
ITEM_RE = re.compile(r"\$\$\{|\$\{(item|index)\}")
# what a sub-workflow step may say (the rest is its file's steps')
SUBWORKFLOW_KEYS = ("workflow", "inputs", "after", "approval", "when")

# (path of the sub-workflow file, its inputs, where the step names it) -> it, or None
# and its reports
LoadSub = Callable[[Path, Mapping[str, object], Loc], tuple[Workflow | None, list[Report]]]


def _has_item(value: str) -> bool:
    return any(m.group(1) for m in ITEM_RE.finditer(value))


def _with_item(value: str, item: Any, index: int) -> str:
    def one(match: re.Match[str]) -> str:
        if not match.group(1):
            return match.group(0)
        return literal(text_of(item)) if match.group(1) == "item" else str(index)

    return ITEM_RE.sub(one, value)


def _renamed_refs(value: str, rename: Callable[[str, str], tuple[str, str] | None]) -> str:
    """``value`` with each ``${steps.S.K}`` replaced by ``rename(S, K)`` (None: kept)."""
    def one(match: re.Match[str]) -> str:
        if not match.group(1):
            return match.group(0)
        found = rename(match.group(1), match.group(2))
        return match.group(0) if found is None else f"${{steps.{found[0]}.{found[1]}}}"

    return OUTPUT_TOKEN_RE.sub(one, value)


class _Expander:
    def __init__(self, wf: Workflow, source: Source, load_sub: LoadSub) -> None:
        self.wf = wf
        self.specs: dict[str, dict[str, Any]] = source.data["steps"]
        self.load_sub = load_sub
        self.reports: list[Report] = []
        # per file step: every step it became, and those a step after it waits for
        self.members: dict[str, list[str]] = {}
        self.exits: dict[str, list[str]] = {}
        self.skipped: list[str] = []
        self.gates: dict[str, tuple[str, ...]] = {}
        # steps made, with their dependencies still named as in the file (remapped last)
        self.made: list[tuple[Step, tuple[str, ...], list[str]]] = []
        # sub-workflow step -> its outputs: KEY -> (step, key) in this workflow
        self.outputs: dict[str, dict[str, tuple[str, str]]] = {}
        self.fanned: set[str] = set()

    def add(self, code: Code, message: str, loc: Loc, step: str | None,
            file: str | None = None, **details: Any) -> None:
        self.reports.append(Report(code, message, file=file or self.wf.source, line=loc.line,
                                   column=loc.column, step=step, details=details))

    def run(self) -> Workflow:
        for name, step in self.wf.steps.items():
            spec = self.specs[name]
            if not self._keys_fit(step, spec):
                continue
            if spec.get("when", True) is False:
                self.members[name] = []
                self.skipped.append(name)
            elif "workflow" in spec:
                self._subworkflow(step, spec)
            elif "for_each" in spec:
                self._fan_out(step, spec)
            else:
                self.members[name] = self.exits[name] = [name]
                self.made.append((step, step.after, []))
            if spec.get("approval") and self.members.get(name):
                self.gates[name] = tuple(self.members[name])
        self._check_names()
        steps = self._remapped()
        units = {name: tuple(found) for name, found in self.members.items()
                 if found != [name]}
        return replace(self.wf, steps=steps, units=units, skipped=tuple(self.skipped),
                       gates=self.gates)

    def _keys_fit(self, step: Step, spec: dict[str, Any]) -> bool:
        fits = True
        where = step.key_where
        if "workflow" in spec:
            for key in spec:
                if key not in SUBWORKFLOW_KEYS:
                    self.add(Code.BAD_SUBWORKFLOW_KEY, f"'{key}' has no meaning on a step with "
                             "'workflow' (its file's steps have their own; it takes "
                             f"{', '.join(SUBWORKFLOW_KEYS)})", where(key), step.name)
                    fits = False
        elif "inputs" in spec:
            self.add(Code.BAD_SUBWORKFLOW_KEY, "'inputs' is for a step with 'workflow'; an "
                     "agent's step takes 'params'", where("inputs"), step.name)
            fits = False
        if "max_parallel" in spec and "for_each" not in spec:
            self.add(Code.BAD_MAX_PARALLEL, "'max_parallel' limits the instances of a "
                     "'for_each' step: this step has no 'for_each'", where("max_parallel"),
                     step.name)
            fits = False
        if "for_each" not in spec:
            fits &= self.items_outside_for_each(step)
        when = spec.get("when", True)
        return fits and isinstance(when, bool)  # a condition that is text was reported

    def items_outside_for_each(self, step: Step) -> bool:
        """Report ${item}/${index} in a step that has no items; True if there is none."""
        fits = True
        found = [(f"params.{k}", v) for k, v in step.params.items()]
        found += [(f"nodes.{i}", v) for i, v in enumerate(step.nodes)]
        found += [(f"avoid.{i}", v) for i, v in enumerate(step.avoid)]
        for key, value in found:
            if "${" in value and _has_item(value):
                self.add(Code.ITEM_OUTSIDE_FOR_EACH, "${item} and ${index} are the items of "
                         "a 'for_each' step: this step has none", step.where(key), step.name)
                fits = False
        return fits

    def _fan_out(self, step: Step, spec: dict[str, Any]) -> None:
        items = spec["for_each"]
        scalar = (str, int, float, bool)
        if not isinstance(items, list) or not all(isinstance(i, scalar) for i in items):
            self.add(Code.BAD_FOR_EACH, f"for_each: expected a list of text, numbers or "
                     f"booleans, or ${{inputs.NAME}} of a list input; got {items!r}",
                     step.where("for_each"), step.name)
            return
        self.fanned.add(step.name)
        lanes = spec.get("max_parallel")
        names = [f"{step.name}-{index}" for index in range(len(items))]
        self.members[step.name] = self.exits[step.name] = names
        if not items:
            self.skipped.append(step.name)
            return
        for index, item in enumerate(items):
            instance = replace(
                step, name=names[index], unit=step.name,
                params={k: _with_item(v, item, index) for k, v in step.params.items()},
                nodes=tuple(_with_item(v, item, index) for v in step.nodes),
                avoid=tuple(_with_item(v, item, index) for v in step.avoid))
            if lanes and index >= lanes:  # its lane's instance before runs after the rest
                self.made.append((instance, (), [names[index - lanes]]))
            else:
                self.made.append((instance, step.after, []))

    def _subworkflow(self, step: Step, spec: dict[str, Any]) -> None:
        name = step.name
        base = Path(self.wf.source).parent
        sub, reports = self.load_sub(base / spec["workflow"], spec.get("inputs", {}),
                                     step.where("workflow"))
        if sub is None or any(r.severity == Severity.ERROR for r in reports):
            self.add(Code.SUBWORKFLOW_INVALID, f"workflow '{spec['workflow']}' does not load "
                     "(its reports follow)", step.where("workflow"), name)
            # a file that cannot be read at all has no place of its own: its report
            # points at the `workflow:` key that names it
            where = step.where("workflow")
            self.reports += [r if r.line is not None else
                             replace(r, file=self.wf.source, line=where.line,
                                     column=where.column) for r in reports]
            return
        self.reports += reports  # its warnings
        prefixed = {inner: f"{name}-{inner}" for inner in sub.steps}

        def rename(target: str, key: str) -> tuple[str, str] | None:
            return (prefixed[target], key) if target in prefixed else None

        later = {d for s in sub.steps.values() for d in s.after}
        self.members[name] = list(prefixed.values())
        self.exits[name] = [prefixed[s] for s in sub.steps if s not in later]
        for inner in sub.steps.values():
            made = replace(
                inner, name=prefixed[inner.name], unit=name,
                params={k: _renamed_refs(v, rename) for k, v in inner.params.items()},
                after=(), with_=tuple(prefixed[s] for s in inner.with_),
                apart=tuple(prefixed[s] for s in inner.apart))
            # its first steps wait for what this step waits for
            self.made.append((made, () if inner.after else step.after,
                              [prefixed[s] for s in inner.after]))
        self.skipped += [f"{name}-{s}" for s in sub.skipped]
        self.gates.update({f"{name}-{g}": tuple(prefixed[s] for s in held)
                           for g, held in sub.gates.items()})
        self.outputs[name] = {}
        for key, ref in sub.outputs.items():
            found = list(OUTPUT_TOKEN_RE.finditer(ref))
            if len(found) == 1 and found[0].group(0) == ref and found[0].group(1) in prefixed:
                self.outputs[name][key] = (prefixed[found[0].group(1)], found[0].group(2))
            else:
                self.add(Code.UNKNOWN_OUTPUT, f"output '{key}' of workflow "
                         f"'{spec['workflow']}' must be ${{steps.STEP.KEY}} of one of its "
                         f"steps, not {ref!r}", step.where("workflow"), name)

    def _resolve(self, dep: str, seen: set[str] | None = None) -> list[str]:
        """What a step named ``dep`` in its ``after`` waits for."""
        if self.members.get(dep):
            return self.exits[dep]
        if dep not in self.members:
            return []  # a step that was not made (reported)
        seen = seen or set()
        found: list[str] = []
        for before in self.wf.steps[dep].after:  # skipped: what it ran after
            if before not in seen:
                seen.add(before)
                found += self._resolve(before, seen)
        return found

    def _remapped(self) -> dict[str, Step]:
        steps: dict[str, Step] = {}
        for step, file_after, final in self.made:
            after = list(dict.fromkeys(final + [s for d in file_after for s in self._resolve(d)]))
            outer = not step.unit or step.unit in self.fanned
            with_, apart = step.with_, step.apart
            params = step.params
            if outer:  # the file's own names, not a sub-workflow's
                with_ = tuple(s for d in step.with_ for s in self.members.get(d, ()))
                apart = tuple(s for d in step.apart for s in self.members.get(d, ()))
                params = {k: self._outer_refs(step, k, v) for k, v in step.params.items()}
            steps[step.name] = replace(step, after=tuple(after), with_=with_, apart=apart,
                                       params=params)
        return steps

    def _outer_refs(self, step: Step, param: str, value: str) -> str:
        def rename(target: str, key: str) -> tuple[str, str] | None:
            if target in self.outputs:
                if key not in self.outputs[target]:
                    known = ", ".join(self.outputs[target]) or "none"
                    self.add(Code.UNKNOWN_OUTPUT, f"${{steps.{target}.{key}}}: the workflow "
                             f"of step '{target}' declares no output '{key}' (outputs: "
                             f"{known})", step.where(f"params.{param}"), step.name)
                    return None
                return self.outputs[target][key]
            if target in self.fanned:
                self.add(Code.FAN_OUT_REFERENCE, f"${{steps.{target}.{key}}}: '{target}' has "
                         "one instance per item, each with its own outputs", step.where(
                             f"params.{param}"), step.name)
            elif target in self.skipped:
                self.add(Code.REFERENCE_UNKNOWN_STEP, f"${{steps.{target}.{key}}}: step "
                         f"'{target}' is skipped (its 'when' is false)",
                         step.where(f"params.{param}"), step.name)
            return None

        return _renamed_refs(value, rename) if "${steps." in value else value

    def _check_names(self) -> None:
        """Names made by expansion: valid ids, and no two steps of one name."""
        seen: dict[str, Step] = {}
        for step, _, _ in self.made:
            culprit = step if step.unit else seen.get(step.name, step)
            origin = self.wf.steps.get(culprit.unit)
            loc = origin.loc if origin else culprit.loc
            if step.name in seen:
                self.add(Code.NAME_CLASH, f"step '{culprit.unit}' makes a step named "
                         f"'{step.name}', which another step is named too", loc, culprit.unit)
            elif step.unit and not valid_name(step.name):
                self.add(Code.NAME_CLASH, f"step '{step.unit}' makes a step named "
                         f"'{step.name}', over 48 characters: shorten the names", loc,
                         step.unit)
            seen[step.name] = step


# the step keys this module reads: a file with none of them is its own expansion
KEYS = frozenset(("for_each", "max_parallel", "approval", "when", "workflow", "inputs"))


def expand(wf: Workflow, source: Source, load_sub: LoadSub) -> tuple[Workflow, list[Report]]:
    """The workflow with the orchestration keys applied, and what they found wrong."""
    expander = _Expander(wf, source, load_sub)
    if not any(KEYS.intersection(spec) for spec in source.data["steps"].values()):
        for step in wf.steps.values():  # the one check that applies to a plain step
            expander.items_outside_for_each(step)
        return wf, expander.reports
    result = expander.run()
    return result, expander.reports
