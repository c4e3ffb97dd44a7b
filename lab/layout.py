"""Where a lab lives: its directory, namespace names, node names and addresses.

Everything a lab creates is named from here, so ``lab down`` can find and
remove all of it even when ``lab up`` crashed half-way.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

MAX_NODES = 8
NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,11}$")
# The subnet exists only on the lab's own bridge, inside its own namespaces.
SUBNET_PREFIX = "10.99.0"
SUBNET_BITS = 24
DEFAULT_ROOT = Path("/var/lib/haflow/labs")
NETNS_DIR = Path("/run/netns")

# persistent per-node directories and where they are bound inside the node
NODE_BINDS = (
    ("etc/corosync", "/etc/corosync"),
    ("etc/pacemaker", "/etc/pacemaker"),
    ("var/lib/corosync", "/var/lib/corosync"),
    ("var/lib/pacemaker", "/var/lib/pacemaker"),
    ("var/lib/pcsd", "/var/lib/pcsd"),
    ("var/log/pcsd", "/var/log/pcsd"),
    ("var/log/pacemaker", "/var/log/pacemaker"),
    ("var/log/cluster", "/var/log/cluster"),
)


def default_root() -> Path:
    return Path(os.environ.get("HAFLOW_LAB_ROOT", str(DEFAULT_ROOT)))


@dataclass(frozen=True)
class LabLayout:
    name: str
    root: Path

    @property
    def dir(self) -> Path:
        return self.root / self.name

    @property
    def state_file(self) -> Path:
        return self.dir / "lab.json"

    @property
    def bridge_netns(self) -> str:
        return f"hfl-{self.name}-net"

    def netns(self, node: str) -> str:
        return f"hfl-{self.name}-{node}"

    def all_netns(self) -> list[str]:
        """Every namespace name this lab may have created (whatever its size)."""
        return [self.bridge_netns] + [self.netns(n) for n in node_names(MAX_NODES)]

    def node_dir(self, node: str) -> Path:
        return self.dir / "nodes" / node

    def netns_file(self, node: str) -> Path:
        """A bind of the node's netns inside the lab dir, reachable from every node."""
        return self.dir / "netns" / node

    @property
    def etc_dir(self) -> Path:
        """The nodes' /etc: a copy of the host's made at ``lab up``. Bound as a directory,
        it stays theirs when the host replaces a file in its own /etc (useradd rewrites
        /etc/shadow by rename), which would silently detach a bind of that one file."""
        return self.dir / "etc"

    @property
    def hosts_file(self) -> Path:
        return self.etc_dir / "hosts"

    @property
    def seed_cib(self) -> Path:
        return self.dir / "seed-cib.xml"

    @property
    def shadow_file(self) -> Path:
        """The nodes' /etc/shadow: the host's, with a lab-only hacluster password."""
        return self.etc_dir / "shadow"

    @property
    def ocf_root(self) -> Path:
        """The lab's own OCF tree: haflow's agents as the checkout that started the lab
        has them, bound over the nodes' /usr/lib/ocf/{resource.d,lib}/haflow."""
        return self.dir / "ocf"

    @property
    def password_file(self) -> Path:
        """hacluster's password inside the lab, for pcs host auth."""
        return self.dir / "hacluster-password"


def node_names(count: int) -> list[str]:
    return [f"node{i}" for i in range(1, count + 1)]


def node_index(node: str) -> int:
    return int(node.removeprefix("node"))


def node_address(node: str) -> str:
    return f"{SUBNET_PREFIX}.{10 + node_index(node)}"


def bridge_port(node: str) -> str:
    """Name of the node's link end on the bridge side (IFNAMSIZ allows 15 chars)."""
    return f"port-{node}"
