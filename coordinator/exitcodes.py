"""Exit codes of every ``haflow`` command: scripts may rely on these."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # an operation failed (a daemon, a tool, the cluster)
    USAGE = 2  # bad command-line arguments (argparse uses 2 as well)
    INVALID = 3  # invalid input: a workflow file, a parameter, a name
    NOT_FOUND = 4  # the named lab, node, workflow or step does not exist
    CONFLICT = 5  # the thing already exists, or is in a state that forbids the action
    NO_QUORUM = 6  # refusing to write without quorum
    FAILED = 7  # the workflow failed (wait)
    ROLLED_BACK = 8  # the workflow was rolled back (wait)
    TIMEOUT = 124  # same value as timeout(1)
    MISSING_DEPENDENCY = 127  # a required system tool is not installed
