"""The API's request bodies (validated: unknown fields refused) and the shapes of its answers
(documented in the OpenAPI document; the answers themselves are the commands' dicts)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from haflow.encoding.ids import NAME_MAX, NAME_PATTERN

Name = Field(pattern=f"^{NAME_PATTERN}$", max_length=NAME_MAX)
InputValue = str | int | float | bool | list[str | int | float | bool]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmitRequest(Strict):
    """Run a template: the only way a caller makes a workflow."""

    template: str = Field(pattern=f"^{NAME_PATTERN}$", max_length=NAME_MAX,
                          description="a template added with 'haflow templates add'")
    inputs: dict[str, InputValue] = Field(default_factory=dict, max_length=200,
                                          description="values of the template's inputs")
    name: str | None = Field(default=None, pattern=f"^{NAME_PATTERN}$", max_length=NAME_MAX,
                             description="the workflow's name (default: the template's)")


class ApproveRequest(Strict):
    step: str = Field(pattern=f"^{NAME_PATTERN}$", max_length=NAME_MAX,
                      description="the file step whose approval gate to grant")


class RetryRequest(Strict):
    step: str | None = Field(default=None, pattern=f"^{NAME_PATTERN}$", max_length=NAME_MAX)


class TemplateRequest(Strict):
    text: str = Field(max_length=256 * 1024, description="the template's workflow YAML")
    replace: bool = False


class ReportModel(BaseModel):
    code: str = Field(description="a code of haflow's registry (README: exit codes)")
    message: str
    severity: Literal["error", "warning", "info"]
    file: str | None = None
    line: int | None = None
    column: int | None = None
    step: str | None = None
    details: dict[str, Any] | None = None


class ErrorAnswer(BaseModel):
    """Every error: the commands' reports; the HTTP status follows the first one's exit
    code (4 NOT_FOUND: 404, 5 CONFLICT: 409, 6 NO_QUORUM: 503, 3 INVALID: 422...)."""

    errors: list[ReportModel]


class FailureModel(BaseModel):
    operation: str
    node: str
    rc: int
    rc_text: str
    exit_reason: str
    time: float | None


class StepModel(BaseModel):
    name: str
    resource: str
    agent: str
    state: Literal["waiting", "starting", "done", "failed", "undoing", "undone", "blocked",
                   "skipped", "awaiting approval", "paused"]
    policy: str
    node: str | None
    waiting_on: list[str]
    progress: int | None
    message: str | None
    heartbeat: float | None
    heartbeat_age: float | None
    stuck: bool
    started: float | None
    duration: float | None
    outputs: dict[str, str]
    failure: FailureModel | None
    fail_count: dict[str, int]
    migration_threshold: int
    retry_on: list[str]
    note: str | None
    effect_flagged: bool
    problem: bool


WorkflowState = Literal["running", "done", "failed", "rolling back", "rolled back", "held",
                        "blocked", "paused"]


class WorkflowModel(BaseModel):
    """A workflow's status: what ``haflow status WF --output-as json`` prints."""

    name: str
    state: WorkflowState
    policy: str
    aborted: bool
    checkpoint_pending: bool = Field(
        description="its live state says more than the copy kept on disk: as its steps "
        "run, and for a moment after it ends")
    submission: str | None
    description: str | None
    counts: dict[str, int]
    steps: list[StepModel]


class WorkflowRow(BaseModel):
    """One line of ``haflow list --output-as json``."""

    name: str
    state: WorkflowState
    counts: dict[str, int]
    steps: int
    problems: list[str]
    policy: str
    description: str | None
    submitted: float | None = Field(description="epoch of its history's first event")


class Submitted(BaseModel):
    workflow: str
    submission: str
    replaced: bool
    changed: bool
    resources: list[str]
    replayed: bool = Field(description="an earlier request with this Idempotency-Key made it")


class HistoryEvent(BaseModel):
    time: float
    node: str
    step: str
    task: str
    rc: int
    status: int
    outcome: str
    text: str


class Event(BaseModel):
    """One server-sent event of ``GET /v1/events``: ``id: N``, ``event: TYPE`` and this as
    ``data`` (JSON). ``workflow`` events: a workflow appeared, changed state or was removed
    (state ``removed``); ``step`` events: a step changed state or node."""

    type: Literal["workflow", "step"]
    workflow: str
    step: str | None = None
    state: str
    was: str | None
    node: str | None = None
    time: float


class UserModel(BaseModel):
    name: str
    role: Literal["viewer", "operator", "admin"]
    created: int


class TemplateModel(BaseModel):
    name: str
    description: str
    inputs: dict[str, Any]
    text: str | None = None


class SecretRequest(Strict):
    value: str = Field(min_length=1, max_length=64 * 1024, description="never shown again")


class SecretModel(BaseModel):
    name: str
    version: str
