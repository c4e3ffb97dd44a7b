"""Where haflow's external calls go: this node, or a node of a lab.

Every call to a cluster tool (cibadmin, crm_mon, crm_diff, ...) goes through
an :class:`Env`, as pcs's library commands take an environment: the library
stays testable, and ``--lab NAME`` runs the same code against a lab node.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

from haflow.coordinator.codes import Code
from haflow.coordinator.reports import error


@dataclass(frozen=True)
class Env:
    """Runs commands on a cluster node: here, or through ``prefix`` (e.g. nsenter)."""

    prefix: tuple[str, ...] = ()
    description: str = "this node"
    extra_env: dict[str, str] = field(default_factory=dict)
    # the cluster node's name where it is known up front (a lab node); None: this host
    node: str | None = None
    # who the commands act for, as history records it: an API caller; None: the unix
    # user running haflow
    actor: str | None = None

    @property
    def node_name(self) -> str:
        """The name of the node the commands run on (what history records as the node)."""
        return self.node or os.uname().nodename

    def run(self, argv: Sequence[str], input: str | None = None,
            timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        self._require(argv)
        try:
            return subprocess.run([*self.prefix, *argv], input=input, capture_output=True,
                                  text=True, timeout=timeout, env=self._env())
        except subprocess.TimeoutExpired as exc:
            raise self._timed_out(argv, timeout) from exc

    def run_together(self, *argvs: Sequence[str],
                     timeout: float = 60.0) -> list[subprocess.CompletedProcess[str]]:
        """Run read-only commands at the same time (e.g. cibadmin and crm_mon: a
        status costs the slower of the two, not their sum); results in order."""
        for argv in argvs:
            self._require(argv)
        started = [self.start(argv) for argv in argvs]
        try:
            return [self.finish(process, argv, timeout)
                    for argv, process in zip(argvs, started, strict=True)]
        finally:
            for process in started:
                if process.poll() is None:
                    process.kill()
                    process.wait()

    def start(self, argv: Sequence[str], stdin: IO[bytes] | None = None,
              environ: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        """Start a command and return at once (``finish`` collects it); ``stdin``, a file,
        is read by the command itself, so this process is free meanwhile; ``environ``
        adds variables for this command alone."""
        self._require(argv)
        return subprocess.Popen([*self.prefix, *argv], stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self._env(environ))

    def finish(self, process: subprocess.Popen[str], argv: Sequence[str],
               timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Wait for a started command; it is ended if it outlives ``timeout``."""
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            process.kill()
            process.wait()
            raise self._timed_out(argv, timeout) from exc
        return subprocess.CompletedProcess(list(argv), process.returncode, out, err)

    def _require(self, argv: Sequence[str]) -> None:
        if not self.prefix and shutil.which(argv[0]) is None:
            raise error(Code.MISSING_DEPENDENCY, f"{argv[0]} is not installed on "
                        f"{self.description}; is this a cluster node? (or use --lab NAME)")

    def _env(self, more: Mapping[str, str] | None = None) -> dict[str, str] | None:
        extra = {**self.extra_env, **(more or {})}
        return dict(os.environ, **extra) if extra else None

    def _timed_out(self, argv: Sequence[str], timeout: float) -> Exception:
        return error(Code.TOOL_TIMEOUT, f"{argv[0]} did not answer within {timeout:.0f} s on "
                     f"{self.description}")


def local() -> Env:
    return Env()


# how a command reaches another kind of node: plugins name a factory under this
# entry-point group (the lab registers "lab"), so cluster access never imports them
ENV_PROVIDERS = "haflow.env"


def for_lab(lab: str, node: str | None = None, root: str | None = None) -> Env:
    """An Env that runs as ``node`` of lab ``lab`` (default: the first node powered on)."""
    from importlib.metadata import entry_points

    found = entry_points(group=ENV_PROVIDERS, name="lab")
    if not found:
        raise error(Code.MISSING_DEPENDENCY, "--lab needs haflow's lab, which is not installed "
                    "with this haflow")
    factory: Callable[[str, str | None, str | None], Env] = next(iter(found)).load()
    return factory(lab, node, root)


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """--lab/--node/--lab-root: where a command that talks to the cluster runs its tools."""
    group = parser.add_argument_group("cluster")
    group.add_argument("--lab", default=os.environ.get("HAFLOW_LAB"),
                       help="run against a node of this lab instead of this machine "
                       "(default: $HAFLOW_LAB, else this node)")
    group.add_argument("--node", default=None,
                       help="with --lab: the lab node to act from (default: the first one on)")
    group.add_argument("--lab-root", default=None, help=argparse.SUPPRESS)


def from_args(args: argparse.Namespace) -> Env:
    """The Env that --lab/--node select (this node when no lab is named)."""
    if getattr(args, "lab", None):
        return for_lab(args.lab, args.node, args.lab_root)
    return local()
