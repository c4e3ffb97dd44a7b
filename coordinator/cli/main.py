"""The ``haflow`` command: a thin layer over library functions that return data.

Each command group lives in its own module with ``register(subparsers)``;
handlers import their heavy modules lazily so that ``haflow --help`` is fast.
A handler returns an exit code or raises :class:`HaflowError`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from haflow.coordinator.cli.output import FORMATS, emit_error
from haflow.coordinator.exitcodes import ExitCode
from haflow.coordinator.reports import HaflowError

# modules that contribute subcommands; each has register(subparsers)
COMMAND_MODULES = (
    "haflow.coordinator.cli.agents",
    "haflow.coordinator.cli.workflow",
    "haflow.coordinator.cli.cluster",
    "haflow.coordinator.cli.plan",
    "haflow.coordinator.cli.live",
    "haflow.coordinator.cli.service",
)
_LIVE = "haflow.coordinator.cli.live"
# which module registers each command: a command builds only its own module's parsers
# (argparse of every subcommand was 25 ms of a 500-step ``haflow status``); anything
# else (``--help``, a typo) builds them all. tests/workflow/test_cli.py keeps it true.
COMMANDS = {
    "agents": "haflow.coordinator.cli.agents",
    "validate": "haflow.coordinator.cli.workflow",
    "compile": "haflow.coordinator.cli.workflow",
    "cluster": "haflow.coordinator.cli.cluster",
    "watch": "haflow.coordinator.cli.cluster",
    "plan": "haflow.coordinator.cli.plan",
    "export": "haflow.coordinator.cli.plan",
    **dict.fromkeys(("serve", "users", "templates", "service", "acl", "secrets"),
                    "haflow.coordinator.cli.service"),
    **dict.fromkeys(("submit", "list", "status", "wait", "abort", "retry", "remove",
                     "history", "approve", "pause", "resume"), _LIVE),
}


def add_output_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output-as", choices=FORMATS, default="text", help="output format (default: text)"
    )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or only of the module that registers ``command``."""
    parser = argparse.ArgumentParser(
        prog="haflow",
        description="Highly available orchestration workflows on Pacemaker and Corosync.",
    )
    from haflow import __version__

    parser.add_argument("--version", action="version", version=f"haflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    own = COMMANDS.get(command or "")
    for name in [own] if own else COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    if not own:
        for plugin in plugins(command):
            plugin(sub)
    return parser


# packages that add commands (the lab: ``haflow lab``) name their register function
# under this entry-point group; the CLI does not import them
PLUGINS = "haflow.cli"


def plugins(command: str | None) -> list[Callable[[Any], None]]:
    """The register functions of plugin commands: ``command``'s alone when it is one."""
    from importlib.metadata import entry_points

    found = list(entry_points(group=PLUGINS))
    named = [ep for ep in found if ep.name == command]
    return [ep.load() for ep in named or found]


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(words[0] if words else None).parse_args(words)
    fmt = getattr(args, "output_as", "text")
    try:
        code = args.handler(args)
    except HaflowError as err:
        emit_error(err, fmt)
        return int(err.exit_code)
    except KeyboardInterrupt:
        return 130
    return int(code if code is not None else ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
