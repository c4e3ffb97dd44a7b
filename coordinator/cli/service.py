"""The service's commands: ``haflow serve``, ``users``, ``templates``, ``service``, ``acl``."""

from __future__ import annotations

import argparse
from typing import Any

from haflow.coordinator.exitcodes import ExitCode


def register(sub: Any) -> None:
    from haflow.coordinator.cluster.env import add_cluster_options

    def command(parent: Any, name: str, text: str, handler: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = parent.add_parser(name, help=text, description=text)
        add_cluster_options(parser)
        parser.add_argument("--output-as", choices=("text", "json"), default="text",
                            help="output format (default: text)")
        parser.set_defaults(handler=handler)
        return parser

    p = command(sub, "serve", "the JSON HTTP API (/v1, OpenAPI at /openapi.json)", cmd_serve)
    p.add_argument("--listen", default="127.0.0.1:8443",
                   help="HOST:PORT or unix:PATH (default: 127.0.0.1:8443)")
    p.add_argument("--tls-cert", default=None, help="serve HTTPS with this certificate")
    p.add_argument("--tls-key", default=None, help="and this key")

    users = sub.add_parser("users", help="the API's users (tokens stored as hashes)")
    usub = users.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = command(usub, "add", "add a user; prints its token once", cmd_users_add)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--role", required=True, choices=("viewer", "operator", "admin"))
    command(usub, "list", "every user and role", cmd_users_list)
    p = command(usub, "remove", "remove a user (its token stops working)", cmd_users_remove)
    p.add_argument("name", metavar="NAME")
    p = command(usub, "rotate", "a new token for a user; the old one stops working",
                cmd_users_rotate)
    p.add_argument("name", metavar="NAME")

    templates = sub.add_parser("templates", help="the workflows the API's callers may run")
    tsub = templates.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = command(tsub, "add", "validate a workflow file and store it as a template",
                cmd_templates_add)
    p.add_argument("file", metavar="FILE")
    p.add_argument("--replace", action="store_true", help="replace a template of that name")
    command(tsub, "list", "every template", cmd_templates_list)
    p = command(tsub, "show", "a template's workflow file", cmd_templates_show)
    p.add_argument("name", metavar="NAME")
    p = command(tsub, "remove", "remove a template", cmd_templates_remove)
    p.add_argument("name", metavar="NAME")


def _env(args: argparse.Namespace) -> Any:
    from haflow.coordinator.cluster.env import from_args

    return from_args(args)


def _emit(args: argparse.Namespace, data: Any, text: Any) -> None:
    from haflow.coordinator.cli.output import emit

    emit(data, args.output_as, text)


def cmd_serve(args: argparse.Namespace) -> int:
    from haflow.coordinator.service.serve import parse_listen, serve

    serve(_env(args), parse_listen(args.listen), args.tls_cert, args.tls_key)
    return int(ExitCode.OK)


def cmd_users_add(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.users import add

    token = add(_env(args), args.name, args.role)
    _emit(args, {"user": args.name, "role": args.role, "token": token},
          lambda d: f"{d['token']}\n(user {d['user']}, role {d['role']}: this token is shown "
          "once, only its hash is stored)")
    return int(ExitCode.OK)


def cmd_users_rotate(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.users import rotate

    token = rotate(_env(args), args.name)
    _emit(args, {"user": args.name, "token": token},
          lambda d: f"{d['token']}\n(the new token of {d['user']}; the old one no longer works)")
    return int(ExitCode.OK)


def cmd_users_list(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.users import list_users

    found = [u.to_dict() for u in list_users(_env(args))]
    _emit(args, found, lambda d: "\n".join(f"{u['name']:<24} {u['role']}" for u in d)
          or "no users")
    return int(ExitCode.OK)


def cmd_users_remove(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.users import remove

    remove(_env(args), args.name)
    _emit(args, {"user": args.name, "removed": True}, lambda d: f"removed user {d['user']}")
    return int(ExitCode.OK)


def cmd_templates_add(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.templates import add

    found = add(_env(args), args.file, args.replace)
    _emit(args, found.to_dict(text=False), lambda d: f"added template {d['name']}"
          + (f" (inputs: {', '.join(d['inputs'])})" if d["inputs"] else ""))
    return int(ExitCode.OK)


def cmd_templates_list(args: argparse.Namespace) -> int:
    from haflow.coordinator.cluster import live_view
    from haflow.coordinator.commands.templates import templates_in

    found = [t.to_dict(text=False) for _, t in
             sorted(templates_in(live_view.query(_env(args))).items())]
    _emit(args, found, lambda d: "\n".join(
        f"{t['name']:<24} {', '.join(t['inputs']) or '-':<30} {t['description']}".rstrip()
        for t in d) or "no templates")
    return int(ExitCode.OK)


def cmd_templates_show(args: argparse.Namespace) -> int:
    from haflow.coordinator.cluster import live_view
    from haflow.coordinator.commands.templates import get

    found = get(live_view.query(_env(args)), args.name)
    _emit(args, found.to_dict(), lambda d: d["text"])
    return int(ExitCode.OK)


def cmd_templates_remove(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.templates import remove

    remove(_env(args), args.name)
    _emit(args, {"template": args.name, "removed": True},
          lambda d: f"removed template {d['template']}")
    return int(ExitCode.OK)
