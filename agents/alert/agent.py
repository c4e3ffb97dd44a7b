"""Pacemaker alert agent: records what haflow steps did, and rolls back failed workflows.

Pacemaker runs it (as ``hacluster``) for every resource operation and fencing
event, with ``CRM_alert_*`` environment variables. Stdlib only, and quick; its
launcher (install.ALERT_LAUNCHER) is a shell script that ends, without starting
Python, on the events ``handle`` skips (a successful monitor, a root's success,
a cancelled monitor, a start or stop the agent noted): keep the two in step.

1. History: each event of a haflow step (start, stop, failed monitor, ...) is
   stored in the CIB as a record (encoding/record.py) in a meta attribute set
   of the workflow's root primitive: a failure at once, the
   rest gathered into one write every few seconds (spool.py: every
   write makes Pacemaker schedule again). A successful start or stop of one of
   haflow's own step agents is left out here: the agent recorded it under the
   ``<status>`` element with its effect flag, before the action returned
   (agents/recorded.py, encoding/live.py),
   so it is not lost with a node that dies before a spool is written. The CIB is replicated to
   every node, so the history survives the loss of any node (including the
   node whose lrm history the DC erases when it is fenced); meta attributes
   are not part of an operation's digest, so writing them restarts nothing.
   A fencing is recorded in the history of every workflow with an event on
   the fenced node: Pacemaker's own fencing history (``stonith_admin
   --history``) was seen to lose the controller's fencings of a node whose
   fencer restarted; every node runs the alert, and all of them write the
   same id (the operation's reference), so it is recorded once.
2. Failure policy ``rollback`` with no haflow process alive: when a step whose
   primitive has that policy (meta.FAILURE_POLICY_META) fails and can no longer
   run on any online node (its fail count reached migration-threshold
   everywhere; a failed start counts as INFINITY), the workflow's root and
   every step get ``target-role=Stopped`` in one change, as ``haflow abort``
   does: Pacemaker undoes every step in reverse order, the root last.
3. A rollback's last act with the root's node fenced: the root's stop runs
   the sweep (agents/sweep.py) that finishes undos cut short, but a root
   whose node is fenced stops by the fencing alone, and no sweep runs. After
   a fencing, the DC's alert finds each aborted workflow whose root is not
   active and that has steps still flagged (encoding/live.py), and adds the
   root's sweep set (encoding.write.ask_sweep; score INFINITY: it outranks the
   abort's ``target-role=Stopped``) that starts the root on a survivor; the
   root's start deletes the set again (workflow_agent.py), and Pacemaker
   stops the root after the first steps, as for any rollback: its stop
   sweeps, as root, on a live node. Only the DC does it: the alerts of two nodes could
   otherwise re-add the set after the root's start deleted it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from haflow.agents.alert import spool as alert_spool
from haflow.agents.xmltext import quoteattr
from haflow.encoding import read, record, write
from haflow.encoding.ids import ROOT_STEP, root_id, split_step_id, sweep_set_id
from haflow.encoding.meta import (
    POLICY_ROLLBACK,
    STOPPED,
    TARGET_ROLE,
)
from haflow.encoding.read import banned

INFINITY = 1_000_000
FAILCOUNT_WAIT = 15.0  # seconds to wait for the fail count of a failure to be written
CIB_NO_SUCH_OBJECT = 105
EXEC_CANCELLED = 1  # CRM_alert_status: Pacemaker's execution status "cancelled"
ERASE_WAIT = 20.0  # seconds for the DC to erase a fenced node's resource history


def _run(argv: list[str], timeout: float = 20.0) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _query(xpath: str | None = None) -> ET.Element | None:
    result = _run(["cibadmin", "--query", *(["--xpath", xpath] if xpath else [])])
    if result is None or result.returncode != 0:
        return None
    try:
        return ET.fromstring(result.stdout)
    except ET.ParseError:
        return None


def _int(text: str | None) -> int:
    if not text:
        return 0
    if text.upper().lstrip("+") == "INFINITY":
        return INFINITY
    try:
        return int(text)
    except ValueError:
        return 0


# ---- the event ----------------------------------------------------------------------------


class Event:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.kind = env.get("CRM_alert_kind", "")
        self.rsc = env.get("CRM_alert_rsc", "")
        self.task = env.get("CRM_alert_task", "")
        self.interval = _int(env.get("CRM_alert_interval"))
        self.rc = _int(env.get("CRM_alert_rc"))
        self.target_rc = _int(env.get("CRM_alert_target_rc"))
        self.status = _int(env.get("CRM_alert_status"))
        self.node = env.get("CRM_alert_node", "") or os.uname().nodename
        self.desc = " ".join(env.get("CRM_alert_desc", "").split())
        stamp = env.get("CRM_alert_timestamp_epoch")
        usec = env.get("CRM_alert_timestamp_usec", "0")
        self.time = float(f"{stamp}.{usec.zfill(6)}") if stamp else time.time()
        self.exec_time = env.get("CRM_alert_exec_time", "")

    @property
    def failed(self) -> bool:
        return self.status != 0 or self.rc != self.target_rc

    @property
    def label(self) -> str:
        if self.task == "monitor":
            return f"monitor-{self.interval // 1000}s" if self.interval else "probe"
        return self.task

    def worth_recording(self) -> bool:
        # a successful recurring monitor or probe says nothing new; a failure always does
        return self.failed or self.task not in ("monitor", "notify")


def history_event(event: Event, step: str, outcome: str | None = None) -> record.Event:
    """What the history records of ``event`` (encoding/record.py)."""
    outcome = outcome or (record.FAILED if event.failed else record.OK)
    return record.Event(event.time, event.node, step, event.label, event.rc, event.status,
                        outcome, event.desc or outcome)


def exit_reason(event: Event) -> str:
    """The failed operation's exit reason, which the CIB has before the alert runs."""
    op = _query(f"//node_state[@uname={quoteattr(event.node)}]//lrm_resource"
                f"[@id={quoteattr(event.rsc)}]/lrm_rsc_op[@id="
                f"{quoteattr(event.rsc + '_last_failure_0')}]")
    reason = op.get("exit-reason", "") if op is not None else ""
    return " ".join(reason.split())


def _spooled(workflow: str, event: record.Event) -> alert_spool.Event:
    return workflow, record.key(event.time, event.node, event.step), record.format_value(event)


def record_now(workflow: str, event: record.Event) -> bool:
    """Add one event to the workflow's history in the CIB (a merge: nothing else changes)."""
    return alert_spool.write([_spooled(workflow, event)])


def record_later(env: Mapping[str, str], workflow: str, event: record.Event) -> bool:
    """Spool the event for the next gathered write (spool.py); False when there is
    no spool here (then it is for ``record_now``)."""
    folder = alert_spool.folder(env)
    if folder is None:
        return False
    alert_spool.add(folder, _spooled(workflow, event))
    return True


def record_fencing(event: Event) -> list[str]:
    """Add a fencing of ``event.node`` to the workflows that ran something there."""
    if not event.node:
        return []
    from haflow.agents import cibio

    try:
        # with the histories' live records (encoding/live.py): the starts and stops there
        cib = cibio.configuration()
    except (cibio.CibUnavailable, ET.ParseError):
        return []
    ref = event.desc.rpartition("ref=")[2].rstrip(")").strip() if "ref=" in event.desc else ""
    # every node runs this alert: one id per operation makes their writes one record
    key = record.fencing_key(event.node, "".join(c for c in ref if c.isalnum())
                             or f"{int(event.time)}")
    value = record.format_value(history_event(event, record.FENCING_STEP,
                                              "success" if event.rc == 0 else record.FAILED))
    # the workflows that did anything on that node
    found = [workflow for workflow in read.workflows(cib)
             if any(e.node == event.node for e in read.events(cib, workflow))]
    events = [(workflow, key, value) for workflow in found]
    return found if events and alert_spool.write(events) else []


# ---- rollback -----------------------------------------------------------------------------


def cannot_run_anywhere(cib: ET.Element, rsc: str, failed_node: str) -> bool | None:
    """True when the resource's fail count reached migration-threshold on every online
    node it may run on; None while the failure's own fail count is not written yet."""
    prim = read.primitive(cib, rsc)
    if prim is None:
        return False
    threshold = read.migration_threshold(cib, prim)
    prefix = f"fail-count-{rsc}#"
    counts: dict[str, int] = {}
    online = []
    for state in cib.findall("./status/node_state"):
        node = state.get("uname", "")
        if state.get("crmd") == "online" and state.get("in_ccm") not in ("false", None):
            online.append(node)
        counts[node] = sum(_int(n.get("value"))
                           for n in state.findall("./transient_attributes/"
                                                  "instance_attributes/nvpair")
                           if n.get("name", "").startswith(prefix))
    if not counts.get(failed_node):
        return None
    return all(counts.get(node, 0) >= threshold for node in online
               if not banned(cib, rsc, node))


def stop_everything(cib: ET.Element, workflow: str) -> str:
    """``cibadmin --modify`` input stopping every resource of ``workflow`` as
    ``haflow abort`` does (encoding.write.set_role, applied to ``cib`` in place). A
    merge only changes and adds: what set_role removes stays (a second target-role
    set by hand; the sweep set, which only an aborted workflow has)."""
    write.set_role(cib, workflow, STOPPED)
    out = ET.Element("resources")
    for primitive in read.resources_of(cib, workflow):
        patch = ET.SubElement(out, "primitive", id=primitive.get("id", ""))
        for meta in primitive.findall("meta_attributes"):
            held = [n for n in meta.findall("nvpair") if n.get("name") == TARGET_ROLE]
            if held:
                ET.SubElement(patch, "meta_attributes", id=meta.get("id", "")).extend(held)
    return ET.tostring(out, encoding="unicode")


def maybe_roll_back(event: Event, workflow: str, step: str) -> str | None:
    """Stop the workflow if ``event`` is a failure for good under policy rollback."""
    deadline = time.monotonic() + FAILCOUNT_WAIT
    while True:
        cib = _query()
        if cib is None:
            return None
        prim = read.primitive(cib, event.rsc)
        # no policy: not a step of a workflow (a resource someone named "x.y")
        policy = None if prim is None else read.failure_policy(cib, prim)
        if policy != POLICY_ROLLBACK:
            return None
        if read.aborted(cib, workflow):
            return None  # already rolling back
        verdict = cannot_run_anywhere(cib, event.rsc, event.node)
        if verdict is not None or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if not verdict:
        return None
    result = _run(["cibadmin", "--modify", "--scope", "resources", "--xml-text",
                   stop_everything(cib, workflow)])
    if result is None or result.returncode != 0:
        return None
    return (f"step {step} failed on every node it may run on: rolling workflow {workflow} "
            "back")


# ---- the sweep after a fencing ------------------------------------------------------------


def local_node() -> str:
    result = _run(["crm_node", "--name"], timeout=10.0)
    if result is not None and result.returncode == 0 and result.stdout.strip():
        return result.stdout.strip()
    return os.uname().nodename


def is_dc(cib: ET.Element) -> bool:
    dc = cib.get("dc-uuid")
    if not dc:
        return False
    state = cib.find(f"./status/node_state[@id={quoteattr(dc)}]")
    return state is not None and state.get("uname") == local_node()


def has_stale_history(cib: ET.Element, node: str) -> bool:
    """Whether the CIB still holds the resource history ``node`` had before it was
    fenced (the DC erases it; a node back online already has a new one)."""
    state = cib.find(f"./status/node_state[@uname={quoteattr(node)}]")
    return state is not None and state.get("crmd") != "online" and \
        state.find("./lrm/lrm_resources/lrm_resource") is not None


def active_somewhere(cib: ET.Element, rsc: str) -> bool:
    """Whether any node's history has ``rsc`` running, starting or stopping (anything
    but a completed stop or a probe that found it stopped)."""
    for state in cib.findall("./status/node_state"):
        op = state.find(f"./lrm/lrm_resources/lrm_resource[@id={quoteattr(rsc)}]"
                        f"/lrm_rsc_op[@id={quoteattr(rsc + '_last_0')}]")
        if op is None:
            continue
        task, rc = op.get("operation"), op.get("rc-code")
        if (task == "stop" and rc == "0" and op.get("op-status") == "0") or \
                (task == "monitor" and rc == "7"):
            continue
        return True
    return False


def sweep_needed(cib: ET.Element) -> list[str]:
    """Aborted workflows whose root is stopped while steps are still flagged."""
    found = []
    for workflow in read.workflows(cib):
        root = read.root_of(cib, workflow)
        if root is None or not read.aborted(cib, workflow):
            continue
        asked = any(m.get("id") == sweep_set_id(workflow)
                    for m in root.findall("meta_attributes"))
        if asked or active_somewhere(cib, root_id(workflow)):
            continue
        if read.flagged_steps(cib, workflow):
            found.append(workflow)
    return found


def sweep_after_fencing(event: Event) -> list[str]:
    """Start the root of each workflow that needs a sweep again (see 3. above)."""
    if event.rc != 0 or not event.node:
        return []
    deadline = time.monotonic() + ERASE_WAIT
    while True:
        cib = _query()
        if cib is None or not is_dc(cib):
            return []
        if not has_stale_history(cib, event.node) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    done = []
    for workflow in sweep_needed(cib):
        root = ET.Element("primitive", id=root_id(workflow))
        write.ask_sweep(root, workflow)
        result = _run(["cibadmin", "--modify", "--scope", "resources", "--xml-text",
                       ET.tostring(root, encoding="unicode")])
        if result is None or result.returncode != 0:
            continue
        record_now(workflow, record.Event(
            time.time(), event.node, ROOT_STEP, "sweep", 0, 0, "sweep",
            f"the root stopped with {event.node} (fenced) before finishing undos cut short: "
            "it starts on a live node, and its stop finishes them"))
        done.append(workflow)
    return done


def noted_by_agent(event: Event) -> bool:
    """Whether the step's agent wrote this successful start or stop into the history
    itself, in the CIB write it made anyway (agents/recorded.py)."""
    if event.failed or event.task not in ("start", "stop"):
        return False
    from haflow.agents import recorded

    took = _int(event.exec_time) / 1000
    return recorded.by_agent(event.rsc, event.task, event.time - took - 1.0)


def handle(env: Mapping[str, str]) -> int:
    event = Event(env)
    if event.kind == "fencing":
        record_fencing(event)
        sweep_after_fencing(event)
        return 0
    if event.kind != "resource":
        return 0
    found = split_step_id(event.rsc)
    if found is None:
        return 0
    workflow, step = found
    if step == ROOT_STEP and not event.failed:
        return 0
    if event.status == EXEC_CANCELLED:
        return 0  # a recurring monitor cancelled by a stop: nothing happened to the step
    if event.failed:
        event.desc = exit_reason(event) or event.desc
    if event.worth_recording() and not noted_by_agent(event):
        recorded = history_event(event, step)
        # a failure is written at once: the rollback below and an admin look for it
        if event.failed or not record_later(env, workflow, recorded):
            record_now(workflow, recorded)
    if event.failed and step != ROOT_STEP and event.task in ("start", "monitor", "promote"):
        if event.task == "monitor" and not event.interval:
            return 0  # a probe finding something is not a failure of the step
        why = maybe_roll_back(event, workflow, step)
        if why:
            record_now(workflow, record.Event(time.time(), event.node, step, "rollback", 0, 0,
                                              "rollback", why))
    return 0


def main() -> int:
    try:
        return handle(os.environ)
    except Exception as exc:  # an alert agent must never hurt the cluster: log and go
        sys.stderr.write(f"alert_haflow: {exc!r}\n")
        return 0


if __name__ == "__main__":
    sys.exit(main())
