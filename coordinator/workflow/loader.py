"""Load a workflow file: YAML -> JSON Schema -> typed model -> semantic checks.

Raises :class:`HaflowError` (exit code INVALID) carrying every error found.
Schema errors stop the pipeline (the semantic checks need well-typed data);
YAML-level problems that leave a usable document (duplicate keys) do not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from haflow.coordinator.codes import Code
from haflow.coordinator.reports import HaflowError, Report, Severity, error
from haflow.coordinator.workflow import inputs as inputs_mod
from haflow.coordinator.workflow import schema, semantic
from haflow.coordinator.workflow.agent_info import agent_info
from haflow.coordinator.workflow.build import build_workflow
from haflow.coordinator.workflow.expand import expand
from haflow.coordinator.workflow.gcpause import gc_paused
from haflow.coordinator.workflow.model import Loc, Workflow
from haflow.coordinator.workflow.semantic import MetaLookup
from haflow.coordinator.workflow.yamlsrc import MAX_CHARS, parse


def _errors(reports: list[Report]) -> list[Report]:
    return [r for r in reports if r.severity == Severity.ERROR]


# control characters, line separators and bidi overrides: messages quote names and
# values from the file, and a terminal would obey `\e]0;...` or reorder text
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _printable(text: str) -> str:
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _safe(report: Report) -> Report:
    """The report with what it quotes from the file made harmless to print."""
    message = _printable(report.message)
    step = None if report.step is None else _printable(report.step)
    if message == report.message and step == report.step:
        return report
    return replace(report, message=message, step=step)


@gc_paused
def check_text(
    text: str, filename: str = "<string>", meta: MetaLookup = agent_info, *,
    inputs: Mapping[str, object] | None = None, name: str | None = None,
) -> tuple[Workflow | None, list[Report]]:
    """The workflow (None when it could not be built) and every report, warnings included.

    ``inputs`` are the values of the file's declared inputs (text from a command line
    as :class:`inputs.RawInput`); ``name`` replaces the file's ``name`` (an instance).
    """
    wf, reports = _check_text(text, filename, meta, inputs, name, ())
    return wf, [_safe(r) for r in reports]


def _by_place(reports: list[Report], filename: str | None = None) -> list[Report]:
    """In file order; reports of other files (a sub-workflow's) after, in their order."""
    return sorted(reports, key=lambda r: (filename is not None and r.file != filename,
                                          r.line or 0, r.column or 0))


def _check_text(text: str, filename: str, meta: MetaLookup,
                given: Mapping[str, object] | None, name: str | None,
                including: tuple[Path, ...]) -> tuple[Workflow | None, list[Report]]:
    """``including``: the files whose sub-workflow this one is, outermost first."""
    source, reports = parse(text, filename)
    if source.data is None:
        return None, reports
    schema_reports = schema.check(source)
    if schema_reports:
        return None, _by_place(reports + schema_reports)
    # a file that neither declares nor uses inputs (most, and every large one so far)
    # needs no walk over its values
    if given or "inputs" in source.data or "${inputs." in text:
        applied = inputs_mod.apply(source, given)
        reports += applied.reports
        if applied.reports:
            return None, _by_place(reports)
    if name is not None:
        source.data["name"] = name
    wf = build_workflow(source)
    reports += semantic.check(wf, meta, source.quoted)
    if _errors(reports):
        return wf, _by_place(reports)
    here = (*including, Path(filename).resolve())

    def load_sub(path: Path, sub_inputs: Mapping[str, object], loc: Loc
                 ) -> tuple[Workflow | None, list[Report]]:
        if path.resolve() in here:
            chain = " -> ".join(str(p) for p in (*here, path.resolve()))
            return None, [Report(Code.SUBWORKFLOW_CYCLE, f"workflow files include each "
                                 f"other: {chain}", file=filename, line=loc.line,
                                 column=loc.column)]
        try:
            sub_text = read(path)
        except HaflowError as err:
            return None, list(err.reports)
        return _check_text(sub_text, str(path), meta, sub_inputs, None, here)

    wf, expanded = expand(wf, source, load_sub)
    reports += expanded
    return wf, _by_place(reports, filename)


def loads(text: str, filename: str = "<string>", meta: MetaLookup = agent_info, *,
          inputs: Mapping[str, object] | None = None, name: str | None = None) -> Workflow:
    """A validated workflow from YAML text, ``inputs`` applied and named ``name`` (else
    the file's name); raises HaflowError with every error."""
    wf, reports = check_text(text, filename, meta, inputs=inputs, name=name)
    errors = _errors(reports)
    if errors or wf is None:
        raise HaflowError(*(errors or reports))
    return wf


def read(path: str | Path) -> str:
    try:
        with open(path, "rb") as f:
            # bounded: /dev/zero or a runaway file must not fill memory
            data = f.read(MAX_CHARS + 1)
    except OSError as err:
        code = Code.FILE_NOT_FOUND if isinstance(err, FileNotFoundError) else Code.UNREADABLE
        raise error(code, f"cannot read workflow file: {err.strerror}", file=str(path)) from err
    if len(data) > MAX_CHARS:
        raise HaflowError(
            Report(
                Code.YAML_TOO_LARGE,
                f"the file is larger than {MAX_CHARS // 2**20} MiB",
                file=str(path),
                line=1,
                column=1,
            )
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        # in characters, like every other column: the line up to the bad byte is valid UTF-8
        line_start = data.rfind(b"\n", 0, err.start) + 1
        column = len(data[line_start : err.start].decode("utf-8")) + 1
        raise HaflowError(
            Report(
                Code.NOT_UTF8,
                f"not UTF-8 text: {err.reason} (byte 0x{data[err.start]:02x})",
                file=str(path),
                line=line,
                column=column,
            )
        ) from err
    # what text mode did before: universal newlines
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load(path: str | Path, meta: MetaLookup = agent_info, *,
         inputs: Mapping[str, object] | None = None, name: str | None = None) -> Workflow:
    """A validated workflow from a file, ``inputs`` applied and named ``name`` (else the
    file's name); raises HaflowError with every error."""
    return loads(read(path), str(path), meta, inputs=inputs, name=name)
