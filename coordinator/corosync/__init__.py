"""haflow's Corosync bindings (cffi, API mode) over libcmap, libquorum, libvotequorum,
libcpg and libcfg.

Every class is a context manager that finalizes its handle::

    with VoteQuorum() as vq:
        print(vq.info().quorate)

Corosync's IPC is per node (per network namespace for the lab): the bindings
talk to the corosync of the namespace they run in. Errors are
:class:`CorosyncError` (a ``HaflowError``, code COROSYNC_CALL_FAILED, naming the ``CS_ERR_*``),
:class:`CorosyncNotRunning` and :class:`CorosyncUnavailable` (built without the
Corosync -dev packages). See docs/corosync-bindings.md.
"""

from haflow.coordinator.corosync._ffi import available
from haflow.coordinator.corosync.base import Handle
from haflow.coordinator.corosync.cfg import Cfg, LinkStatus, NodeStatus
from haflow.coordinator.corosync.cmap import Cmap, CmapEvent
from haflow.coordinator.corosync.cpg import (
    Cpg,
    CpgAddress,
    CpgConfchg,
    CpgEvent,
    CpgMessage,
    CpgTotemConfchg,
)
from haflow.coordinator.corosync.errors import (
    CorosyncError,
    CorosyncNotRunning,
    CorosyncUnavailable,
)
from haflow.coordinator.corosync.quorum import (
    MembershipEvent,
    Quorum,
    QuorumEvent,
    RingId,
    VoteInfo,
    VoteNodelistEvent,
    VoteQuorum,
    VoteQuorumEvent,
)

__all__ = [
    "Cfg", "Cmap", "CmapEvent", "CorosyncError", "CorosyncNotRunning", "CorosyncUnavailable",
    "Cpg", "CpgAddress", "CpgConfchg", "CpgEvent", "CpgMessage", "CpgTotemConfchg", "Handle",
    "LinkStatus", "MembershipEvent", "NodeStatus", "Quorum", "QuorumEvent", "RingId",
    "VoteInfo", "VoteNodelistEvent", "VoteQuorum", "VoteQuorumEvent", "available",
]  # fmt: skip
