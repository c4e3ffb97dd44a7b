"""``haflow validate FILE...`` and ``haflow compile FILE [-o OUT]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from haflow.coordinator.cli.output import emit
from haflow.coordinator.exitcodes import ExitCode
from haflow.coordinator.reports import Report, Severity


def register(sub: Any) -> None:
    from haflow.coordinator.cli.inputs import add_input_options
    from haflow.coordinator.cli.main import add_output_option

    validate = sub.add_parser("validate", help="check workflow files; print every problem")
    validate.add_argument("files", nargs="+", metavar="FILE", help="workflow YAML file")
    add_output_option(validate)
    add_input_options(validate)
    validate.set_defaults(handler=cmd_validate)

    compile_ = sub.add_parser("compile", help="print the CIB XML a workflow compiles to")
    compile_.add_argument("file", metavar="FILE", help="workflow YAML file")
    compile_.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    compile_.add_argument(
        "--submission", default=None, help="submission id set on every step (default: a constant)"
    )
    add_input_options(compile_)
    compile_.set_defaults(handler=cmd_compile)


def _text(result: dict[str, Any]) -> str:
    lines = [str(Report(**{**r, "severity": Severity(r["severity"])})) for r in result["reports"]]
    for name, ok in result["files"].items():
        lines.append(f"{name}: {'ok' if ok else 'invalid'}")
    return "\n".join(lines)


def cmd_validate(args: argparse.Namespace) -> int:
    from haflow.coordinator.cli.inputs import input_options
    from haflow.coordinator.commands.files import validate

    result = validate(args.files, **input_options(args))
    emit(result.to_dict(), args.output_as, _text)
    return int(ExitCode.OK if result.valid else ExitCode.INVALID)


def cmd_compile(args: argparse.Namespace) -> int:
    from haflow.coordinator.cli.inputs import input_options
    from haflow.coordinator.commands.files import compile_file

    xml = compile_file(args.file, args.submission, **input_options(args))
    if args.output:
        Path(args.output).write_bytes(xml)
    else:
        sys.stdout.buffer.write(xml)
        sys.stdout.flush()
    return int(ExitCode.OK)
