"""``haflow agents install|uninstall|list``."""

from __future__ import annotations

import argparse
from typing import Any

from haflow.coordinator.exitcodes import ExitCode


def register(sub: Any) -> None:
    from haflow.coordinator.cli.main import add_output_option

    parser = sub.add_parser("agents", help="install haflow's OCF agents on this node",
                            description="Manage haflow's OCF resource agents (ocf:haflow:*).")
    actions = parser.add_subparsers(dest="agents_command", metavar="ACTION", required=True)
    for name, text in (("install", "install or refresh the agents (idempotent)"),
                       ("uninstall", "remove the agents installed by haflow"),
                       ("list", "list haflow's agents and whether they are installed")):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument("--ocf-root", default=None,
                            help="OCF root (default: $OCF_ROOT or /usr/lib/ocf)")
        if name == "install":
            from haflow.coordinator.cluster.env import add_cluster_options

            action.add_argument("--python", default=None,
                                help="interpreter for the launchers (default: this one)")
            action.add_argument("--cluster", action="store_true",
                                help="also configure haflow's alert agent in the cluster's "
                                "CIB (submit does it too)")
            add_cluster_options(action)
        add_output_option(action)
        action.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from haflow.agents import install
    from haflow.coordinator.cli.output import emit
    from haflow.coordinator.codes import Code
    from haflow.coordinator.reports import error

    try:
        if args.agents_command == "install":
            placed = install.install(args.ocf_root, args.python)
        elif args.agents_command == "uninstall":
            placed = install.uninstall(args.ocf_root)
        else:
            placed = install.listing(args.ocf_root)
    except OSError as exc:
        hint = " (run as root, or pass --ocf-root)" if isinstance(exc, PermissionError) else ""
        raise error(Code.CANNOT_WRITE,
                    f"cannot write {exc.filename}: {exc.strerror}{hint}") from exc

    if getattr(args, "cluster", False):
        from haflow.coordinator.cluster import env as envs
        from haflow.coordinator.commands.submit import configure_alert

        changed = configure_alert(envs.from_args(args))
        placed.append(install.Placed("alert", "cluster CIB <alerts>",
                                     "installed" if changed else "unchanged"))

    def text(rows: list[dict[str, str]]) -> str:
        return "\n".join(f"{r['state']:<10} {r['name']:<13} {r['path']}" for r in rows)

    emit([asdict(p) for p in placed], args.output_as, text)
    return int(ExitCode.OK)
