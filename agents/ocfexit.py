"""The OCF 1.1 exit codes as an IntEnum (values from :mod:`haflow.agents.ocfcodes`)."""

from __future__ import annotations

from enum import IntEnum

from haflow.agents import ocfcodes as _c


class OcfExit(IntEnum):
    SUCCESS = _c.SUCCESS
    ERR_GENERIC = _c.ERR_GENERIC
    ERR_ARGS = _c.ERR_ARGS
    ERR_UNIMPLEMENTED = _c.ERR_UNIMPLEMENTED
    ERR_PERM = _c.ERR_PERM
    ERR_INSTALLED = _c.ERR_INSTALLED
    ERR_CONFIGURED = _c.ERR_CONFIGURED
    NOT_RUNNING = _c.NOT_RUNNING
    RUNNING_PROMOTED = _c.RUNNING_PROMOTED
    FAILED_PROMOTED = _c.FAILED_PROMOTED
    DEGRADED = _c.DEGRADED
    DEGRADED_PROMOTED = _c.DEGRADED_PROMOTED

    @property
    def ocf_name(self) -> str:
        return _c.NAMES[int(self)]
