"""OCF 1.1 exit codes as plain ints, for the agents' hot path.

Importing ``enum`` costs about a third of a bare interpreter's start-up, so
the framework works with these; :class:`haflow.agents.ocfexit.OcfExit` is
the same set as an IntEnum for authors and tools.
"""

SUCCESS = 0
ERR_GENERIC = 1
ERR_ARGS = 2
ERR_UNIMPLEMENTED = 3
ERR_PERM = 4
ERR_INSTALLED = 5
ERR_CONFIGURED = 6
NOT_RUNNING = 7
RUNNING_PROMOTED = 8
FAILED_PROMOTED = 9
DEGRADED = 190
DEGRADED_PROMOTED = 191

NAMES = {
    SUCCESS: "OCF_SUCCESS",
    ERR_GENERIC: "OCF_ERR_GENERIC",
    ERR_ARGS: "OCF_ERR_ARGS",
    ERR_UNIMPLEMENTED: "OCF_ERR_UNIMPLEMENTED",
    ERR_PERM: "OCF_ERR_PERM",
    ERR_INSTALLED: "OCF_ERR_INSTALLED",
    ERR_CONFIGURED: "OCF_ERR_CONFIGURED",
    NOT_RUNNING: "OCF_NOT_RUNNING",
    RUNNING_PROMOTED: "OCF_RUNNING_PROMOTED",
    FAILED_PROMOTED: "OCF_FAILED_PROMOTED",
    DEGRADED: "OCF_DEGRADED",
    DEGRADED_PROMOTED: "OCF_DEGRADED_PROMOTED",
}
