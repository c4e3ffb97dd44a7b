"""``haflow lab ...``: argument parsing and rendering; the work is in ``control``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from haflow.coordinator.cli.output import FORMATS, emit

DEFAULT_LAB = "default"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lab = sub.add_parser("lab", help="a real multi-node cluster on this machine",
                         description="Run a real Pacemaker + Corosync cluster on this machine: "
                         "each node is a set of namespaces running corosync and pacemakerd.")
    cmds = lab.add_subparsers(dest="lab_command", metavar="LAB_COMMAND", required=True)

    def command(name: str, help: str, handler: Any) -> argparse.ArgumentParser:
        parser = cmds.add_parser(name, help=help, description=help)
        parser.add_argument("--lab", default=os.environ.get("HAFLOW_LAB", DEFAULT_LAB),
                            help="lab name (default: $HAFLOW_LAB or 'default')")
        parser.add_argument("--lab-root", type=Path, default=None,
                            help="where labs keep their state (default: $HAFLOW_LAB_ROOT "
                            "or /var/lib/haflow/labs)")
        parser.add_argument("--output-as", choices=FORMATS, default="text")
        parser.set_defaults(handler=handler)
        return parser

    p = command("up", "create a lab and wait until every node is online", cmd_up)
    p.add_argument("--nodes", type=int, default=3, help="number of nodes, 1 to 8 (default 3)")
    p.add_argument("--token", type=int, default=1000, help="corosync token in ms (default 1000)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait (default 120)")
    p.add_argument("--keep-on-failure", action="store_true",
                   help="leave a lab that failed to come up in place, for a post-mortem")
    command("down", "stop every daemon and remove every namespace, link and mount", cmd_down)
    command("status", "power, network and cluster view of every node", cmd_status)
    p = command("exec", "run a command as a node (e.g. crm_mon, pcs, cibadmin)", cmd_exec)
    p.add_argument("node")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD...")
    p = command("shell", "an interactive shell on a node", cmd_shell)
    p.add_argument("node")
    p = command("crash", "SIGKILL every process of a node, as a power cut would", cmd_crash)
    p.add_argument("node")
    p = command("reboot", "crash a node, wipe its volatile state and boot it again", cmd_reboot)
    p.add_argument("node")
    p.add_argument("--no-wait", action="store_true", help="do not wait until it rejoins")
    p = command("partition", "cut the given nodes off from the rest (links only)", cmd_partition)
    p.add_argument("nodes", nargs="+", metavar="NODE")
    command("heal", "restore every link cut by partition", cmd_heal)
    p = command("restart-pacemaker", "restart pacemaker on a node without a reboot "
                "(corosync stays up)", cmd_restart_pacemaker)
    p.add_argument("node")
    p = command("flap", "take a node's link down and up again, repeatedly", cmd_flap)
    p.add_argument("node")
    p.add_argument("--down", type=float, default=1.0, help="seconds down (default 1)")
    p.add_argument("--up", type=float, default=2.0, help="seconds up (default 2)")
    p.add_argument("--count", type=int, default=3, help="how many times (default 3)")
    p = command("chaos", "random faults against running workflows, then check that no "
                "workflow was lost, no effect made twice, no undo skipped or run before a "
                "dependent's, no event missing from the history", cmd_chaos)
    p.add_argument("--minutes", type=float, default=5.0, help="how long (default 5)")
    p.add_argument("--seed", type=int, default=0, help="the run is reproducible from it")
    p.add_argument("--workflows", type=int, default=4, help="workflows to run (default 4)")


def respond(args: argparse.Namespace, result: dict[str, Any],
            text: Callable[[dict[str, Any]], str]) -> int:
    emit(result, args.output_as, text)
    return 0


def layout(args: argparse.Namespace) -> Any:
    from haflow.lab.control import layout_for

    return layout_for(args.lab, args.lab_root)


def cmd_up(args: argparse.Namespace) -> int:
    from haflow.lab import control

    result = control.up(layout(args), args.nodes, args.token, args.timeout,
                        keep_on_failure=args.keep_on_failure)
    return respond(args, result, lambda r: (
        f"lab {r['lab']} is up: {len(r['nodes'])} nodes online "
        f"({', '.join(r['nodes'])}), DC {r['dc']}, in {r['seconds']:.1f} s"))


def cmd_down(args: argparse.Namespace) -> int:
    from haflow.lab import control

    return respond(args, control.down(layout(args)), lambda r: (
        f"lab {r['lab']} is down: {r['processes_killed']} processes ended, "
        f"{r['namespaces_removed']} namespaces and {r['mounts_removed']} mounts removed"))


def render_status(r: dict[str, Any]) -> str:
    lines = [f"lab {r['lab']} ({r['dir']})" + ("  PARTITIONED" if r["partitioned"] else "")]
    for n in r["nodes"]:
        island = f" island={n['island']}" if n["island"] not in (None, "br0") else ""
        c = n["cluster"]
        if n["power"] == "off":
            seen = "powered off"
        elif c is None:
            seen = "cluster stack not answering"
        else:
            quorum = "quorate" if c["quorate"] else "NO QUORUM"
            seen = f"DC={c['dc'] or 'none'} {quorum} online={','.join(c['online'])}"
            if c["offline"]:
                seen += f" offline={','.join(c['offline'])}"
        lines.append(f"  {n['name']:<6} {n['address']:<12} {n['power']:<3}{island}  {seen}")
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace) -> int:
    from haflow.lab import control

    emit(control.status(layout(args)), args.output_as, render_status)
    return 0


def exec_argv(args: argparse.Namespace, argv: list[str]) -> int:
    from haflow.lab import control

    command = control.node_command(layout(args), args.node, argv)
    sys.stdout.flush()
    os.execvp(command[0], command)


def cmd_exec(args: argparse.Namespace) -> int:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        from haflow.coordinator.codes import Code
        from haflow.coordinator.reports import error

        raise error(Code.USAGE, "give the command to run after '--'")
    return exec_argv(args, argv)


def cmd_shell(args: argparse.Namespace) -> int:
    return exec_argv(args, ["env", f"PS1=[{args.lab}:{args.node}] \\w# ", "bash", "--norc", "-i"])


def cmd_crash(args: argparse.Namespace) -> int:
    from haflow.lab import control

    return respond(args, control.crash(layout(args), args.node), lambda r: (
        f"{r['node']} crashed: {r['processes_killed']} processes killed"
        + ("" if r["was_on"] else " (it was already off)")))


def cmd_reboot(args: argparse.Namespace) -> int:
    from haflow.lab import control

    return respond(args, control.reboot(layout(args), args.node, wait=not args.no_wait), lambda r: (
        f"{r['node']} rebooted"
        + (f", rejoined after {r['rejoined_after']:.1f} s" if "rejoined_after" in r else "")))


def cmd_partition(args: argparse.Namespace) -> int:
    from haflow.lab import control

    return respond(args, control.partition(layout(args), args.nodes), lambda r: (
        f"{', '.join(r['nodes'])} cut off from the other nodes ({r['island']})"))


def cmd_heal(args: argparse.Namespace) -> int:
    from haflow.lab import control

    return respond(args, control.heal(layout(args)), lambda r: (
        "links restored" if r["healed"] else "no partition to heal"))


def cmd_restart_pacemaker(args: argparse.Namespace) -> int:
    from haflow.lab import control

    return respond(args, control.restart_pacemaker(layout(args), args.node), lambda r: (
        f"pacemaker restarted on {r['node']}, online again after {r['seconds']:.1f} s"))


def cmd_flap(args: argparse.Namespace) -> int:
    from haflow.lab import control

    result = control.flap(layout(args), args.node, args.down, args.up, args.count)
    return respond(args, result, lambda r: f"{r['node']}'s link flapped {r['flaps']} times")
    return 0


def cmd_chaos(args: argparse.Namespace) -> int:
    import tempfile

    from haflow.coordinator.codes import Code
    from haflow.coordinator.exitcodes import ExitCode
    from haflow.coordinator.reports import error
    from haflow.lab import control
    from haflow.lab.chaos import run_chaos

    lab = layout(args)
    if not control.exists(lab):
        raise error(Code.LAB_NOT_FOUND, f"no lab named {args.lab}; run 'haflow lab up' first")
    if args.minutes <= 0 or args.workflows < 1:
        raise error(Code.USAGE, "--minutes must be positive and --workflows at least 1")
    # the test agent's state must be visible from every node: under the lab's own folder
    base = Path(tempfile.mkdtemp(prefix="chaos-", dir=lab.dir))
    report = run_chaos(lab, args.minutes, args.seed, base, args.workflows)
    emit(report.to_dict(), args.output_as, lambda _: report.text())
    return 0 if report.ok else int(ExitCode.FAILED)
