"""Every report code haflow uses, once: its exit code and what it means.

Codes are UPPER_SNAKE, as pcs names its report codes. A site raises
``error(Code.X, message)``; the exit code comes from here, never from the
site. ``python -m haflow.coordinator.codes --update .`` writes the tables of
README.md and docs/workflow-format.md (tests/coordinator/test_codes.py keeps
them equal).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum, auto
from pathlib import Path
from typing import Any

from haflow.coordinator.exitcodes import ExitCode

E = ExitCode
CS_ERR_MEANING = "a Corosync call returned this cs_error_t (details: the call)"


class Code(StrEnum):
    """A report code; ``exit_code`` is what a command exits with when it is the first error,
    ``in_file`` marks the codes of a workflow file (docs/workflow-format.md)."""

    exit_code: ExitCode
    meaning: str
    in_file: bool

    @staticmethod
    def _generate_next_value_(name: str, start: int, count: int, last_values: list[Any]) -> str:
        return name  # the value is the name: one spelling

    def __new__(cls, value: str, exit_code: ExitCode, meaning: str, in_file: bool = False) -> Code:
        member = str.__new__(cls, value)
        member._value_ = value
        member.exit_code = exit_code
        member.meaning = meaning
        member.in_file = in_file
        return member

    # reading a workflow file
    FILE_NOT_FOUND = auto(), E.NOT_FOUND, "the workflow file does not exist", True
    UNREADABLE = (auto(), E.ERROR,
        "the workflow file cannot be read (a directory, no permission)", True)
    NOT_UTF8 = (auto(), E.INVALID,
        "the file is not UTF-8 (with the line and column of the first bad byte)", True)
    # the YAML itself
    YAML_SYNTAX = auto(), E.INVALID, "the file is not valid YAML", True
    EMPTY = auto(), E.INVALID, "the file holds no workflow", True
    DUPLICATE_KEY = (auto(), E.INVALID,
        "a key given twice in one mapping (a step, a parameter)", True)
    YAML_KEY = auto(), E.INVALID, "a key that is not text, e.g. `true:` or `~:` (quote it)", True
    YAML_MERGE = auto(), E.INVALID, "a `<<` merge of something other than a mapping", True
    YAML_ALIAS_LOOP = (auto(), E.INVALID,
        "an alias or `<<` merge that refers to a value holding it", True)
    YAML_TOO_LARGE = (auto(), E.INVALID,
        "a file over 32 MiB, values nested more than 100 levels, more than 400,000 values or 32 "
        "MiB of text once aliases are expanded", True)
    YAML_VERSION = (auto(), E.INVALID,
        "a `%YAML` directive other than 1.2 (haflow reads YAML 1.2: `yes`/`no`/`on`/`off` are "
        "text)", True)
    YAML_TAG = (auto(), E.INVALID,
        "a tag other than the plain data ones (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, "
        "`!!map`, `!!seq`): `!!python/...`, `!!binary`, `!custom` never construct anything", True)
    YAML_VALUE = auto(), E.INVALID, "a value its tag cannot read (`!!int abc`)", True
    BAD_CHARACTER = (auto(), E.INVALID,
        'a character XML cannot hold (`"\\0"`, `"\\e"`, U+FFFE...; every value ends up in the '
        "CIB)", True)
    # the schema
    UNKNOWN_KEY = auto(), E.INVALID, "a key the schema does not know", True
    MISSING_KEY = auto(), E.INVALID, "a key the schema requires is missing", True
    WRONG_TYPE = auto(), E.INVALID, "a value of the wrong type", True
    INVALID_VALUE = auto(), E.INVALID, "a value the schema does not allow", True
    BAD_KEY = auto(), E.INVALID, "a key that is not a valid name (a parameter's)", True
    # the workflow's meaning
    BAD_NAME = auto(), E.INVALID, "a workflow or step name that cannot be a CIB id", True
    RESERVED_NAME = auto(), E.INVALID, "a step named `root` (the workflow's root resource)", True
    UNKNOWN_STEP = auto(), E.INVALID, "`after`/`with`/`apart` naming no step of the workflow", True
    SELF_REFERENCE = auto(), E.INVALID, "`after`/`with`/`apart` naming the step itself", True
    CYCLE = (auto(), E.INVALID,
        "a dependency cycle, named: `a -> b -> c -> a` (each runs before the next)", True)
    BAD_AGENT = (auto(), E.INVALID,
        "not an OCF agent (PROVIDER and TYPE: letters, digits, `_` `.` `+` `-`, no leading `.` or "
        "`-`, so never a path)", True)
    UNKNOWN_AGENT = auto(), E.INVALID, "an agent that is not installed", True
    MISSING_PARAM = auto(), E.INVALID, "a parameter the agent's meta-data requires is missing", True
    UNKNOWN_PARAM = auto(), E.INVALID, "a parameter the agent's meta-data does not declare", True
    RESERVED_PARAM = auto(), E.INVALID, "a parameter haflow sets itself", True
    PARAM_NOT_KEEPABLE = (auto(), E.INVALID, "a foreign agent's parameter holds a line "
                          "break, tab, other control character, or markup after a non-ASCII "
                          "character, which the CIB cannot keep", True)
    UNCHECKED_PARAMS = (auto(), E.OK,
        "warning: the agent's meta-data could not be read, its parameters were not checked", True)
    BAD_DURATION = (auto(), E.INVALID,
        "a timeout under 1s, a monitor interval under 1s (other than 0), or either over ~24 days "
        "(Pacemaker's 32-bit milliseconds)", True)
    RETRIES_IGNORED = auto(), E.OK, "warning: `retries` on a step whose policy is `hold`", True
    REFERENCE_UNKNOWN_STEP = auto(), E.INVALID, "`${steps...}` naming no step of the workflow", True
    REFERENCE_NOT_DEPENDENCY = (auto(), E.INVALID,
        "`${steps...}` naming a step this one does not run after", True)
    BAD_REFERENCE = auto(), E.INVALID, "a `${...}` that is not a reference haflow knows", True
    BAD_RULE = (auto(), E.INVALID,
        "a rule with a value it should not have, or without one it needs", True)
    IMPOSSIBLE_PLACEMENT = (auto(), E.INVALID,
        "`with` and `apart` the same step; `with` chains joining steps that must be apart; `avoid`"
        " covering `nodes`; steps that must share a node with no node allowed for all", True)

    # inputs, instances and the orchestration keys (issue 16)
    INPUT_MISSING = (auto(), E.INVALID,
        "a declared input without a default was not given (`--input NAME=VALUE`)", True)
    INPUT_UNKNOWN = auto(), E.INVALID, "a value given for an input the file does not declare", True
    INPUT_TYPE = (auto(), E.INVALID,
        "an input value (or default) that is not of the input's type", True)
    INPUT_UNDECLARED = (auto(), E.INVALID,
        "`${inputs.NAME}` naming an input the file does not declare", True)
    INPUT_BAD_VALUE = (auto(), E.INVALID,
        "`--input` that is not `NAME=VALUE`, or a VALUE that is not YAML", True)
    INPUT_NOT_HERE = (auto(), E.INVALID,
        "`${inputs.NAME}` where only literal text is read (a step's name, the workflow's name)",
        True)
    ITEM_OUTSIDE_FOR_EACH = (auto(), E.INVALID,
        "`${item}` or `${index}` in a step without `for_each`", True)
    BAD_FOR_EACH = (auto(), E.INVALID,
        "`for_each` that is not a list of text, numbers or booleans (after its input is read)",
        True)
    BAD_MAX_PARALLEL = auto(), E.INVALID, "`max_parallel` without `for_each`", True
    BAD_CONDITION = (auto(), E.INVALID,
        "`when` that is not a boolean, `${inputs.NAME}` of a boolean input, or "
        "`${inputs.NAME} == VALUE` (or `!=`)", True)
    NAME_CLASH = (auto(), E.INVALID,
        "a step made by `for_each` or `workflow` whose name another step has, or a name over 48 "
        "characters", True)
    SUBWORKFLOW_CYCLE = auto(), E.INVALID, "a `workflow:` file that includes itself", True
    SUBWORKFLOW_INVALID = (auto(), E.INVALID,
        "a `workflow:` file that does not load (its own reports follow, with their places)", True)
    BAD_SUBWORKFLOW_KEY = (auto(), E.INVALID,
        "a step with `workflow` and a key other than `inputs`, `after`, `approval`, `when`; "
        "`inputs` on an agent's step", True)
    UNKNOWN_OUTPUT = (auto(), E.INVALID,
        "`${steps.SUB.KEY}` of a sub-workflow that declares no output KEY; an `outputs` entry "
        "that is not `${steps.STEP.KEY}`", True)
    FAN_OUT_REFERENCE = (auto(), E.INVALID,
        "`${steps.S.KEY}` of a `for_each` step: each of its instances has outputs of its own", True)

    # compiling into a CIB
    BAD_SUBMISSION = auto(), E.USAGE, "a submission id that cannot be stored in the CIB"
    BAD_CIB = auto(), E.INVALID, "a CIB that is not XML or has no `<configuration>`"
    ID_COLLISION = auto(), E.CONFLICT, "the CIB already has ids the workflow would add"
    EXPORT_UNSUPPORTED = auto(), E.ERROR, "a CIB element pcs commands cannot express"
    # the live cluster
    WORKFLOW_NOT_FOUND = auto(), E.NOT_FOUND, "no workflow of that name in the cluster"
    STEP_NOT_FOUND = auto(), E.NOT_FOUND, "the workflow has no step of that name"
    NOT_A_GATE = auto(), E.USAGE, "`approve` of a step that has no `approval: true`"
    ALREADY_APPROVED = auto(), E.CONFLICT, "`approve` of a gate that is approved already"
    ALREADY_PAUSED = auto(), E.CONFLICT, "`pause` of a workflow that is paused already"
    NOT_PAUSED = auto(), E.CONFLICT, "`resume` of a workflow that is not paused"
    NODE_NOT_FOUND = auto(), E.NOT_FOUND, "the cluster (or the lab) has no node of that name"
    WORKFLOW_EXISTS = auto(), E.CONFLICT, "a workflow of that name is already in the cluster"
    DUPLICATE_WORKFLOW = (auto(), E.INVALID,
        "one command names a workflow twice (two files of one name to submit)")
    WORKFLOW_DAMAGED = auto(), E.ERROR, "the workflow's root resource is missing from the CIB"
    WORKFLOW_RUNNING = auto(), E.CONFLICT, "the workflow still runs: remove refuses"
    EFFECTS_REMAIN = (auto(), E.CONFLICT,
        "steps failed without being undone: remove refuses without `--force`")
    ALREADY_ABORTED = auto(), E.CONFLICT, "the workflow is already aborted"
    STOP_STILL_FAILED = auto(), E.CONFLICT, "a failed stop (undo) still fails after a retry"
    CLEANUP_FAILED = auto(), E.ERROR, "crm_resource could not clear a step's failures"
    NO_QUORUM = auto(), E.NO_QUORUM, "refusing to write: this node's partition has no quorum"
    VIEW_NOT_SYNCED = (auto(), E.ERROR,
        "not deciding from this node's view of the cluster: it did not sync in time")
    CIB_UNAVAILABLE = auto(), E.ERROR, "the CIB does not answer (is pacemaker running?)"
    CIB_CONFLICT = auto(), E.CONFLICT, "the cluster refused the change: the CIB changed meanwhile"
    CIB_UPDATE_FAILED = auto(), E.ERROR, "cibadmin could not apply the change; nothing was changed"
    CIB_UPDATE_UNKNOWN = (auto(), E.TIMEOUT,
        "the CIB did not confirm the change in time, and cannot tell whether it applied it")
    CHANGE_TOO_LARGE = (auto(), E.INVALID,
        "one change would create more elements under one parent than Pacemaker applies "
        "in good time: nothing was changed")
    CIB_DIFF_FAILED = auto(), E.ERROR, "crm_diff could not compute the change"
    SIMULATE_FAILED = auto(), E.ERROR, "crm_simulate (or cibadmin) could not schedule the CIB"
    SIMULATE_VERSION = auto(), E.ERROR, "the CIB was written by a newer Pacemaker than crm_simulate"
    GRAPH_CYCLE = auto(), E.ERROR, "the scheduler's transition graph has a cycle"
    GRAPHVIZ_MISSING = (auto(), E.MISSING_DEPENDENCY,
        "`dot` (Debian's graphviz) is not installed: the web view lays graphs out with it")
    GRAPHVIZ_FAILED = auto(), E.ERROR, "`dot` could not lay a workflow's graph out"
    COROSYNC_NOT_RUNNING = (auto(), E.ERROR,
        "no corosync answers on this node (or in this namespace)")
    COROSYNC_CALL_FAILED = (auto(), E.ERROR,
        "a Corosync call returned a cs_error_t corosync/corotypes.h does not name")
    # a Corosync call that failed is reported by the cs_error_t it returned, as corosync's
    # own tools name it (one row for all of them in README.md's table)
    CS_ERR_LIBRARY = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_VERSION = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_INIT = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_TIMEOUT = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_TRY_AGAIN = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_INVALID_PARAM = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_NO_MEMORY = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_BAD_HANDLE = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_BUSY = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_ACCESS = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_NOT_EXIST = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_NAME_TOO_LONG = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_EXIST = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_NO_SPACE = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_INTERRUPT = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_NAME_NOT_FOUND = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_NO_RESOURCES = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_NOT_SUPPORTED = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_BAD_OPERATION = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_FAILED_OPERATION = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_MESSAGE_ERROR = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_QUEUE_FULL = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_QUEUE_NOT_AVAILABLE = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_BAD_FLAGS = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_TOO_BIG = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_NO_SECTIONS = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_CONTEXT_NOT_FOUND = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_TOO_MANY_GROUPS = auto(), E.ERROR, CS_ERR_MEANING
    CS_ERR_SECURITY = auto(), E.ERROR, CS_ERR_MEANING
    COROSYNC_BINDINGS_MISSING = (auto(), E.MISSING_DEPENDENCY,
        "haflow was installed without its Corosync bindings")
    # the service (haflow serve), its users, templates and secrets
    AUTH_REQUIRED = (auto(), E.DENIED,
        "no token, or a token that authenticates nobody (HTTP 401)")
    FORBIDDEN = auto(), E.DENIED, "the user's role may not do this (HTTP 403)"
    PERMISSION_DENIED = (auto(), E.DENIED,
        "the cluster refused: a Pacemaker ACL does not let this user write (or read) it")
    TOO_MANY_FAILED_LOGINS = (auto(), E.DENIED,
        "too many failed logins from this address: wait and retry (HTTP 429)")
    BAD_REQUEST = (auto(), E.INVALID,
        "a request body that is not JSON, has unknown fields or values of the wrong type")
    REQUEST_TOO_LARGE = auto(), E.INVALID, "a request body over the service's limit (HTTP 413)"
    IDEMPOTENCY_KEY_REUSED = (auto(), E.CONFLICT,
        "an Idempotency-Key already used for a different request")
    NO_SUCH_ENDPOINT = auto(), E.NOT_FOUND, "the API has no such path (HTTP 404)"
    METHOD_NOT_ALLOWED = auto(), E.USAGE, "the API's path does not take that method (HTTP 405)"
    BAD_USER = auto(), E.INVALID, "a user name that is not valid"
    BAD_ROLE = auto(), E.INVALID, "a role other than viewer, operator, admin"
    USER_NOT_FOUND = auto(), E.NOT_FOUND, "no user of that name"
    USER_EXISTS = auto(), E.CONFLICT, "a user of that name exists already"
    TEMPLATE_NOT_FOUND = auto(), E.NOT_FOUND, "no template of that name in the cluster"
    TEMPLATE_EXISTS = auto(), E.CONFLICT, "a template of that name is in the cluster already"
    BAD_INPUTS = auto(), E.INVALID, "template inputs that are not a mapping of names to text"
    SECRET_NOT_FOUND = auto(), E.NOT_FOUND, "no secret of that name"
    BAD_SECRET = auto(), E.INVALID, "a secret name or value that cannot be stored"
    SERVICE_ENABLED = auto(), E.CONFLICT, "the service's resources are in the cluster already"
    SERVICE_NOT_ENABLED = auto(), E.NOT_FOUND, "the service's resources are not in the cluster"
    BAD_ADDRESS = auto(), E.INVALID, "an address that is not ADDRESS/PREFIX or HOST:PORT"
    # tools, files and arguments
    USAGE = auto(), E.USAGE, "bad command-line arguments"
    MISSING_DEPENDENCY = (auto(), E.MISSING_DEPENDENCY,
        "a required system tool (or haflow's lab) is not installed")
    TOOL_TIMEOUT = auto(), E.TIMEOUT, "a cluster tool (or corosync) did not answer in time"
    OPERATION_FAILED = auto(), E.ERROR, "an operation on the cluster or the lab failed"
    CANNOT_WRITE = auto(), E.ERROR, "a file cannot be written (installing agents)"
    # the lab
    LAB_NOT_FOUND = auto(), E.NOT_FOUND, "no lab of that name"
    LAB_EXISTS = auto(), E.CONFLICT, "a lab of that name already exists"
    LAB_BAD_NAME = auto(), E.INVALID, "a lab name that is not valid"
    LAB_BAD_NODE_COUNT = auto(), E.INVALID, "a lab node count out of range"
    LAB_BAD_PARTITION = auto(), E.INVALID, "a partition that does not split the lab's nodes"
    LAB_NODE_OFF = auto(), E.CONFLICT, "the lab node is powered off"
    LAB_NOT_READY = auto(), E.TIMEOUT, "the lab was not ready in time"


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def exit_table() -> str:
    """README.md's table of the exit codes."""
    rows = [_row("exit", "name", "meaning"), _row("---", "---", "---")]
    rows += [_row(str(int(e)), f"`{e.name}`", e.meaning) for e in ExitCode]
    return "\n".join(rows)


def code_table() -> str:
    """README.md's table of every code outside a workflow file."""
    rows = [_row("code", "exit", "meaning"), _row("---", "---", "---")]
    for c in Code:
        if c.in_file or (c.meaning == CS_ERR_MEANING and c != Code.CS_ERR_LIBRARY):
            continue
        if c == Code.CS_ERR_LIBRARY:  # the first of the cs_error_t family stands for all
            rows.append(_row("`CS_ERR_*`", str(int(c.exit_code)),
                             "a Corosync call failed: the code is the cs_error_t it returned "
                             "(`CS_ERR_NOT_EXIST`, `CS_ERR_BAD_HANDLE`...; details: the call)"))
        else:
            rows.append(_row(f"`{c}`", str(int(c.exit_code)), c.meaning))
    return "\n".join(rows)


def file_table() -> str:
    """docs/workflow-format.md's table of the codes a workflow file can get."""
    rows = [_row("code", "exit", "meaning"), _row("---", "---", "---")]
    rows += [_row(f"`{c}`", str(int(c.exit_code)), c.meaning) for c in Code if c.in_file]
    return "\n".join(rows)


# where the tables live: (file, marker) -> table
TABLES: dict[tuple[str, str], Callable[[], str]] = {
    ("README.md", "codes exit"): exit_table,
    ("README.md", "codes other"): code_table,
    ("docs/workflow-format.md", "codes file"): file_table,
}
BEGIN = "<!-- generated: {} -->\n"
END = "\n<!-- end -->"


def generated_block(text: str, marker: str) -> str | None:
    """The table between ``marker``'s comments in ``text`` (None when it has none)."""
    begin = BEGIN.format(marker)
    start = text.find(begin)
    if start < 0:
        return None
    start += len(begin)
    end = text.find(END, start)
    return None if end < 0 else text[start:end]


def main(argv: list[str]) -> int:
    """``--markdown``: print every table; ``--update ROOT``: rewrite them in ROOT's docs."""
    if argv == ["--markdown"]:
        for (name, marker), table in TABLES.items():
            print(f"<!-- {name}: {marker} -->\n{table()}\n")
        return 0
    if len(argv) == 2 and argv[0] == "--update":
        for (name, marker), table in TABLES.items():
            path = Path(argv[1]) / name
            text = path.read_text()
            old = generated_block(text, marker)
            if old is None:
                print(f"{path}: no {BEGIN.format(marker).strip()} block", file=sys.stderr)
                return int(ExitCode.ERROR)
            path.write_text(text.replace(BEGIN.format(marker) + old + END,
                                         BEGIN.format(marker) + table() + END, 1))
        return 0
    print("usage: python -m haflow.coordinator.codes --markdown | --update ROOT", file=sys.stderr)
    return int(ExitCode.USAGE)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
