"""What ``haflow status`` reports: the states, and each workflow's and step's status.

Plain data, no XML: the CLI renders it as text (cli/live.py), JSON (``to_dict``)
or XML (render.py); ``wait``, ``remove``, ``abort`` and the lab decide from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

STUCK_FACTOR = 3  # a heartbeat older than 3 intervals means the action is stuck
INFINITY = 1_000_000  # Pacemaker's score/fail-count infinity


class StepState(StrEnum):
    WAITING = "waiting"
    STARTING = "starting"
    DONE = "done"
    FAILED = "failed"
    UNDOING = "undoing"
    UNDONE = "undone"
    BLOCKED = "blocked"
    AWAITING_APPROVAL = "awaiting approval"  # its approval gate is not granted yet
    SKIPPED = "skipped"  # its `when` was false at submit: never a resource


class WorkflowState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    ROLLING_BACK = "rolling back"
    ROLLED_BACK = "rolled back"
    HELD = "held"
    BLOCKED = "blocked"
    PAUSED = "paused"  # `haflow pause`: nothing starts or stops until resumed


# states in which nothing of the workflow runs any more
SETTLED = (WorkflowState.DONE, WorkflowState.FAILED, WorkflowState.ROLLED_BACK,
           WorkflowState.HELD, WorkflowState.BLOCKED)


@dataclass
class Failure:
    operation: str  # e.g. start, monitor (30s), stop
    node: str
    rc: int
    rc_text: str
    exit_reason: str
    time: float | None  # epoch seconds of last-rc-change

    def to_dict(self) -> dict[str, Any]:
        return {"operation": self.operation, "node": self.node, "rc": self.rc,
                "rc_text": self.rc_text, "exit_reason": self.exit_reason, "time": self.time}


@dataclass
class StepStatus:
    name: str
    resource: str
    agent: str
    state: StepState
    policy: str
    node: str | None = None
    waiting_on: list[str] = field(default_factory=list)
    progress: int | None = None
    message: str | None = None
    heartbeat: float | None = None  # epoch of the last heartbeat
    heartbeat_age: float | None = None
    stuck: bool = False
    started: float | None = None
    duration: float | None = None  # seconds the start took
    outputs: dict[str, str] = field(default_factory=dict)
    failure: Failure | None = None
    fail_count: dict[str, int] = field(default_factory=dict)  # node -> fail count
    migration_threshold: int = INFINITY
    retry_on: list[str] = field(default_factory=list)  # nodes where it may run again
    note: str | None = None  # why blocked, what happens next
    # its agent flagged in the CIB that an effect may exist (agents/step.py)
    effect_flagged: bool = False
    # the file's step it was made from: a for_each step (its instances), a sub-workflow
    unit: str | None = None

    @property
    def problem(self) -> bool:
        return self.state in (StepState.FAILED, StepState.BLOCKED) or self.stuck

    def to_dict(self) -> dict[str, Any]:
        """The fields in declaration order (as ``dataclasses.asdict`` gives them, which
        took 20 ms on 500 steps: it deep-copies field by field), then ``problem``."""
        failure = self.failure
        return {"name": self.name, "resource": self.resource, "agent": self.agent,
                "state": self.state.value, "policy": self.policy, "node": self.node,
                "waiting_on": list(self.waiting_on), "progress": self.progress,
                "message": self.message, "heartbeat": self.heartbeat,
                "heartbeat_age": self.heartbeat_age, "stuck": self.stuck,
                "started": self.started, "duration": self.duration,
                "outputs": dict(self.outputs),
                "failure": None if failure is None else failure.to_dict(),
                "fail_count": dict(self.fail_count),
                "migration_threshold": self.migration_threshold,
                "retry_on": list(self.retry_on), "note": self.note,
                "effect_flagged": self.effect_flagged, "unit": self.unit,
                "problem": self.problem}


@dataclass
class WorkflowStatus:
    name: str
    state: WorkflowState
    policy: str
    aborted: bool
    submission: str | None
    steps: list[StepStatus]
    description: str | None = None
    paused: bool = False
    # its live state says more than its durable copy (read.checkpoint_pending): as
    # its steps run, and for a moment after it ends (agents/checkpointer.py)
    checkpoint_pending: bool = False

    @property
    def awaiting_checkpoint(self) -> bool:
        """Over (done or rolled back), its outcome not yet copied to disk."""
        return self.checkpoint_pending and self.state in (WorkflowState.DONE,
                                                          WorkflowState.ROLLED_BACK)

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for step in self.steps:
            out[step.state.value] = out.get(step.state.value, 0) + 1
        return out

    @property
    def problems(self) -> list[StepStatus]:
        return [s for s in self.steps if s.problem]

    def step(self, name: str) -> StepStatus:
        return next(s for s in self.steps if s.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state.value, "policy": self.policy,
                "aborted": self.aborted, "paused": self.paused,
                "checkpoint_pending": self.checkpoint_pending,
                "submission": self.submission,
                "description": self.description, "counts": self.counts,
                "steps": [s.to_dict() for s in self.steps]}
