"""The step contract: ``do``/``undo``/``check`` in, correct start/stop/monitor out.

An agent author writes three callbacks; this class turns them into OCF
actions that are safe under Pacemaker's model (docs/agents.md, "The step
contract"):

- ``start`` adopts an effect that already exists (``check`` finds it, e.g.
  after a failover) instead of making a second one; otherwise runs ``do``
  with the idempotency key. If ``do`` fails half-way under a rollback
  policy, its partial effect is undone before the failure is reported.
- ``monitor`` answers "running" only where the node-local marker is, and
  only while ``check`` still finds the effect (drift is a failure, repaired
  by Pacemaker's recovery).
- ``stop`` undoes only when an undo is meant (read from the CIB); a move
  only releases the marker. ``migrate_to``/``migrate_from`` hand over.
- what a start or stop did (effect flag, outputs, history record) goes to the
  CIB's status section in one change (agents/cibio.py), a workflow's last steps
  have it checkpointed into the configuration (agents/checkpoint.py, written by
  the node's runner: agents/checkpointer.py); progress and a
  heartbeat go to a node attribute.
"""

from __future__ import annotations

from haflow.agents import deadline, marker, ocfcodes
from haflow.agents.framework import Agent, OcfError
from haflow.agents.params import Param, Value
from haflow.encoding.meta import (
    EFFECT_PENDING,
    EFFECT_PRESENT,
    FAILURE_POLICY_META,
    LAST_STEP_META,
    PARAM_STEP,
    PARAM_SUBMISSION,
    PARAM_WORKFLOW,
    POLICY_HOLD,
)

Outputs = dict[str, str]
OTHER_UNDO_WAIT = 30.0  # s a stop waits for another one undoing a step depending on both
HistoryRecord = tuple[str, str, str]  # workflow, key, value (agents/cibio.py: Record)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

FRAMEWORK_PARAMS = (
    Param(PARAM_WORKFLOW, shortdesc="Workflow this step belongs to (set by haflow)",
          longdesc="Name of the workflow this step belongs to. Set by the haflow compiler; "
          "empty when the agent is used on its own."),
    Param(PARAM_STEP, shortdesc="Step name within the workflow",
          longdesc="Name of the step within its workflow. By default the part of the "
          "resource's id after the workflow's name, as the haflow compiler names steps."),
    Param(PARAM_SUBMISSION, shortdesc="Submission id (set by haflow)",
          longdesc="Identifies one submission of the workflow; part of the idempotency key, "
          "so a resubmitted workflow makes new effects and a recovered step adopts its own."),
)


class StepContext:
    """What ``do``/``undo``/``check`` get: parameters, the key, progress reporting."""

    def __init__(self, agent: StepAgent, params: dict[str, Value], outputs: Outputs) -> None:
        self.agent = agent
        self.params = params
        self.outputs = outputs  # what start produced or adopted (empty before)
        self.key = agent.idempotency_key
        self.workflow = agent.workflow
        self.step = agent.step
        self.resource = agent.resource
        self.action = agent.action
        self._heartbeat: object | None = None

    def progress(self, percent: int | None, message: str) -> None:
        """Report progress; shown by ``haflow status`` while the action runs."""
        from haflow.agents.progress import Heartbeat

        if isinstance(self._heartbeat, Heartbeat):
            self._heartbeat.update(percent, message)

    def remaining(self) -> float | None:
        """Seconds before this action's own deadline."""
        return deadline.remaining()

    def log(self, message: str, level: str = "INFO") -> None:
        self.agent.log(level, message)


class StepAgent(Agent):
    """Base for agents whose effect follows the step contract."""

    # whether a rollback must make sure the effect is undone (see agents/sweep.py)
    tracks_effect = True
    # whether start and stop write their own history record (agents/recorded.py)
    records_history = True

    # effect lives outside this node: limit discovery, adopt on start
    def do(self, ctx: StepContext) -> Outputs | None:
        raise NotImplementedError

    def undo(self, ctx: StepContext) -> None:
        raise NotImplementedError

    def check(self, ctx: StepContext) -> bool | Outputs:
        """Whether the effect exists (an Outputs dict counts as yes, and updates them)."""
        raise NotImplementedError

    @classmethod
    def all_params(cls) -> tuple[Param, ...]:
        return cls.params + FRAMEWORK_PARAMS

    # ---- identity ----------------------------------------------------------------------------

    @property
    def workflow(self) -> str:
        return str(self.values.get(PARAM_WORKFLOW) or "")

    @property
    def step(self) -> str:
        """The step's name: the ``step`` parameter where one is set (workflows compiled
        before it was dropped), else its id's part after the workflow's (ids.step_id)."""
        named = self.values.get(PARAM_STEP)
        if named:
            return str(named)
        prefix = f"{self.workflow}."
        return self.resource[len(prefix):] if self.workflow and \
            self.resource.startswith(prefix) else self.resource

    @property
    def idempotency_key(self) -> str:
        submission = str(self.values.get(PARAM_SUBMISSION) or "")
        if self.workflow:
            return f"{self.workflow}/{self.step}/{submission}"
        return f"{self.resource}/{submission}"

    # ---- parameters with output references -------------------------------------------------

    def _resolve(self) -> tuple[dict[str, Value], dict[str, str]]:
        """Typed values with ``${steps.S.K}`` replaced from the CIB; and the resolved strings."""
        from haflow.agents import outputs as refs

        wanted = {(s, k) for v in self.values.values() if isinstance(v, str)
                  for s, k, _ in refs.references(v)}
        if not wanted and not any(isinstance(v, str) and "$${" in v
                                  for v in self.values.values()):
            return dict(self.values), {}
        if wanted and not self.workflow:
            raise OcfError(ocfcodes.ERR_CONFIGURED,
                           "output references need the 'workflow' parameter")
        from haflow.encoding.ids import step_id  # off the monitor path, as outputs are

        ids = {s: step_id(self.workflow, s) for s, _ in wanted}
        found: dict[str, dict[str, str]] = {}
        if ids:
            from haflow.agents import cibio

            try:
                found = cibio.read_outputs(sorted(set(ids.values())))
            except cibio.CibUnavailable as exc:
                raise OcfError(ocfcodes.ERR_GENERIC,
                               f"cannot read outputs of earlier steps: {exc}") from None
        values = dict(self.values)
        resolved: dict[str, str] = {}
        for name, value in self.values.items():
            if not isinstance(value, str) or "${" not in value:
                continue
            try:
                text = refs.resolve(value, lambda s, k: found.get(ids.get(s, ""), {}).get(k))
            except KeyError as exc:
                step, key = exc.args[0]
                raise OcfError(ocfcodes.ERR_GENERIC, f"parameter '{name}' needs output '{key}' "
                               f"of step '{step}', which that step has not produced") from None
            values[name] = resolved[name] = text
        return values, resolved

    def _from_marker(self, found: marker.Marker) -> StepContext:
        values = dict(self.values)
        values.update(found.resolved)
        return StepContext(self, values, dict(found.outputs))

    # ---- OCF actions ------------------------------------------------------------------------

    def start(self) -> int:
        from haflow.agents.progress import Heartbeat

        self.require_valid()
        values, resolved = self._resolve()
        ctx = StepContext(self, values, {})
        with Heartbeat(self.resource, "start") as heartbeat:
            ctx._heartbeat = heartbeat
            existing = self.check(ctx)
            if existing:
                outputs = existing if isinstance(existing, dict) else self._stored_outputs()
                self.log("INFO", f"adopting the existing effect of {ctx.key}")
            else:
                self._flag_pending()  # from here on, a rollback must undo it
                outputs = self._do(ctx)
        # outputs first: a step is only "running here" once what it made is recorded;
        # the start's history record rides in that same write
        if self._store_outputs(outputs, self._history_record("start")):
            from haflow.agents import recorded  # not on the monitor's path

            recorded.note(self.resource, "start")
        last = self.meta.get(LAST_STEP_META.replace("-", "_"))
        if last and self.workflow:
            from haflow.agents import checkpointer

            checkpointer.when_done(self.workflow, last, self.log)
        marker.write(self.instance, marker.Marker(ctx.key, resolved, outputs))
        return ocfcodes.SUCCESS

    def _do(self, ctx: StepContext) -> Outputs:
        try:
            return dict(self.do(ctx) or {})
        except BaseException as exc:
            if self._rolls_back() and not isinstance(exc, KeyboardInterrupt):
                self._undo_partial(ctx, exc)
            raise

    def _undo_partial(self, ctx: StepContext, cause: BaseException) -> None:
        """Undo what a failed ``do`` left, so a rollback leaves nothing behind."""
        deadline.disarm()  # the undo gets what is left of Pacemaker's timeout margin
        self.log("WARNING", f"start failed ({cause}); undoing its partial effect")
        try:
            self.undo(ctx)
        except Exception as exc:
            # the effect flag stays pending: a rollback of the workflow tries again
            self.log("ERROR", f"undoing the partial effect of {ctx.key} failed: {exc}")
            return
        if self.workflow:
            from haflow.agents import cibio

            try:
                cibio.record_live(self.resource, effect="" if self.tracks_effect else None,
                                  outputs={})
            except cibio.CibUnavailable as exc:
                self.log("WARNING", f"the effect flag of {self.resource} stays: {exc}")

    def _rolls_back(self) -> bool:
        """Whether the step's failure policy is rollback (read only when a start fails).

        The compiler records a policy other than rollback as a meta attribute
        (meta.FAILURE_POLICY_META), which Pacemaker does not pass to agents: read it from
        the CIB; with none there (rollback), or a CIB that cannot be read, the op's
        on-fail says it (block for hold).
        """
        from haflow.agents import cibio

        try:
            policy = cibio.meta_attribute(self.resource, FAILURE_POLICY_META)
        except cibio.CibUnavailable:
            policy = None
        if policy is None:
            return self.meta.get("on_fail") != "block"
        return policy != POLICY_HOLD

    def _stored_outputs(self) -> Outputs:
        if not self.workflow:
            return {}
        from haflow.agents import cibio

        try:
            return cibio.read_outputs([self.resource]).get(self.resource, {})
        except cibio.CibUnavailable:
            return {}

    def _flag_pending(self) -> None:
        if not self.workflow or not self.tracks_effect:
            return
        from haflow.agents import cibio

        try:
            cibio.record_live(self.resource, effect=EFFECT_PENDING)
        except cibio.CibUnavailable as exc:
            raise OcfError(ocfcodes.ERR_GENERIC, f"cannot record the step in the CIB before "
                           f"doing it: {exc}") from None

    def _store_outputs(self, outputs: Outputs, event: HistoryRecord | None = None) -> bool:
        """Outputs, effect flag and ``event`` in one CIB write; whether ``event`` is in."""
        # a resource made by hand (no workflow) keeps its outputs in its marker only
        if not self.workflow or not (self.tracks_effect or outputs or event):
            return False
        from haflow.agents import cibio

        try:
            effect = EFFECT_PRESENT if self.tracks_effect else None
            cibio.record_live(self.resource, effect=effect, outputs=outputs, event=event)
            return event is not None
        except cibio.CibUnavailable as exc:
            raise OcfError(ocfcodes.ERR_GENERIC, f"the step ran but its outputs could not be "
                           f"stored: {exc}") from None

    def monitor(self) -> int:
        found = marker.read(self.instance)
        if found is None:
            return ocfcodes.NOT_RUNNING
        ctx = self._from_marker(found)
        if self.check(ctx):
            return ocfcodes.SUCCESS
        if self.is_probe:
            # our marker but no effect: it was undone behind our back; not running here
            marker.remove(self.instance)
            return ocfcodes.NOT_RUNNING
        raise OcfError(ocfcodes.ERR_GENERIC, f"the effect of {ctx.key} is gone (drift); "
                       "the cluster will redo the step")

    def stop(self) -> int:
        meant, why, cib = self._undo_meant()
        found = marker.read(self.instance)
        undone = False
        # the root's undo is the sweep, which goes dependents first itself and tries every
        # flagged step even when one of them fails
        if meant and cib is not None and self.tracks_effect and \
                not self._dependents_undone(cib):
            meant, why = False, ("a step that depends on it still has its effect (its undo "
                                 "failed): keeping this one's, for the rollback's last act")
        if meant:
            undone = self._undo(found, why, cib)
        else:
            if found:
                self.log("INFO", f"releasing {found.key} on this node: {why}")
            from haflow.agents import checkpointer

            checkpointer.flush(self.log)  # this node may be leaving: nothing left behind
        if not undone:
            self._record_event("stop", cib)
        marker.remove(self.instance)
        return ocfcodes.SUCCESS

    def _undo(self, found: marker.Marker | None, why: str, cib: ET.Element | None) -> bool:
        """Undo the effect, then clear the outputs and effect flag, with the stop's history
        record in the same CIB change; whether that record was written."""
        from haflow.agents import cibio
        from haflow.agents.progress import Heartbeat

        ctx = self._from_marker(found) if found else self._undo_context()
        self.log("INFO", f"undoing {ctx.key}: {why}")
        with Heartbeat(self.resource, "undo") as heartbeat:
            ctx._heartbeat = heartbeat
            try:
                self.undo(ctx)
            except OcfError:
                raise
            except Exception as exc:
                raise OcfError(ocfcodes.ERR_GENERIC, f"undo failed: {exc}") from None
        if not self._recordable(cib):
            return False
        event = self._history_record("stop")
        try:
            # "" outranks the durable copy: the root's stop checkpoints it
            if self.tracks_effect or event is not None:
                cibio.record_live(self.resource, effect="" if self.tracks_effect else None,
                                  outputs={}, event=event)
        except cibio.CibUnavailable as exc:
            self.log("WARNING", f"outputs of {self.resource} were not cleared: {exc}")
            return False
        if event is not None:
            from haflow.agents import recorded

            recorded.note(self.resource, "stop")
        return event is not None

    def _recordable(self, cib: ET.Element | None) -> bool:
        """Whether this step's state may be recorded: not once it (or its workflow) was
        removed from the CIB, whose live state ``remove`` dropped with it."""
        from haflow.encoding import read

        return bool(self.workflow) and (cib is None or (
            any(p.get("id") == self.resource for p in cib.iter("primitive"))
            and read.root_of(cib, self.workflow) is not None))

    def _dependents_undone(self, cib: ET.Element) -> bool:
        """Undo first, here, every step that depends on this one and may still have its
        effect; whether none is left.

        Pacemaker stops the steps in reverse order, but counts a stop as done once
        its node is fenced: an undo cut short by a fencing leaves the step's effect
        (its flag, encoding/live.py) while Pacemaker goes on to this step. No
        undo of this step may run while a step depending on it has its effect,
        so that undo is finished first, by running the dependent's stop here (it
        undoes its own dependents first in turn), as the root's sweep would later.
        A dependent whose undo fails keeps this step's effect too."""
        import os

        from haflow.agents import sweep
        from haflow.encoding import read

        if not self.workflow:
            return True
        deps = read.dependencies(cib, self.workflow)
        chain = set(os.environ.get(sweep.UNDOING_ENV, "").split(","))
        flagged = {p.get("id", ""): p for p in read.flagged_steps(cib, self.workflow)}
        waiting = [rid for rid in read.dependents(deps, self.resource)
                   if rid in flagged and rid not in chain and rid != self.resource]
        if not waiting:
            return True
        from haflow.agents import cibio

        for rid in read.undo_order(deps, waiting):
            # a join's dependencies are stopped at once, maybe on several nodes: the first
            # of them still flagged undoes it, the others wait for that a while
            first = min(d for d in deps.get(rid, ()) if d in flagged or d == self.resource)
            if first != self.resource and self._undone_by_other(rid, first):
                continue
            self.log("WARNING", f"{rid} depends on {self.resource} and may still have its "
                     "effect (its undo was cut short): undoing it first")
            left = deadline.remaining()
            sweep.undo_step(flagged[rid], self.log, max(5.0, (left or 60.0) - 5.0),
                            caller=self.resource)
        try:
            return not self._still_flagged(waiting)
        except cibio.CibUnavailable as exc:
            self.log("ERROR", f"cannot tell whether the steps after {self.resource} are "
                     f"undone: {exc}")
            return False

    def _still_flagged(self, rids: list[str]) -> set[str]:
        from haflow.agents import cibio
        from haflow.encoding import read

        now = cibio.workflow_configuration(self.workflow)
        return {p.get("id", "") for p in read.flagged_steps(now, self.workflow)}.intersection(
            rids)

    def _undone_by_other(self, rid: str, first: str) -> bool:
        """Wait (up to OTHER_UNDO_WAIT s, within this action's deadline) for ``first``'s
        stop to undo ``rid``; whether it did. A ``first`` whose stop does not run (its
        node fenced too) costs that wait, and this stop undoes ``rid`` itself."""
        import time

        from haflow.agents import cibio

        self.log("INFO", f"{rid} is undone by the stop of {first}: waiting for it")
        until = time.monotonic() + min(OTHER_UNDO_WAIT, (deadline.remaining() or 60.0) / 3)
        while time.monotonic() < until:
            try:
                if not self._still_flagged([rid]):
                    return True
            except cibio.CibUnavailable:
                pass
            time.sleep(1)
        return False

    def _history_record(self, task: str) -> HistoryRecord | None:
        """This action's record in the workflow's history (None for a step outside any
        workflow, or the root, whose successes the history leaves out)."""
        if not self.workflow or not self.records_history:
            return None
        import time

        from haflow.encoding import record

        now = time.time()
        event = record.Event(now, self.node, self.step, task, 0, 0, record.OK, record.OK)
        return self.workflow, record.key(now, self.node, self.step), record.format_value(event)

    def _record_event(self, task: str, cib: ET.Element | None) -> None:
        """Write this action's record now (a stop that undid nothing: no other write to
        carry it); if the CIB does not take it, the alert agent spools it."""
        event = self._history_record(task)
        if event is None or not self._recordable(cib):
            return
        from haflow.agents import cibio, recorded

        try:
            cibio.record_live(self.resource, event=event)
            recorded.note(self.resource, task)
        except cibio.CibUnavailable as exc:
            self.log("WARNING", f"the history record of this {task} is left to the alert "
                     f"agent: {exc}")

    def _undo_meant(self) -> tuple[bool, str, ET.Element | None]:
        """Read the CIB to tell an abort from a move; a busy CIB is asked again until
        the action's own deadline is near. Without an answer, keep the effect: a
        rollback's last act (agents/sweep.py) undoes what is still flagged."""
        import time

        from haflow.agents import cibio

        while True:
            try:
                cib = cibio.workflow_configuration(self.workflow, self.resource) \
                    if self.workflow else cibio.configuration()
                return (*cibio.undo_meant(self.resource, self.workflow or None, cib), cib)
            except cibio.CibUnavailable as exc:
                left = deadline.remaining()
                if left is None or left < 3:
                    return False, f"the CIB cannot be read ({exc}); keeping the effect", None
                self.log("WARNING", f"the CIB does not answer ({exc}); asking again")
                time.sleep(1)

    def _undo_context(self) -> StepContext:
        """For an undo with no marker here (a step that failed or ran elsewhere)."""
        try:
            values, _ = self._resolve()
        except OcfError:
            values = dict(self.values)  # outputs gone: undo with what we have
        return StepContext(self, values, self._stored_outputs())

    def migrate_to(self) -> int:
        # the effect stays; the target adopts it in migrate_from
        found = marker.read(self.instance)
        if found:
            self.log("INFO", f"handing {found.key} over to {self.meta.get('migrate_target')}")
        marker.remove(self.instance)
        return ocfcodes.SUCCESS

    def migrate_from(self) -> int:
        self.require_valid()
        values, resolved = self._resolve()
        ctx = StepContext(self, values, self._stored_outputs())
        existing = self.check(ctx)
        if not existing:
            raise OcfError(ocfcodes.ERR_GENERIC, f"taking over {ctx.key} from "
                           f"{self.meta.get('migrate_source')}: its effect is not there")
        outputs = existing if isinstance(existing, dict) else ctx.outputs
        marker.write(self.instance, marker.Marker(ctx.key, resolved, outputs))
        return ocfcodes.SUCCESS

    def reload_agent(self) -> int:
        """Reloadable parameters changed: keep the effect, refresh what monitor uses."""
        self.require_valid()
        found = marker.read(self.instance)
        if found is None:
            return ocfcodes.SUCCESS
        _, resolved = self._resolve()
        marker.write(self.instance, marker.Marker(found.key, resolved, found.outputs))
        return ocfcodes.SUCCESS
