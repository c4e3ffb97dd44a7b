"""Commands on workflow files, with no cluster: validate, compile, export."""

from __future__ import annotations

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


def validate(paths: list[str]) -> Validation:
    """Check every file; a file that cannot be read is a report, not an exception."""
    from haflow.coordinator.workflow.loader import check_text, read

    result = Validation()
    for path in paths:
        try:
            found = check_text(read(path), path)[1]
        except HaflowError as err:
            found = list(err.reports)
        result.reports.extend(found)
        result.files[path] = not any(r.severity == Severity.ERROR for r in found)
    return result


def compile_file(path: str, submission: str | None = None) -> bytes:
    """The CIB XML fragment the workflow in ``path`` compiles to."""
    from haflow.coordinator.workflow.compiler import DEFAULT_SUBMISSION, compile_workflow
    from haflow.coordinator.workflow.loader import load

    return compile_workflow(load(path), submission or DEFAULT_SUBMISSION).to_xml()


def export_pcs(path: str, submission: str | None = None) -> str:
    """A pcs shell script that creates the workflow's compiled configuration."""
    from haflow.coordinator.workflow import pcs_export
    from haflow.coordinator.workflow.compiler import compile_workflow
    from haflow.coordinator.workflow.loader import load

    workflow = load(path)
    compiled = (compile_workflow(workflow) if submission is None
                else compile_workflow(workflow, submission=submission))
    return pcs_export.script(compiled.resources, compiled.constraints, compiled.tags,
                             title=f"workflow {workflow.name} from {path}")
