"""Errors as data: a report has a stable code, a severity, a message and where.

The library raises :class:`HaflowError` carrying every report at once; the CLI
renders them as text or JSON. Tests assert on codes, not on wording. Every code is
one of the registry, :class:`~haflow.coordinator.codes.Code`, which gives its exit code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from haflow.coordinator.codes import Code
from haflow.coordinator.exitcodes import ExitCode


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Report:
    code: Code
    message: str
    severity: Severity = Severity.ERROR
    file: str | None = None
    line: int | None = None
    column: int | None = None
    step: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.code, Code):  # a report read back from JSON (another process)
            object.__setattr__(self, "code", Code[self.code])

    def location(self) -> str:
        """``file:line:column`` (as far as known), the way compilers print it."""
        parts = [p for p in (self.file, self.line, self.column) if p is not None]
        return ":".join(str(p) for p in parts)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v not in (None, {})}
        data["severity"] = self.severity.value
        return data

    def __str__(self) -> str:
        where = self.location()
        step = f" step '{self.step}':" if self.step else ""
        prefix = f"{where}: " if where else ""
        return f"{prefix}{self.severity.value}:{step} {self.message} [{self.code}]"


class HaflowError(Exception):
    """One or more error reports; nothing was changed when this is raised.

    The exit code is the first report's; ``exit_code`` only passes on the one
    another haflow process already chose.
    """

    def __init__(self, *reports: Report, exit_code: ExitCode | None = None) -> None:
        if not reports:
            raise ValueError("HaflowError needs at least one report")
        self.reports: tuple[Report, ...] = reports
        self.exit_code = reports[0].code.exit_code if exit_code is None else exit_code
        super().__init__("\n".join(str(r) for r in reports))


def error(code: Code, message: str, **where: Any) -> HaflowError:
    """Shorthand for a single-report error."""
    return HaflowError(Report(code=code, message=message, **where))
