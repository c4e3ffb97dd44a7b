"""Exit codes of every ``haflow`` command: scripts may rely on these."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2  # argparse uses 2 as well
    INVALID = 3
    NOT_FOUND = 4
    CONFLICT = 5
    NO_QUORUM = 6
    FAILED = 7
    ROLLED_BACK = 8
    DENIED = 9
    TIMEOUT = 124  # same value as timeout(1)
    MISSING_DEPENDENCY = 127

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "success (warnings do not fail)",
    ExitCode.ERROR: "an operation failed (a daemon, a tool, the cluster)",
    ExitCode.USAGE: "bad command-line arguments",
    ExitCode.INVALID: "invalid input (a name, a file, a parameter)",
    ExitCode.NOT_FOUND: "the named lab, node, workflow or step does not exist",
    ExitCode.CONFLICT: "conflict: it already exists, or its state forbids the action",
    ExitCode.NO_QUORUM: "refused: no quorum",
    ExitCode.FAILED: "the workflow failed (wait)",
    ExitCode.ROLLED_BACK: "the workflow was rolled back (wait)",
    ExitCode.DENIED: "refused: not authenticated, or not allowed (a role, a Pacemaker ACL)",
    ExitCode.TIMEOUT: "timed out",
    ExitCode.MISSING_DEPENDENCY: "a required system tool is missing",
}
