"""The alert agent's history writes, gathered: one CIB change every few seconds, not one per event.

Every change to the CIB's configuration makes Pacemaker's controller abort its
transition and schedule again once the actions in flight are done: with one
history write per step event, 300 Dummy steps took 120 s to start on a 1-node
lab, 21 to 31 s with no alert. So a successful event goes to a spool on this
node (under ``/dev/shm``: it is gone with the node, like the node's memory),
and a detached flusher writes the first events at once and then what gathered
every FLUSH_DELAY seconds in one ``cibadmin`` change: 52 s with 1 s, 39 s
with 3 s (same lab, one run each, on a busy machine). Failures, fencings and
rollbacks are still written at once (see agent.py). The starts and stops of
haflow's own step agents never come here: the agent carries their record in
the CIB write it makes anyway (agents/recorded.py). What is spooled (other
agents' steps, migrations) and a node that dies within those seconds are lost
together, as the node's own resource history is (a lone event is written at
once: the demo showed it missing when the flusher waited first).

Stdlib only: it runs in the alert agent (as hacluster) and in its flusher.
"""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from haflow.encoding.ids import root_id
from haflow.encoding.write import add_record

SPOOL_ENV = "HAFLOW_ALERT_SPOOL"  # the spool's directory; empty: write every event at once
FLUSH_DELAY = 3.0  # seconds a flusher gathers events before each CIB write
KEEP_FOR = 600.0  # seconds a flusher keeps events a CIB that does not answer refused
EVENTS = "events"
FLUSHER_LOCK = "flusher.lock"

Event = tuple[str, str, str]  # workflow, key (record.key), record (record.format_value)


def events_xml(events: list[Event]) -> str:
    """``cibadmin --modify`` input adding ``events`` to their workflows' histories."""
    out = ET.Element("resources")
    roots: dict[str, ET.Element] = {}
    for workflow, key, value in events:
        root = roots.get(workflow)
        if root is None:
            root = roots[workflow] = ET.SubElement(out, "primitive", id=root_id(workflow))
        add_record(root, workflow, key, value)
    return ET.tostring(out, encoding="unicode")


def write(events: list[Event]) -> bool:
    """Merge ``events`` into the CIB in one change (nothing else changes)."""
    try:
        done = subprocess.run(["cibadmin", "--modify", "--scope", "resources", "--xml-pipe"],
                              input=events_xml(events), capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def folder(env: Mapping[str, str]) -> str | None:
    """This node's spool directory, made if need be; None when spooling is off or the
    directory is not safely ours (then every event is written at once)."""
    path = env.get(SPOOL_ENV, f"/dev/shm/haflow-alerts-{os.getuid()}")
    if not path:
        return None
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        info = os.lstat(path)
    except OSError:
        return None
    # /dev/shm is everyone's: a directory someone else made there is not used
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return path


def add(path: str, event: Event) -> None:
    """Spool one event and make sure a flusher will write it."""
    # the values are single lines without tabs (the alert agent folds whitespace)
    with open(os.path.join(path, EVENTS), "a", encoding="utf-8") as spool:
        fcntl.flock(spool, fcntl.LOCK_EX)
        spool.write("\t".join(event) + "\n")
    if not flusher_running(path):
        start_flusher(path)


def flusher_running(path: str) -> bool:
    with open(os.path.join(path, FLUSHER_LOCK), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        return False  # the lock goes with the file's closing


def start_flusher(path: str) -> None:
    """A flusher detached from the alert (Pacemaker waits for the alert, not for it)."""
    code = (f"import sys; sys.path[:0] = {sys.path!r}; "
            "from haflow.agents.alert.spool import flush_loop; sys.exit(flush_loop(sys.argv[1]))")
    flags = [flag for flag, on in (("-I", sys.flags.isolated), ("-S", sys.flags.no_site)) if on]
    subprocess.Popen([sys.executable, *flags, "-c", code, path], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, close_fds=True)


def take(path: str) -> list[Event]:
    """Every spooled event, removed from the spool."""
    try:
        spool = open(os.path.join(path, EVENTS), "r+", encoding="utf-8")  # noqa: SIM115
    except FileNotFoundError:
        return []
    with spool:
        fcntl.flock(spool, fcntl.LOCK_EX)
        lines = spool.read().splitlines()
        spool.seek(0)
        spool.truncate()
    events = [line.split("\t", 2) for line in lines]
    return [(e[0], e[1], e[2]) for e in events if len(e) == 3]


def put_back(path: str, events: list[Event]) -> None:
    with open(os.path.join(path, EVENTS), "a", encoding="utf-8") as spool:
        fcntl.flock(spool, fcntl.LOCK_EX)
        spool.writelines("\t".join(event) + "\n" for event in events)


def cib_answers() -> bool:
    try:
        return subprocess.run(["cibadmin", "--query", "--scope", "crm_config"],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def flush(path: str, keep: bool = True) -> bool:
    """Write what is spooled; False when there was nothing. Events the CIB did not take
    while it did not answer (pacemaker restarting on this node) go back to the
    spool when ``keep``; those of a workflow removed meanwhile are dropped."""
    events = take(path)
    if not events:
        return False
    if not write(events):
        # a workflow removed meanwhile fails the whole change: write the others alone
        failed = [e for workflow in sorted({e[0] for e in events})
                  if not write(group := [e for e in events if e[0] == workflow])
                  for e in group]
        if failed and keep and not cib_answers():
            put_back(path, failed)
    return True


def pending(path: str) -> bool:
    try:
        return os.path.getsize(os.path.join(path, EVENTS)) > 0
    except OSError:
        return False


def flush_loop(path: str) -> int:
    """The flusher: write what is spooled now, then, while events come, what gathered
    every FLUSH_DELAY seconds; then end."""
    while True:
        with open(os.path.join(path, FLUSHER_LOCK), "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return 0  # another flusher runs
            # the first events at once (a node that dies a moment after a lone start
            # keeps it in the history), then what gathers over each FLUSH_DELAY;
            # a CIB that does not answer is waited for up to KEEP_FOR seconds
            began = time.monotonic()
            while flush(path, keep=time.monotonic() - began < KEEP_FOR):
                time.sleep(FLUSH_DELAY)
        # an event spooled while this flusher held the lock started no other one
        if not pending(path):
            return 0
