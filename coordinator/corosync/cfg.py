"""cfg: this node's id, and the knet link status to every node."""

from __future__ import annotations

from dataclasses import dataclass

from haflow.coordinator.corosync.base import Handle


@dataclass(frozen=True)
class LinkStatus:
    link: int
    enabled: bool
    connected: bool
    mtu: int
    src: str
    dst: str


@dataclass(frozen=True)
class NodeStatus:
    nodeid: int
    reachable: bool
    remote: bool
    external: bool
    onwire_version: int
    links: tuple[LinkStatus, ...]


class Cfg(Handle):
    service = "cfg"
    prefix = "corosync_cfg_"

    def __init__(self) -> None:
        super().__init__()
        handle = self.ffi.new("corosync_cfg_handle_t *")
        rc = self.lib.corosync_cfg_initialize(handle, self.ffi.NULL)
        self._opened("corosync_cfg_initialize", rc, handle)

    def fileno(self) -> int:
        fd = self.ffi.new("int32_t *")  # cfg's fd_get takes an int32_t
        self.call("fd_get", fd)
        return int(fd[0])

    def local_nodeid(self) -> int:
        value = self.ffi.new("unsigned int *")
        self.call("local_get", value)
        return int(value[0])

    def node_status(self, nodeid: int) -> NodeStatus:
        """Reachability and links of ``nodeid`` as this node's knet sees them."""
        ffi, lib = self.ffi, self.lib
        st = ffi.new("struct corosync_cfg_node_status_v1 *")
        self.call("node_status_get", nodeid, lib.CFG_NODE_STATUS_V1, st)
        links = tuple(
            LinkStatus(i, bool(ln.enabled), bool(ln.connected), int(ln.mtu),
                       ffi.string(ln.src_ipaddr).decode(), ffi.string(ln.dst_ipaddr).decode())
            for i in range(lib.CFG_MAX_LINKS) if (ln := st.link_status[i]).enabled
        )  # fmt: skip
        return NodeStatus(int(st.nodeid), bool(st.reachable), bool(st.remote), bool(st.external),
                          int(st.onwire_ver), links)
