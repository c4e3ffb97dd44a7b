"""Corosync errors as haflow errors: the report code is the CS_ERR_* name the call returned."""

from __future__ import annotations

from haflow.coordinator.codes import Code
from haflow.coordinator.reports import HaflowError, Report

# cs_error_t (corosync/corotypes.h): each failure is a report code of its own
CS_ERRORS: dict[int, Code] = {
    2: Code.CS_ERR_LIBRARY,
    3: Code.CS_ERR_VERSION,
    4: Code.CS_ERR_INIT,
    5: Code.CS_ERR_TIMEOUT,
    6: Code.CS_ERR_TRY_AGAIN,
    7: Code.CS_ERR_INVALID_PARAM,
    8: Code.CS_ERR_NO_MEMORY,
    9: Code.CS_ERR_BAD_HANDLE,
    10: Code.CS_ERR_BUSY,
    11: Code.CS_ERR_ACCESS,
    12: Code.CS_ERR_NOT_EXIST,
    13: Code.CS_ERR_NAME_TOO_LONG,
    14: Code.CS_ERR_EXIST,
    15: Code.CS_ERR_NO_SPACE,
    16: Code.CS_ERR_INTERRUPT,
    17: Code.CS_ERR_NAME_NOT_FOUND,
    18: Code.CS_ERR_NO_RESOURCES,
    19: Code.CS_ERR_NOT_SUPPORTED,
    20: Code.CS_ERR_BAD_OPERATION,
    21: Code.CS_ERR_FAILED_OPERATION,
    22: Code.CS_ERR_MESSAGE_ERROR,
    23: Code.CS_ERR_QUEUE_FULL,
    24: Code.CS_ERR_QUEUE_NOT_AVAILABLE,
    25: Code.CS_ERR_BAD_FLAGS,
    26: Code.CS_ERR_TOO_BIG,
    27: Code.CS_ERR_NO_SECTIONS,
    28: Code.CS_ERR_CONTEXT_NOT_FOUND,
    30: Code.CS_ERR_TOO_MANY_GROUPS,
    100: Code.CS_ERR_SECURITY,
}
CS_OK = 1
CS_ERR_LIBRARY = 2
CS_ERR_TRY_AGAIN = 6
CS_ERR_INVALID_PARAM = 7
CS_ERR_BAD_HANDLE = 9
CS_ERR_NOT_EXIST = 12

# the Debian packages that provide the build's headers and libraries
DEV_PACKAGES = ("libcorosync-common-dev", "libcmap-dev", "libquorum-dev", "libvotequorum-dev",
                "libcpg-dev", "libcfg-dev")


def cs_name(code: int) -> str:
    return "CS_OK" if code == CS_OK else str(CS_ERRORS.get(code, f"CS_ERR_{code}"))


class CorosyncError(HaflowError):
    """A Corosync call failed; ``cs_code``/``cs_error`` name the cs_error_t it returned."""

    def __init__(self, call: str, cs_code: int, message: str | None = None,
                 code: Code | None = None) -> None:
        self.call = call
        self.cs_code = cs_code
        self.cs_error = cs_name(cs_code)
        text = message or f"{call} failed: {self.cs_error}"
        report_code = code or CS_ERRORS.get(cs_code, Code.COROSYNC_CALL_FAILED)
        super().__init__(Report(code=report_code, message=text,
                                details={"call": call, "cs_error": self.cs_error}))


class CorosyncNotRunning(CorosyncError):
    """No corosync to talk to on this node (its IPC socket does not answer)."""

    def __init__(self, call: str, cs_code: int) -> None:
        super().__init__(
            call, cs_code,
            f"cannot connect to corosync ({call}: {cs_name(cs_code)}): corosync is not running "
            "on this node, or not in this namespace (for a lab, run inside the node)",
            code=Code.COROSYNC_NOT_RUNNING)  # fmt: skip


class CorosyncUnavailable(HaflowError):
    """haflow was installed without its Corosync extension."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(Report(
            code=Code.COROSYNC_BINDINGS_MISSING,
            message=(f"haflow's Corosync bindings are not built ({reason}); install "
                     f"{', '.join(DEV_PACKAGES)} and a C compiler, then reinstall haflow "
                     "(pip install .)"),
        ))  # fmt: skip


def check(call: str, rc: int) -> None:
    """Raise unless ``rc`` is CS_OK."""
    if rc != CS_OK:
        raise CorosyncError(call, rc)


def check_init(call: str, rc: int) -> None:
    """As check(), but a connect that nobody answers (CS_ERR_LIBRARY) means no corosync."""
    if rc == CS_ERR_LIBRARY:
        raise CorosyncNotRunning(call, rc)
    check(call, rc)
