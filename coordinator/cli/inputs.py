"""``--input NAME=VALUE`` and ``--name INSTANCE``, shared by every command that reads a
workflow file (validate, compile, export, plan, submit)."""

from __future__ import annotations

import argparse
from typing import Any


def add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", action="append", default=[], metavar="NAME=VALUE",
                        dest="inputs", help="a value for one of the file's inputs, read as YAML "
                        "(--input hosts='[a, b]'); repeat for each")
    parser.add_argument("--name", default=None, metavar="INSTANCE", dest="instance",
                        help="the workflow's name instead of the file's: one file, many "
                        "instances side by side")


def input_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments ``inputs`` and ``name`` of the commands, from ``args``."""
    from haflow.coordinator.commands.files import parse_inputs

    return {"inputs": parse_inputs(args.inputs), "name": args.instance}
