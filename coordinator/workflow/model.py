"""The workflow as typed data, after loading and validation.

Every field keeps where it came from (``Loc``) so that later checks and tools
(plan, export) can point at the line a problem comes from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from haflow.encoding.ids import PROVIDER


class FailurePolicy(StrEnum):
    ROLLBACK = "rollback"  # give up after the retries: the whole workflow is undone
    HOLD = "hold"  # keep the failed step blocked and the rest in place, for a human


# defaults a step gets when the file does not say (documented in docs/workflow-format.md)
DEFAULT_TIMEOUT_MS = 60_000
DEFAULT_INTERVAL_MS = 30_000
DEFAULT_RETRIES = 2
HAFLOW_AGENTS = ("exec", "http", "test")


class Loc(NamedTuple):
    """1-based line and column in the workflow file (a tuple: 5,000-step files make
    tens of thousands of these)."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


NOWHERE = Loc(0, 0)

# characters XML 1.0 cannot hold (lxml refuses them): every workflow value ends up in the CIB
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# provider and type name a directory and a file under $OCF_ROOT/resource.d, and
# validation runs `crm_resource --show-metadata` on them: no '/', no leading '.'
# (`ocf:../../../tmp:x` would run /tmp/x), nothing a shell or XML would read
_AGENT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-")


def _agent_word(word: str) -> bool:
    return 0 < len(word) <= 128 and word[0] not in ".-" and all(c in _AGENT_CHARS for c in word)


@dataclass(frozen=True)
class AgentSpec:
    """``exec`` is short for ``ocf:haflow:exec``; anything else is ``ocf:PROVIDER:TYPE``."""

    standard: str
    provider: str
    type: str

    @classmethod
    def parse(cls, text: str) -> AgentSpec | None:
        if text in HAFLOW_AGENTS:
            return cls("ocf", PROVIDER, text)
        parts = text.split(":")
        if len(parts) == 3 and parts[0] == "ocf" and all(_agent_word(p) for p in parts[1:]):
            return cls(*parts)
        return None

    @property
    def is_haflow(self) -> bool:
        """haflow agents follow the step contract (node-local marker, adopting start)."""
        return self.standard == "ocf" and self.provider == PROVIDER

    def __str__(self) -> str:
        return f"{self.standard}:{self.provider}:{self.type}"


class RuleOp(StrEnum):
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    DEFINED = "defined"
    NOT_DEFINED = "not_defined"


@dataclass(frozen=True)
class Rule:
    """A node attribute condition a node must meet to run the step."""

    attribute: str
    op: RuleOp
    value: str | None = None
    type: str = "string"  # string | integer | number | version
    loc: Loc = NOWHERE


@dataclass(frozen=True)
class Step:
    name: str
    agent: AgentSpec
    params: dict[str, str] = field(default_factory=dict)
    after: tuple[str, ...] = ()
    with_: tuple[str, ...] = ()
    apart: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    retries: int = DEFAULT_RETRIES
    interval_ms: int = DEFAULT_INTERVAL_MS  # 0: no recurring monitor
    failure_policy: FailurePolicy = FailurePolicy.ROLLBACK  # effective (workflow's default applied)
    # the step of the file this one was made from, when another: a for_each step (for
    # its instances) or a sub-workflow step (for the steps of its file)
    unit: str = ""
    loc: Loc = NOWHERE  # the step's name (its key under ``steps``)
    # where each field's value is: "agent", "params.KEY", "after.0", "with.1", "timeout"...
    locs: dict[str, Loc] = field(default_factory=dict, compare=False)
    # where each key is, same keys as ``locs`` ("params.KEY": the parameter's name)
    key_locs: dict[str, Loc] = field(default_factory=dict, compare=False)

    def key_where(self, key: str) -> Loc:
        """Location of the key naming ``key`` (e.g. a parameter's name)."""
        return self.key_locs.get(key) or self.where(key)

    def where(self, key: str) -> Loc:
        """Location of ``key`` (e.g. ``after.1``), else of its parent, else of the step."""
        while key:
            if key in self.locs:
                return self.locs[key]
            key = key.rpartition(".")[0]
        return self.loc


@dataclass(frozen=True)
class Workflow:
    name: str
    steps: dict[str, Step]  # in file order
    description: str = ""
    failure_policy: FailurePolicy = FailurePolicy.ROLLBACK
    source: str = "<string>"  # the file it was loaded from
    loc: Loc = NOWHERE
    locs: dict[str, Loc] = field(default_factory=dict, compare=False)
    # what the orchestration keys made of the file's steps (expand.py), by file step:
    # the steps each became (itself; its instances; its sub-workflow's steps)
    units: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    # file steps whose `when` is false (or whose for_each has no item), in file order
    skipped: tuple[str, ...] = ()
    # approval gates: file step -> the steps its approval holds
    gates: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # a sub-workflow's file declares these: KEY -> ${steps.STEP.KEY}
    outputs: dict[str, str] = field(default_factory=dict)

    def dependencies(self, step: str) -> set[str]:
        """Every step ``step`` runs after, directly or transitively."""
        seen: set[str] = set()
        todo = list(self.steps[step].after)
        while todo:
            name = todo.pop()
            if name not in seen and name in self.steps:
                seen.add(name)
                todo.extend(self.steps[name].after)
        return seen
