#!/usr/bin/python3 -I
"""killall for a lab node, bound over /usr/bin/killall inside it.

Lab nodes share the host's process-ID namespace, and pcs (``cluster kill``,
``cluster destroy``, and so ``cluster setup``) runs ``killall -9 corosync
pacemakerd ...`` with twelve names: the real killall would kill the daemons of
every lab on the machine. This one signals only the processes in the caller's
network namespace, that is, this node's.

It reads /proc once, in this process. The shell version it replaces forked
two commands per process and name: 14 s for pcs's twelve names on a machine
running a test suite, past pcs's own patience under more load.

Options as pcs and admins use them: -SIGNAL, -s/--signal SIGNAL, -q/--quiet,
--. The exit status is killall's: 0 when a process was signalled for every
name. Standard library only: it runs on a node, not in haflow's virtualenv.
"""

from __future__ import annotations

import os
import signal
import sys

COMM_LENGTH = 15  # the kernel keeps 15 characters of a command name


def parse_signal(text: str) -> int:
    if text.isdigit():
        return int(text)
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise ValueError(f"unknown signal {text!r}") from None


def parse(argv: list[str]) -> tuple[int, bool, list[str]]:
    """(signal, quiet, names)."""
    sig, quiet = int(signal.SIGTERM), False
    args = iter(argv)
    names: list[str] = []
    for arg in args:
        if arg in ("-q", "--quiet"):
            quiet = True
        elif arg in ("-s", "--signal"):
            sig = parse_signal(next(args, ""))
        elif arg.startswith("--signal="):
            sig = parse_signal(arg.partition("=")[2])
        elif arg == "--":
            names.extend(args)
        elif arg.startswith("-") and len(arg) > 1 and (arg[1].isdigit() or arg[1].isupper()):
            sig = parse_signal(arg[1:])
        elif arg.startswith("-"):
            continue  # an option of the real killall this node has no use for
        else:
            names.append(arg)
    return sig, quiet, names


def node_processes() -> dict[int, str]:
    """{pid: command name} of the processes in this process's network namespace."""
    mine = os.readlink("/proc/self/ns/net")
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/net") != mine:
                continue
            with open(f"/proc/{entry}/comm") as fh:
                found[int(entry)] = fh.read().strip()
        except OSError:
            continue  # ended meanwhile, or not ours to read
    return found


def main(argv: list[str]) -> int:
    try:
        sig, quiet, names = parse(argv)
    except ValueError as e:
        print(f"killall: {e}", file=sys.stderr)
        return 1
    if not names:
        print("usage: killall [-SIGNAL] [-q] NAME...", file=sys.stderr)
        return 2
    processes = node_processes()
    status = 0
    for name in names:
        hit = False
        for pid, comm in processes.items():
            if comm != name[:COMM_LENGTH]:
                continue
            try:
                os.kill(pid, sig)
                hit = True
            except OSError:
                pass  # ended since /proc was read
        if not hit:
            status = 1
            if not quiet:
                print(f"{name}: no process found", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
