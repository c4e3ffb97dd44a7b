"""Workflows on a live cluster: ``haflow submit|list|status|wait|abort|retry|remove|history``.

Every command takes ``--lab NAME`` (run against a lab node) and
``--output-as text|json`` (status also ``xml``). A workflow that is fine
prints compactly; a problem gets its own line in capitals, with the reason.

Exit status (coordinator/exitcodes.py): ``wait`` (and ``submit --wait``) 0
done, 7 failed (or held, or blocked), 8 rolled back, 124 timed out;
``status`` 7 when a step has a problem (failed, blocked, stuck); 4 for an
unknown workflow or step; 5 for a conflict (name in use, already aborted,
still running, effects would remain); 6 without quorum.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from haflow.coordinator.exitcodes import ExitCode

if TYPE_CHECKING:
    from haflow.coordinator.cluster.env import Env
    from haflow.coordinator.status import StepStatus, WorkflowStatus
    from haflow.encoding.record import Event


def register(sub: Any) -> None:
    from haflow.coordinator.cli.inputs import add_input_options
    from haflow.coordinator.cluster.env import add_cluster_options

    def command(name: str, text: str, handler: Any, formats: tuple[str, ...] = ("text", "json")
                ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, help=text, description=text)
        add_cluster_options(parser)
        parser.add_argument("--output-as", choices=formats, default="text",
                            help="output format (default: text)")
        parser.set_defaults(handler=handler)
        return parser

    p = command("submit", "apply workflows to the cluster as one atomic change", cmd_submit)
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="workflow YAML file (several: all of them in one change, or none)")
    p.add_argument("--replace", action="store_true",
                   help="change the workflow of that name (one diff; unchanged steps stay)")
    p.add_argument("--wait", action="store_true",
                   help="then wait until it is done (as wait; one FILE only)")
    p.add_argument("--timeout", type=float, default=None, help="with --wait: seconds")
    add_input_options(p)

    command("list", "every workflow in the cluster, one line each", cmd_list)

    p = command("approve", "grant a step's approval gate: it and the steps after it may "
                "start", cmd_approve)
    p.add_argument("workflow", metavar="WORKFLOW")
    p.add_argument("step", metavar="STEP", help="the step with approval: true")
    p.add_argument("--by", default=None, metavar="WHO",
                   help="who approves, for the history (default: the user running this)")
    p = command("pause", "freeze a workflow: no step starts or stops until resumed (steps "
                "running finish)", cmd_pause)
    p.add_argument("workflow", metavar="WORKFLOW")
    p = command("resume", "let a paused workflow's steps start and stop again", cmd_resume)
    p.add_argument("workflow", metavar="WORKFLOW")

    p = command("status", "state of each workflow and step (exit 7: a step has a problem)",
                cmd_status, ("text", "json", "xml"))
    p.add_argument("workflow", nargs="?", metavar="WORKFLOW", help="only this workflow")
    p.add_argument("--watch", action="store_true", help="refresh until interrupted")
    p.add_argument("--interval", type=float, default=2.0, help="--watch refresh, seconds")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="a line for every step, also of big workflows")

    p = command("wait", "wait until a workflow is done, failed or rolled back", cmd_wait)
    p.add_argument("workflow", metavar="WORKFLOW")
    p.add_argument("--timeout", type=float, default=None, help="give up after S seconds")

    p = command("abort", "stop workflows: each step is undone, in reverse order", cmd_abort)
    p.add_argument("workflows", nargs="*", metavar="WORKFLOW",
                   help="several: all of them in one change, or none")
    p.add_argument("--all", action="store_true",
                   help="every workflow not aborted yet, in one change")

    p = command("retry", "clear failures so the steps run again", cmd_retry)
    p.add_argument("workflow", metavar="WORKFLOW")
    p.add_argument("step", nargs="?", metavar="STEP", help="only this step")

    p = command("remove", "delete an undone workflow from the cluster (one change)", cmd_remove)
    p.add_argument("workflow", metavar="WORKFLOW")
    p.add_argument("--force", action="store_true",
                   help="also when steps failed without being undone (says which effects remain)")

    p = command("history", "what ran where and when, with results, and fencing", cmd_history)
    p.add_argument("workflow", metavar="WORKFLOW")


# ---- helpers ------------------------------------------------------------------------------


def _env(args: argparse.Namespace) -> Env:
    from haflow.coordinator.cluster.env import from_args

    return from_args(args)


def _statuses(env: Env, workflow: str | None = None, sync_wait: float | None = None
              ) -> list[WorkflowStatus]:
    from haflow.coordinator.commands.status import statuses

    return statuses(env, workflow, sync_wait)


def _clock(epoch: float | None) -> str:
    return time.strftime("%H:%M:%SZ", time.gmtime(epoch)) if epoch else "?"


def _seconds(value: float | None) -> str:
    if value is None:
        return "?"
    if value < 60:
        return f"{value:.1f}s" if value < 10 else f"{value:.0f}s"
    return f"{int(value // 60)}m{int(value % 60):02d}s"


def _fail_counts(step: StepStatus) -> str:
    from haflow.coordinator.status import INFINITY

    def show(n: int) -> str:
        return "INFINITY" if n >= INFINITY else str(n)

    counts = ", ".join(f"{show(c)} on {n}" for n, c in sorted(step.fail_count.items()))
    return f"fail count {counts or '0'} (migration-threshold {show(step.migration_threshold)})"


def step_line(step: StepStatus, width: int) -> str:
    from haflow.coordinator.status import StepState

    state = step.state.value.upper() if step.problem else step.state.value
    if step.stuck:
        state = "STUCK"
    head = f"  {state:<9} {step.name:<{width}}"
    if step.state == StepState.DONE:
        outs = " ".join(f"{k}={v}" for k, v in sorted(step.outputs.items()))
        text = f"{head} on {step.node}, {_clock(step.started)}, took {_seconds(step.duration)}"
        return text + (f"  {outs}" if outs else "")
    if step.state == StepState.WAITING:
        if step.waiting_on:
            return f"{head} on {', '.join(step.waiting_on)}"
        return f"{head} to be scheduled" + (f" -- {step.note}" if step.note else "")
    if step.state in (StepState.STARTING, StepState.UNDOING):
        where = f" on {step.node}" if step.node else ""
        pct = f" {step.progress}%" if step.progress is not None else ""
        msg = f" {step.message}" if step.message else ""
        beat = (f" (heartbeat {_seconds(step.heartbeat_age)} ago)"
                if step.heartbeat_age is not None else "")
        text = f"{head}{where}{pct}{msg}{beat}"
        if step.stuck:
            text += " -- no heartbeat for 3 intervals: the action looks stuck"
        if step.note:
            text += f" [{step.note}]"
        return text
    if step.state in (StepState.AWAITING_APPROVAL, StepState.SKIPPED):
        return f"{head} -- {step.note}" if step.note else head
    if step.state == StepState.UNDONE:
        if step.failure is not None:  # why it was rolled back stays visible
            f = step.failure
            return (f"{head} (its {f.operation} failed on {f.node}"
                    + (f": {f.exit_reason})" if f.exit_reason else ")"))
        return head
    # failed, blocked: the reason, impossible to miss
    parts = [head]
    if step.failure is not None:
        f = step.failure
        reason = f": {f.exit_reason}" if f.exit_reason else ""
        parts.append(f" {f.operation} failed on {f.node} at {_clock(f.time)} "
                     f"(rc {f.rc}, {f.rc_text}){reason};")
    parts.append(f" {_fail_counts(step)}")
    if step.note:
        parts.append(f"; {step.note}")
    return "".join(parts)


COMPACT_OVER = 12  # more steps than this: quiet ones (done, undone, waiting) are counted


def render_workflow(wf: WorkflowStatus, verbose: bool = False) -> str:
    """The workflow in text: a line per step (or, for a big one, per step that is doing
    something or has a problem, and a count of the rest), then a line per problem."""
    from haflow.coordinator.status import StepState, WorkflowState

    counts = wf.counts
    total = len(wf.steps)
    fine = wf.state in (WorkflowState.RUNNING, WorkflowState.DONE, WorkflowState.ROLLED_BACK,
                        WorkflowState.ROLLING_BACK, WorkflowState.PAUSED)
    state = wf.state.value if fine and not wf.problems else wf.state.value.upper()
    summary = (f"{counts.get('undone', 0)}/{total} undone" if wf.aborted
               else f"{counts.get('done', 0)}/{total} done")
    durable = ", its checkpoint to disk pending" if wf.awaiting_checkpoint else ""
    lines = [f"{wf.name}: {state}, {summary} (policy {wf.policy}){durable}"]
    width = max((len(s.name) for s in wf.steps), default=4)
    quiet = (StepState.DONE, StepState.UNDONE, StepState.WAITING, StepState.SKIPPED)
    compact = not verbose and len(wf.steps) > COMPACT_OVER
    hidden: dict[str, int] = {}
    for step in wf.steps:
        if compact and step.state in quiet and not step.problem:
            hidden[step.state.value] = hidden.get(step.state.value, 0) + 1
            continue
        lines.append(step_line(step, width))
    if hidden:
        counted = ", ".join(f"{n} {state}" for state, n in sorted(hidden.items()))
        lines.append(f"  ... and {counted} (--verbose lists every step)")
    for step in wf.problems:
        lines.append(f"!! {wf.name}: step {step.name} is {step.state.value.upper()}"
                     + (f": {step.failure.exit_reason}" if step.failure and
                        step.failure.exit_reason else "")
                     + _advice(wf, step))
    if wf.state == WorkflowState.FAILED and wf.policy == "rollback" and not wf.aborted:
        lines.append(f"!! {wf.name}: rollback pending (the alert agent stops the root); "
                     f"'haflow abort {wf.name}' does it by hand")
    return "\n".join(lines)


def _advice(wf: WorkflowStatus, step: StepStatus) -> str:
    from haflow.coordinator.status import StepState

    if step.state == StepState.BLOCKED:
        return (f" -- fix the cause, then 'haflow retry {wf.name} {step.name}' "
                f"or 'haflow abort {wf.name}'")
    if step.state == StepState.FAILED:
        return f" -- 'haflow retry {wf.name} {step.name}' runs it again"
    return ""


def list_line(wf: WorkflowStatus) -> str:
    total = len(wf.steps)
    counts = wf.counts
    done = (f"{counts.get('undone', 0)}/{total} undone" if wf.aborted
            else f"{counts.get('done', 0)}/{total} done")
    problems = "; ".join(f"{s.name} {'STUCK' if s.stuck else s.state.value.upper()}"
                         for s in wf.problems)
    state = wf.state.value if not problems else wf.state.value.upper()
    return f"{wf.name:<24} {state:<13} {done:<12} {problems}".rstrip()


def _emit(args: argparse.Namespace, data: Any, text: Any) -> None:
    from haflow.coordinator.cli.output import emit

    emit(data, args.output_as, text)


# ---- commands -----------------------------------------------------------------------------


def cmd_submit(args: argparse.Namespace) -> int:
    from haflow.coordinator.cli.inputs import input_options
    from haflow.coordinator.codes import Code
    from haflow.coordinator.commands.submit import Submitted, submit_files
    from haflow.coordinator.reports import error

    if args.wait and len(args.files) > 1:
        raise error(Code.USAGE, "--wait follows one workflow: submit one FILE with it, or "
                    "'haflow wait' each workflow after the submit")
    if args.instance and len(args.files) > 1:
        raise error(Code.USAGE, "--name names one instance: submit one FILE with it")
    env = _env(args)
    results = submit_files(env, args.files, replace=args.replace, **input_options(args))
    _warn_without_alert_agent(env)

    def as_data(result: Submitted) -> dict[str, Any]:
        return {"workflow": result.workflow, "submission": result.submission,
                "replaced": result.replaced, "changed": result.changed,
                "resources": result.resources}

    def line(d: dict[str, Any]) -> str:
        verb = "replaced" if d["replaced"] else "submitted"
        if d["replaced"] and not d["changed"]:
            return f"{d['workflow']}: unchanged (submission {d['submission']})"
        return (f"{verb} {d['workflow']} (submission {d['submission']}): "
                f"{len(d['resources']) - 1} steps")

    if len(results) > 1:  # a list of what one file prints
        _emit(args, [as_data(r) for r in results], lambda d: "\n".join(map(line, d)))
        return int(ExitCode.OK)
    data = as_data(results[0])
    if args.wait and args.output_as == "text":
        _emit(args, data, line)
    if args.wait:
        return _wait(env, results[0].workflow, args.timeout, args.output_as, {"submitted": data})
    _emit(args, data, line)
    return int(ExitCode.OK)


def _warn_without_alert_agent(env: Env) -> None:
    from haflow.coordinator.commands.submit import missing_alert_agent

    problem = missing_alert_agent(env)
    if problem:
        sys.stderr.write(f"haflow: warning: {problem} [NO_ALERT_AGENT]\n")


def cmd_list(args: argparse.Namespace) -> int:
    found = _statuses(_env(args))
    rows = [{"name": w.name, "state": w.state.value, "counts": w.counts,
             "steps": len(w.steps), "problems": [s.name for s in w.problems]} for w in found]
    _emit(args, rows, lambda _: "\n".join(list_line(w) for w in found) or "no workflows")
    return int(ExitCode.OK)


def _show_status(args: argparse.Namespace, env: Env, sync_wait: float | None = None
                 ) -> list[WorkflowStatus]:
    from lxml import etree

    from haflow.coordinator.status import to_xml

    found = _statuses(env, args.workflow, sync_wait)
    if args.output_as == "xml":
        sys.stdout.write(etree.tostring(to_xml(found), pretty_print=True,
                                        encoding="unicode"))
        sys.stdout.flush()
    else:
        data: Any = None
        if args.output_as == "json":  # 500 steps: converting costs 0.1 s that text needs not
            data = [w.to_dict() for w in found] if args.workflow is None else found[0].to_dict()
        verbose = bool(getattr(args, "verbose", False))
        _emit(args, data, lambda _: "\n\n".join(render_workflow(w, verbose) for w in found)
              or "no workflows")
    return found


def cmd_status(args: argparse.Namespace) -> int:
    env = _env(args)
    if not args.watch:
        found = _show_status(args, env)
        return int(ExitCode.FAILED if any(w.problems for w in found) else ExitCode.OK)
    tty = sys.stdout.isatty()
    while True:
        _watch_once(args, env)
        time.sleep(args.interval)
        if tty and args.output_as == "text":
            sys.stdout.write("\033[H\033[J")  # clear: a refreshing view, not a scroll


def _watch_once(args: argparse.Namespace, env: Env) -> None:
    """One refresh of ``--watch``: while the node is not synced (booting, joining, no
    quorum) it shows what it waits for instead of a state it cannot trust."""
    from haflow.coordinator.codes import Code
    from haflow.coordinator.reports import HaflowError

    try:
        _show_status(args, env, sync_wait=0)
    except HaflowError as err:
        report = err.reports[0]
        if report.code not in (Code.VIEW_NOT_SYNCED, Code.NO_QUORUM):
            raise
        data = {"node": env.description, "code": report.code,
                "waiting_for": report.details.get("waiting_for", report.message)}
        _emit(args, {"not_synced": data}, lambda d: f"{_clock(time.time())} "
              f"{d['not_synced']['node']} is not synced: {d['not_synced']['waiting_for']} "
              f"[{d['not_synced']['code']}]")


def _wait(env: Env, workflow: str, timeout: float | None, fmt: str,
          extra: dict[str, Any] | None = None) -> int:
    from haflow.coordinator.commands.wait import wait

    bar = _Bar(workflow) if sys.stdout.isatty() and fmt == "text" else None
    last = None

    def seen(wf: WorkflowStatus) -> None:
        nonlocal last
        if bar is not None:
            bar.update(wf)
        elif fmt == "text":
            line = list_line(wf)
            if line != last:
                print(f"{_clock(time.time())} {line}", flush=True)
                last = line

    try:
        wf, outcome = wait(env, workflow, timeout, seen)
    finally:
        if bar is not None:
            bar.close()
    if fmt == "json":
        _emit_json({**wf.to_dict(), "outcome": outcome.name.lower(), **(extra or {})})
    else:
        tail = "timed out" if outcome == ExitCode.TIMEOUT else wf.state.value
        print(render_workflow(wf) if (wf.problems or outcome != ExitCode.OK)
              else f"{workflow}: {tail}", flush=True)
        if outcome == ExitCode.TIMEOUT:
            print(f"{workflow}: timed out after {timeout:.0f}s, still {wf.state.value}",
                  flush=True)
    return int(outcome)


def _emit_json(data: Any) -> None:
    from haflow.coordinator.cli.output import emit

    emit(data, "json", str)


class _Bar:
    """A progress bar on a terminal (rich): steps done, or undone during a rollback."""

    def __init__(self, workflow: str) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total}"),
                                 TextColumn("{task.fields[detail]}"), TimeElapsedColumn())
        self.progress.start()
        self.task = self.progress.add_task(workflow, total=1, detail="")
        self.workflow = workflow

    def update(self, wf: WorkflowStatus) -> None:
        counts = wf.counts
        completed = counts.get("undone", 0) if wf.aborted else counts.get("done", 0)
        running = [s for s in wf.steps if s.state.value in ("starting", "undoing")]
        detail = wf.state.value
        if running:
            s = running[0]
            detail += f": {s.name}" + (f" {s.progress}%" if s.progress is not None else "")
        if wf.problems:
            detail += " -- " + ", ".join(f"{s.name} {s.state.value.upper()}"
                                          for s in wf.problems)
        self.progress.update(self.task, total=max(1, len(wf.steps)), completed=completed,
                             detail=detail)

    def close(self) -> None:
        self.progress.stop()


def cmd_wait(args: argparse.Namespace) -> int:
    return _wait(_env(args), args.workflow, args.timeout, args.output_as)


def cmd_abort(args: argparse.Namespace) -> int:
    from haflow.coordinator.codes import Code
    from haflow.coordinator.commands.abort import abort_many
    from haflow.coordinator.reports import error

    if args.all == bool(args.workflows):
        raise error(Code.USAGE, "name the workflows to abort, or --all (not both)")
    aborted = abort_many(_env(args), None if args.all else args.workflows)
    if len(args.workflows) == 1:
        _emit(args, {"workflow": args.workflows[0], "aborted": True},
              lambda d: f"aborting {d['workflow']}: Pacemaker undoes each step in reverse "
              f"order ('haflow wait {d['workflow']}' to follow)")
        return int(ExitCode.OK)
    _emit(args, {"aborted": aborted},
          lambda d: f"aborting {', '.join(d['aborted'])}: Pacemaker undoes each step in "
          "reverse order" if d["aborted"] else "no workflow to abort")
    return int(ExitCode.OK)


def cmd_approve(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.gates import approve

    ticket = approve(_env(args), args.workflow, args.step, by=args.by)
    _emit(args, {"workflow": args.workflow, "step": args.step, "ticket": ticket},
          lambda d: f"{d['workflow']}: {d['step']} approved (ticket {d['ticket']} granted)")
    return int(ExitCode.OK)


def cmd_pause(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.gates import pause

    pause(_env(args), args.workflow)
    _emit(args, {"workflow": args.workflow, "paused": True},
          lambda d: f"{d['workflow']} paused: nothing of it starts or stops until "
          f"'haflow resume {d['workflow']}'")
    return int(ExitCode.OK)


def cmd_resume(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.gates import resume

    resume(_env(args), args.workflow)
    _emit(args, {"workflow": args.workflow, "paused": False},
          lambda d: f"{d['workflow']} resumed")
    return int(ExitCode.OK)


def cmd_retry(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.abort import retry

    cleared = retry(_env(args), args.workflow, args.step)
    _emit(args, {"workflow": args.workflow, "cleared": cleared},
          lambda d: f"{d['workflow']}: failures cleared on {', '.join(d['cleared'])}; "
          "the steps run again")
    return int(ExitCode.OK)


def cmd_remove(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.remove import remove

    leftovers = remove(_env(args), args.workflow, force=args.force)
    _emit(args, {"workflow": args.workflow, "removed": True, "effects_remain": leftovers},
          lambda d: f"removed {d['workflow']}" + (
              f"; effects that may remain (not undone): {', '.join(d['effects_remain'])}"
              if d["effects_remain"] else "; nothing of it remains"))
    return int(ExitCode.OK)


def cmd_history(args: argparse.Namespace) -> int:
    from haflow.coordinator.commands.history import workflow_history

    env = _env(args)
    found = workflow_history(env, args.workflow)
    if found.fencing_unreadable:
        sys.stderr.write(f"haflow: warning: the fencing history could not be read on "
                         f"{env.description} ({found.fencing_unreadable}): fencing is not "
                         "shown\n")
    _emit(args, [e.to_dict() for e in found.events], lambda _: render_history(found.events))
    return int(ExitCode.OK)


def render_history(events: list[Event]) -> str:
    """The events as text, one line each; a failed one marked ``!!``."""
    lines = []
    for e in events:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.time))
        mark = "!!" if e.outcome not in ("ok", "success") else "  "
        what = e.outcome.upper() if mark == "!!" else e.outcome
        lines.append(f"{mark} {stamp}Z  {e.node:<10} {e.step:<16} {e.task:<12} {what:<8} "
                     f"{e.text if e.text != e.outcome else ''}".rstrip())
    return "\n".join(lines) if lines else "no events recorded (yet)"
