"""``ocf:haflow:exec``: a step made of shell commands — do, undo, check.

Each command runs with ``/bin/sh -c`` (or ``shell``) in ``workdir`` with the
given environment plus:

- ``HAFLOW_KEY``: the idempotency key (workflow/step/submission); ``do`` should
  use it so that running twice makes one effect;
- ``HAFLOW_WORKFLOW``, ``HAFLOW_STEP``, ``HAFLOW_RESOURCE``, ``HAFLOW_ACTION``;
- ``HAFLOW_OUTPUTS``: a file the command may write ``KEY=VALUE`` lines to;
  they become the step's outputs (``do``, and ``check`` when it adopts).
  Outputs already known are in ``HAFLOW_OUTPUT_<KEY>``.

A line ``haflow-progress: PERCENT MESSAGE`` on the command's standard output
is reported as progress. ``check`` exits 0 when the effect exists and 1 when
it does not; anything else is an error. Without ``check``, a start always runs
``do`` (which must then be idempotent) and the monitor relies on the marker.
"""

from __future__ import annotations

import sys

from haflow.agents import ocfcodes
from haflow.agents.framework import OcfError, run
from haflow.agents.params import INTEGER, Param
from haflow.agents.step import Outputs, StepAgent, StepContext

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

PROGRESS_PREFIX = "haflow-progress:"
CHECK_PRESENT, CHECK_ABSENT = 0, 1


class ExecAgent(StepAgent):
    name = "exec"
    version = "1.0"
    shortdesc = "Workflow step made of shell commands (do, undo, check)"
    longdesc = ("Runs a shell command to do the step, another to undo it, and a third to "
                "check that its effect exists. Commands get HAFLOW_KEY, an idempotency key, and "
                "may write KEY=VALUE outputs to the file named by HAFLOW_OUTPUTS.")
    params = (
        Param("do", shortdesc="Command that does the step", required=True,
              longdesc="Shell command run by start. Exit 0 means done. Should be idempotent "
              "for the same HAFLOW_KEY."),
        Param("undo", shortdesc="Command that undoes the step", default="",
              longdesc="Shell command run when the step is undone (abort, rollback, removal). "
              "Must succeed when there is nothing to undo, and clean up a partial effect."),
        Param("check", shortdesc="Command that checks the effect exists", default="",
              reloadable=True,
              longdesc="Shell command run by monitor and before do: exit 0 if the effect "
              "exists, 1 if not. Lets a start after a failover adopt the effect."),
        Param("env", shortdesc="Environment (KEY=VALUE lines)", default="", reloadable=True,
              longdesc="Extra environment for every command, one KEY=VALUE per line."),
        Param("workdir", shortdesc="Working directory", default="/", reloadable=True,
              longdesc="Directory the commands run in; must exist on every node."),
        Param("shell", shortdesc="Shell that runs the commands", default="/bin/sh"),
        Param("user", shortdesc="Run commands as this user", default="",
              longdesc="User to run the commands as (default: root, as Pacemaker runs agents)."),
        Param("command_timeout", INTEGER, shortdesc="Seconds a command may run", default=0,
              reloadable=True,
              longdesc="Kill a command after this many seconds (0: the rest of the action's "
              "timeout). Pacemaker's operation timeout always applies as well."),
    )
    timeouts: Mapping[str, int] = {**StepAgent.timeouts, "start": 120, "stop": 120}

    def validate(self) -> list[str]:
        import os
        import pwd

        problems = []
        for line in str(self.values.get("env") or "").splitlines():
            key, sep, _ = line.strip().partition("=")
            if line.strip() and (not sep or not key.replace("_", "a").isalnum()
                                 or key[:1].isdigit()):
                problems.append(f"parameter 'env': expected KEY=VALUE lines, got {line!r}")
        workdir = str(self.values.get("workdir") or "/")
        if not os.path.isdir(workdir):
            problems.append(f"parameter 'workdir': {workdir} is not a directory on {self.node}")
        shell = str(self.values.get("shell") or "/bin/sh")
        if not os.access(shell, os.X_OK):
            problems.append(f"parameter 'shell': {shell} is not executable on {self.node}")
        user = str(self.values.get("user") or "")
        if user:
            try:
                pwd.getpwnam(user)
            except KeyError:
                problems.append(f"parameter 'user': no user {user!r} on {self.node}")
        timeout = self.values.get("command_timeout")
        if isinstance(timeout, int) and timeout < 0:
            problems.append(f"parameter 'command_timeout' must not be negative (got {timeout})")
        return problems

    # ---- running a command -----------------------------------------------------------------

    def _run(self, ctx: StepContext, which: str) -> tuple[int, Outputs, str]:
        """Run command ``which``; (exit status, outputs it wrote, tail of its stderr)."""
        import os
        import subprocess
        import tempfile
        import threading

        from haflow.agents.outputs import parse_output_lines

        command = str(ctx.params.get(which) or "")
        env = dict(os.environ)
        for line in str(ctx.params.get("env") or "").splitlines():
            key, sep, value = line.strip().partition("=")
            if sep:
                env[key] = value
        env.update(HAFLOW_KEY=ctx.key, HAFLOW_WORKFLOW=ctx.workflow, HAFLOW_STEP=ctx.step,
                   HAFLOW_RESOURCE=ctx.resource, HAFLOW_ACTION=which)
        env.update({f"HAFLOW_OUTPUT_{k.upper()}": v for k, v in ctx.outputs.items()})
        limit = ctx.remaining()
        own = int(ctx.params.get("command_timeout") or 0)
        if own and (limit is None or own < limit):
            limit = float(own)
        user = str(ctx.params.get("user") or "") or None
        with tempfile.NamedTemporaryFile("r", prefix="haflow-outputs-") as outputs_file:
            env["HAFLOW_OUTPUTS"] = outputs_file.name
            if user:
                os.chown(outputs_file.name, *_ids(user))
            proc = subprocess.Popen(
                [str(ctx.params.get("shell") or "/bin/sh"), "-c", command],
                cwd=str(ctx.params.get("workdir") or "/"), env=env, user=user,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, start_new_session=True)  # own group: a timeout kills all of it
            stderr_tail: list[str] = []
            reader = threading.Thread(target=_collect, args=(proc.stderr, stderr_tail),
                                      daemon=True)
            reader.start()
            watcher = threading.Thread(target=self._watch_progress, args=(ctx, proc.stdout),
                                       daemon=True)
            watcher.start()
            try:
                status = proc.wait(timeout=limit)
            except BaseException:
                _kill_group(proc)
                if limit is not None:
                    raise OcfError(ocfcodes.ERR_GENERIC, f"{which} command did not finish "
                                   f"within {limit:.0f} s; killed it") from None
                raise
            reader.join(timeout=2)
            watcher.join(timeout=2)
            try:
                outputs = parse_output_lines(outputs_file.read())
            except ValueError as exc:
                raise OcfError(ocfcodes.ERR_GENERIC,
                               f"{which} command wrote bad outputs ({exc})") from None
        return status, outputs, " | ".join(stderr_tail[-3:])

    def _watch_progress(self, ctx: StepContext, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            if line.startswith(PROGRESS_PREFIX):
                rest = line[len(PROGRESS_PREFIX):].strip()
                percent, _, message = rest.partition(" ")
                ctx.progress(int(percent) if percent.isdigit() else None, message)

    # ---- the contract -----------------------------------------------------------------------

    def do(self, ctx: StepContext) -> Outputs | None:
        status, outputs, err = self._run(ctx, "do")
        if status != 0:
            raise OcfError(ocfcodes.ERR_GENERIC, f"do command exited {status}"
                           + (f": {err}" if err else ""))
        return outputs

    def undo(self, ctx: StepContext) -> None:
        if not ctx.params.get("undo"):
            return
        status, _, err = self._run(ctx, "undo")
        if status != 0:
            raise OcfError(ocfcodes.ERR_GENERIC, f"undo command exited {status}"
                           + (f": {err}" if err else ""))

    def check(self, ctx: StepContext) -> bool | Outputs:
        if not ctx.params.get("check"):
            # nothing to ask: a start does the step, a monitor trusts the marker
            return ctx.action != "start"
        status, outputs, err = self._run(ctx, "check")
        if status == CHECK_PRESENT:
            return outputs or True
        if status == CHECK_ABSENT:
            return False
        raise OcfError(ocfcodes.ERR_GENERIC, f"check command exited {status} (expected 0: "
                       "present or 1: absent)" + (f": {err}" if err else ""))


def _collect(stream: object, tail: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        tail.append(line.rstrip())
        del tail[:-10]


def _kill_group(proc: object) -> None:
    import contextlib
    import os
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # type: ignore[attr-defined]
    proc.wait()  # type: ignore[attr-defined]


def _ids(user: str) -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def main() -> int:
    return run(ExecAgent)


if __name__ == "__main__":
    sys.exit(main())
