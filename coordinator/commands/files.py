"""Commands on workflow files, with no cluster: validate, compile, export."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from haflow.coordinator.reports import HaflowError, Report, Severity


@dataclass(frozen=True)
class Validation:
    """Each file's verdict (True: no error) and every report of every file."""

    files: dict[str, bool] = field(default_factory=dict)
    reports: list[Report] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return all(self.files.values())

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "reports": [r.to_dict() for r in self.reports]}


def validate(paths: list[str], *, inputs: Mapping[str, object] | None = None,
             name: str | None = None) -> Validation:
    """Check every file (with ``inputs`` and the instance ``name``, when given); a file
    that cannot be read is a report, not an exception."""
    from haflow.coordinator.workflow.loader import check_text, read

    result = Validation()
    for path in paths:
        try:
            found = check_text(read(path), path, inputs=inputs, name=name)[1]
        except HaflowError as err:
            found = list(err.reports)
        result.reports.extend(found)
        result.files[path] = not any(r.severity == Severity.ERROR for r in found)
    return result


def compile_file(path: str, submission: str | None = None, *,
                 inputs: Mapping[str, object] | None = None, name: str | None = None) -> bytes:
    """The CIB XML fragment the workflow in ``path`` compiles to."""
    from haflow.coordinator.workflow.compiler import DEFAULT_SUBMISSION, compile_workflow
    from haflow.coordinator.workflow.loader import load

    workflow = load(path, inputs=inputs, name=name)
    return compile_workflow(workflow, submission or DEFAULT_SUBMISSION).to_xml()


def export_pcs(path: str, submission: str | None = None, *,
               inputs: Mapping[str, object] | None = None, name: str | None = None) -> str:
    """A pcs shell script that creates the workflow's compiled configuration."""
    from haflow.coordinator.workflow import pcs_export
    from haflow.coordinator.workflow.compiler import compile_workflow
    from haflow.coordinator.workflow.loader import load

    workflow = load(path, inputs=inputs, name=name)
    compiled = (compile_workflow(workflow) if submission is None
                else compile_workflow(workflow, submission=submission))
    return pcs_export.script(compiled.resources, compiled.constraints, compiled.tags,
                             title=f"workflow {workflow.name} from {path}",
                             defaults=compiled.defaults)


def parse_inputs(assignments: list[str]) -> dict[str, object]:
    """``--input NAME=VALUE`` arguments as the inputs mapping (each VALUE read as YAML
    against its input's type when the file is loaded); a bad one is a usage error."""
    from haflow.coordinator.codes import Code
    from haflow.coordinator.reports import error
    from haflow.coordinator.workflow.inputs import parse_assignment

    found: dict[str, object] = {}
    for text in assignments:
        try:
            key, value = parse_assignment(text)
        except ValueError as exc:
            raise error(Code.INPUT_BAD_VALUE, str(exc)) from exc
        if key in found:
            raise error(Code.INPUT_BAD_VALUE, f"--input {key} is given twice",
                        details={"input": key})
        found[key] = value
    return found
