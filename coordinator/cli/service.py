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
    register_service(sub)
    register_acl(sub)

    secrets = sub.add_parser("secrets", help="values steps reference as ${secrets.NAME}, kept "
                             "on every node outside the CIB")
    ssub = secrets.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = command(ssub, "set", "store a secret (its value on standard input) on every node",
                cmd_secrets_set)
    p.add_argument("name", metavar="NAME")
    command(ssub, "list", "every secret's name (never a value)", cmd_secrets_list)
    p = command(ssub, "remove", "remove a secret from every node", cmd_secrets_remove)
    p.add_argument("name", metavar="NAME")
    p = ssub.add_parser("keep", help=argparse.SUPPRESS)  # the keeper (ocf:haflow:keeper)
    p.add_argument("--ready-file", default=None)
    p.set_defaults(handler=cmd_secrets_keep)


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


def register_service(sub: Any) -> None:
    from haflow.coordinator.cluster.env import add_cluster_options

    service = sub.add_parser("service", help="the API as a highly available cluster resource")
    ssub = service.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = ssub.add_parser("enable", help="add the API and its address (one change)",
                        description="add the API (ocf:haflow:api) and an IPaddr2 address, "
                        "colocated and ordered, in one CIB change")
    add_cluster_options(p)
    p.add_argument("--vip", required=True, metavar="ADDRESS/PREFIX")
    p.add_argument("--port", type=int, default=8443)
    p.add_argument("--tls-cert", default=None)
    p.add_argument("--tls-key", default=None)
    p.add_argument("--output-as", choices=("text", "json"), default="text")
    p.set_defaults(handler=cmd_service_enable)
    p = ssub.add_parser("disable", help="remove the API and its address (one change)")
    add_cluster_options(p)
    p.add_argument("--output-as", choices=("text", "json"), default="text")
    p.set_defaults(handler=cmd_service_disable)


def cmd_service_enable(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.service import enable

    tls = (args.tls_cert, args.tls_key) if args.tls_cert or args.tls_key else None
    added = enable(_env(args), args.vip, args.port, tls=tls)
    _emit(args, {"enabled": True, "vip": args.vip, "port": args.port, "resources": added},
          lambda d: f"service enabled: the API on {d['vip'].split('/')[0]}:{d['port']} "
          f"({', '.join(d['resources'])})")
    return int(ExitCode.OK)


def cmd_service_disable(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.service import disable

    removed = disable(_env(args))
    _emit(args, {"enabled": False, "removed": removed},
          lambda d: f"service disabled: removed {', '.join(d['removed'])}")
    return int(ExitCode.OK)


def cmd_secrets_set(args: argparse.Namespace) -> int:
    import sys

    from haflow.coordinator.commands.secrets import set_secret

    value = sys.stdin.read()
    if value.endswith("\n") and value.count("\n") == 1:
        value = value[:-1]  # `echo VALUE |`: the line, not its end
    found = set_secret(_env(args), args.name, value)
    _emit(args, found.to_dict(), lambda d: f"secret {d['name']} set on every node "
          f"(version {d['version']}); reference it as ${{secrets.{d['name']}}}")
    return int(ExitCode.OK)


def cmd_secrets_list(args: argparse.Namespace) -> int:
    from haflow.coordinator.cluster import live_view
    from haflow.coordinator.commands.secrets import secrets_in

    found = [s.to_dict() for s in secrets_in(live_view.query(_env(args)))]
    _emit(args, found, lambda d: "\n".join(s["name"] for s in d) or "no secrets")
    return int(ExitCode.OK)


def cmd_secrets_remove(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.secrets import remove_secret

    remove_secret(_env(args), args.name)
    _emit(args, {"secret": args.name, "removed": True},
          lambda d: f"removed secret {d['secret']} from every node")
    return int(ExitCode.OK)


def cmd_secrets_keep(args: argparse.Namespace) -> int:
    from haflow.coordinator.cluster.secret_store import keep

    keep(args.ready_file)
    return int(ExitCode.OK)


def register_acl(sub: Any) -> None:
    from haflow.coordinator.cluster.env import add_cluster_options

    acl = sub.add_parser("acl", help="Pacemaker ACLs for haflow's users on the nodes")
    asub = acl.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = asub.add_parser("enable", help="roles haflow-viewer (group haclient) and "
                        "haflow-operator (group haflow-operators), and enable-acl")
    add_cluster_options(p)
    p.add_argument("--output-as", choices=("text", "json"), default="text")
    p.set_defaults(handler=cmd_acl_enable)
    p = asub.add_parser("grant", help="give a unix user a haflow role on the nodes")
    add_cluster_options(p)
    p.add_argument("user", metavar="USER")
    p.add_argument("--role", required=True, choices=("viewer", "operator"))
    p.add_argument("--output-as", choices=("text", "json"), default="text")
    p.set_defaults(handler=cmd_acl_grant)


def cmd_acl_enable(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.acl import enable

    made = enable(_env(args))
    _emit(args, {"enabled": True, "acls": made},
          lambda d: f"ACLs enabled: {', '.join(d['acls'])}")
    return int(ExitCode.OK)


def cmd_acl_grant(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.acl import grant

    grant(_env(args), args.user, args.role)
    _emit(args, {"user": args.user, "role": args.role},
          lambda d: f"{d['user']} is a haflow {d['role']} on the nodes")
    return int(ExitCode.OK)
