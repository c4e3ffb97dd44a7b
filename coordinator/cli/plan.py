"""``haflow plan`` and ``haflow export``: look before applying, or apply with pcs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from haflow.coordinator.cli.output import emit
from haflow.coordinator.cluster import env as envmod
from haflow.coordinator.exitcodes import ExitCode


def register(sub: Any) -> None:
    from haflow.coordinator.cli.inputs import add_input_options

    plan = sub.add_parser(
        "plan", help="show what Pacemaker will do with a workflow (changes nothing)",
        description="Compile FILE, merge it into a shadow copy of the live CIB (or --cib FILE) "
        "and run Pacemaker's scheduler offline: which step starts on which node, in which "
        "waves, in which order. Nothing is written to the cluster.")
    plan.add_argument("file", metavar="FILE", help="the workflow file")
    plan.add_argument("--cib", metavar="CIBFILE", default=None,
                      help="plan against this CIB file instead of the live CIB")
    what_if = plan.add_mutually_exclusive_group()
    what_if.add_argument("--node-down", metavar="NODE", default=None,
                         help="what-if: NODE is lost while the workflow runs")
    what_if.add_argument("--fail", metavar="STEP", default=None,
                         help="what-if: STEP fails wherever it starts (its failure policy)")
    plan.add_argument("--output-as", choices=("text", "json", "dot"), default="text",
                      help="output format (default: text)")
    envmod.add_cluster_options(plan)
    add_input_options(plan)
    plan.set_defaults(handler=run_plan)

    export = sub.add_parser(
        "export", help="write a workflow as commands of another tool",
        description="Write the commands that create FILE's compiled configuration.")
    export.add_argument("--pcs", action="store_true", required=True,
                        help="as a pcs shell script (pcs -f, then one cib-push)")
    export.add_argument("file", metavar="FILE", help="the workflow file")
    export.add_argument("-o", "--output", metavar="SCRIPT", default=None,
                        help="write the script here (default: stdout)")
    export.add_argument("--submission", default=None,
                        help="submission id to compile with (default: the compiler's)")
    add_input_options(export)
    export.set_defaults(handler=run_export, output_as="text")


def run_plan(args: argparse.Namespace) -> int:
    from haflow.coordinator.cli.inputs import input_options
    from haflow.coordinator.commands import plan

    result = plan.plan_file(args.file, None if args.cib else envmod.from_args(args), args.cib,
                            node_down=args.node_down, fail=args.fail, **input_options(args))
    if args.output_as == "dot":
        sys.stdout.write(plan.to_dot(result))
    else:
        emit(result.to_dict(), args.output_as, lambda _: plan.to_text(result))
    return ExitCode.OK


def run_export(args: argparse.Namespace) -> int:
    from haflow.coordinator.cli.inputs import input_options
    from haflow.coordinator.commands.files import export_pcs

    text = export_pcs(args.file, args.submission, **input_options(args))
    if args.output:
        Path(args.output).write_text(text)
        Path(args.output).chmod(0o755)
    else:
        sys.stdout.write(text)
    return ExitCode.OK
