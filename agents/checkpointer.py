"""A node's checkpoints, deferred to a quiet moment and written together: one
configuration change for the workflows whose runs ended meanwhile.

A checkpoint (agents/checkpoint.py) is a configuration change, and every one aborts
the DC's running transition (and makes each node's fencer recompute its devices).
Twenty workflows aborted at once, each checkpointed by its root's stop, made twenty
aborts, and the others' stops waited on each (abort of 20 chains of 10 on a 3-node
lab: 47.7 s with them, 34.4 s without, bare Pacemaker 8 to 10 s). So the actions
that end a run — the start of a last step, the stop of a root that ends a rollback —
ask for it here: a request is a file on this node's tmpfs, and one detached process
per node (the runner) writes every workflow asked for in one change, once the
requests have been quiet for QUIET s while the DC runs no transition (the change then
aborts nothing: a lone workflow's checkpoint comes a second or two after its last
action), or LONGEST s after the oldest request however busy the cluster is.

What a deferral costs: a run's live state is in the status section, replicated to
every node, from the moment each action wrote it; only a stop of the whole cluster
loses it, and now for at most LONGEST s more. A stop that moves a step or root (its
node leaving, the cluster stopping) writes this node's requests at once (``flush``).
A node fenced with requests pending takes them along: its workflows' durable copies
wait for their next checkpoint, and ``haflow status`` says "checkpoint pending"
meanwhile (read.checkpoint_pending).

``HAFLOW_CHECKPOINT_QUIET=0`` checkpoints in the action itself, as before (the
agents' tests on CIB files).
"""

from __future__ import annotations

import contextlib
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import xml.etree.ElementTree as ET
    from collections.abc import Callable

QUIET = 1.0  # s without a new request before the runner writes, once the DC is idle
LONGEST = 30.0  # s after the oldest request, written however busy the cluster
POLL = 1.0  # s between the runner's looks at the requests and the DC
TRIES = 3  # a CIB that refuses a checkpoint this often leaves the requests for the next
QUIET_ENV = "HAFLOW_CHECKPOINT_QUIET"
LOCK = ".runner"


def quiet() -> float:
    try:
        return max(0.0, float(os.environ.get(QUIET_ENV, QUIET)))
    except ValueError:
        return QUIET


def directory() -> str:
    from haflow.agents import marker

    # beside the markers' directory, on the same tmpfs: gone with the node
    return marker.directory().rstrip("/").rpartition("/")[0] + "/checkpoint"


def request(workflow: str, log: Callable[[str, str], None]) -> None:
    """Have ``workflow`` checkpointed: soon, with the others asked for meanwhile (at
    once under ``HAFLOW_CHECKPOINT_QUIET=0``)."""
    from haflow.agents import checkpoint

    if not quiet():
        checkpoint.run([workflow], log)
        return
    folder = directory()
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        # one file per request: the runner removes those it wrote, not one asked again
        path = os.path.join(folder, f"{workflow}@{os.getpid()}.{os.urandom(4).hex()}")
        with open(path, "x", encoding="utf-8"):
            pass
    except OSError as exc:
        log("WARNING", f"cannot ask for a checkpoint ({exc}): writing it now")
        checkpoint.run([workflow], log)
        return
    if not _runner_active(folder):
        _start_runner(log)


def when_done(workflow: str, steps: str, log: Callable[[str, str], None]) -> bool:
    """Ask for the checkpoint of ``workflow`` (``request``) if ``steps`` (how many haflow
    steps it has) are done; whether it was asked. The start of a last step
    asks (meta.LAST_STEP_META): of several starting at once, each records its flag
    before it reads them, so one at least sees all done."""
    from haflow.agents import cibio
    from haflow.encoding import live, read

    try:
        expected = int(steps)
        live_state = live.attributes_of(cibio.live_state(workflow))
        done = live.done(live_state, workflow)
        if done < expected and live.flags(live_state, workflow) < expected:
            # steps run before and compacted since (a retry) are done in their durable copy
            done = read.done_steps(cibio.workflow_configuration(workflow), workflow)
    except (ValueError, cibio.CibUnavailable) as exc:
        log("WARNING", f"the checkpoint of workflow {workflow} is left for later: {exc}")
        return False
    if done < expected:
        return False
    request(workflow, log)
    return True


def pending(folder: str | None = None) -> dict[str, list[str]]:
    """This node's requests: workflow -> its request files' paths."""
    folder = folder or directory()
    found: dict[str, list[str]] = {}
    try:
        names = os.listdir(folder)
    except OSError:
        return found
    for name in names:
        workflow, at, _ = name.rpartition("@")
        if at and workflow:
            found.setdefault(workflow, []).append(os.path.join(folder, name))
    return found


def flush(log: Callable[[str, str], None]) -> None:
    """Write this node's pending requests now (a stop that moves: the node may be
    leaving). Once, and never failing the stop: what is not written stays asked for."""
    from haflow.agents import deadline

    folder = directory()
    if not pending(folder):
        return
    try:
        _write(folder, log, wait=False, tries=1)
    except deadline.ActionTimeout:
        log("WARNING", "the checkpoints asked for on this node are left to its runner: "
            "the stop's time is up")


def _runner_active(folder: str) -> bool:
    import fcntl

    try:
        with open(os.path.join(folder, LOCK), "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(lock, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def _start_runner(log: Callable[[str, str], None]) -> None:
    """A process of its own session, holding none of the action's pipes: execd waits for
    the action alone, and a timeout's kill of the action's group spares it."""
    import subprocess
    import sys

    # as this action's interpreter was started (the launcher's -IS) and with its path
    flags = [f for f, on in (("-I", sys.flags.isolated), ("-S", sys.flags.no_site)) if on]
    program = (f"import sys; sys.path[:] = {sys.path!r}; "
               "from haflow.agents.checkpointer import main; sys.exit(main())")
    try:
        subprocess.Popen([sys.executable, *flags, "-c", program], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True)
    except OSError as exc:
        log("WARNING", f"cannot start the checkpoint runner ({exc}): writing it now")
        flush(log)


def _settled(found: dict[str, list[str]], wait_quiet: float, idle: Callable[[], bool]
             ) -> bool:
    """Whether to write the requests now: quiet for ``wait_quiet`` s while the DC runs
    no transition (``idle``: there is none for the change to abort), or LONGEST s old."""
    import time

    stamps = []
    for paths in found.values():
        for path in paths:
            try:
                stamps.append(os.stat(path).st_mtime)
            except OSError:
                continue
    if not stamps:
        return True
    now = time.time()
    return now - min(stamps) >= LONGEST or (now - max(stamps) >= wait_quiet and idle())


class DesignatedController:
    """Whether the DC is idle (its controller in S_IDLE), asked of crmadmin."""

    def __init__(self) -> None:
        self.name: str | None = None

    def _ask(self, *args: str) -> ET.Element | None:
        import subprocess
        import xml.etree.ElementTree as ET

        try:
            done = subprocess.run(["crmadmin", *args, "--output-as=xml"],
                                  capture_output=True, text=True, timeout=10)
            return ET.fromstring(done.stdout)
        except (OSError, subprocess.TimeoutExpired, ET.ParseError):
            return None

    def idle(self) -> bool:
        """True also when it cannot be told: no cluster (a CIB file), or no DC now
        (an election: LONGEST bounds the wait then)."""
        if os.environ.get("CIB_file"):  # noqa: SIM112 (Pacemaker spells it so)
            return True
        for _ in range(2):  # the DC may have changed since it was asked
            if self.name is None:
                found = self._ask("--dc_lookup")
                dc = None if found is None else found.find("dc")
                self.name = None if dc is None else dc.get("node_name")
                if not self.name:
                    return False
            found = self._ask("--status", self.name)
            crmd = None if found is None else found.find("crmd")
            state = None if crmd is None else crmd.get("state")
            if state == "S_IDLE":
                return True
            if state in ("S_TRANSITION_ENGINE", "S_POLICY_ENGINE"):
                return False
            self.name = None
        return False


def _write(folder: str, log: Callable[[str, str], None], wait: bool, tries: int = TRIES
           ) -> bool:
    """Checkpoint what is asked for in ``folder`` in one change (after the requests have
    been quiet, if ``wait``), until none is left; whether all were written. Requests a
    CIB refused ``tries`` times stay for the next runner."""
    import time

    from haflow.agents import checkpoint, cibio

    dc = DesignatedController()
    while True:
        found = pending(folder)
        if not found:
            return True
        if wait and not _settled(found, quiet(), dc.idle):
            time.sleep(POLL)
            continue
        workflows = sorted(found)
        for attempt in range(tries):
            try:
                checkpoint.write_now(workflows, log)
                break
            except cibio.CibUnavailable as exc:
                if attempt == tries - 1:
                    log("WARNING", f"the checkpoint of {', '.join(workflows)} is left "
                        f"for later: {exc}")
                    return False
                time.sleep(1.0)
        for paths in found.values():
            for path in paths:
                with contextlib.suppress(OSError):
                    os.unlink(path)


def main() -> int:
    """The runner: while this node has requests, write them (one runner at a time)."""
    import fcntl

    from haflow.agents.logs import log as log_line

    def log(level: str, message: str) -> None:
        log_line(level, "haflow-checkpoint", message)

    folder = directory()
    try:
        lock = open(os.path.join(folder, LOCK), "a")  # noqa: SIM115 (held while serving)
    except OSError as exc:
        log("ERROR", f"cannot run the checkpoints asked for: {exc}")
        return 1
    with lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # another runner serves this node's requests
            try:
                written = _write(folder, log, wait=True)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
            # a request made while the lock was held found it taken, and started no
            # runner: look once more
            if not written or not pending(folder):
                return 0 if written else 1
