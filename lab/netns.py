"""The lab network: a bridge in a namespace of its own, one veth per node.

Partitions move nodes' bridge ports onto island bridges: nodes on the same
island still see each other, nothing crosses between islands, and no process
is touched.
"""

from __future__ import annotations

import subprocess

from haflow.lab.layout import SUBNET_BITS, LabLayout, bridge_port, node_address

MAIN_BRIDGE = "br0"


def ip(
    *args: str, netns: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    argv = ["ip"] + (["-n", netns] if netns else []) + list(args)
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def list_netns() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def create_bridge(layout: LabLayout) -> None:
    ns = layout.bridge_netns
    ip("netns", "add", ns)
    ip("link", "set", "lo", "up", netns=ns)
    ip("link", "add", MAIN_BRIDGE, "type", "bridge", "forward_delay", "0", netns=ns)
    ip("link", "set", MAIN_BRIDGE, "up", netns=ns)


def create_node_link(layout: LabLayout, node: str) -> None:
    ns = layout.netns(node)
    ip("netns", "add", ns)
    port = bridge_port(node)
    ip("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns,
       netns=layout.bridge_netns)
    ip("link", "set", port, "master", MAIN_BRIDGE, "up", netns=layout.bridge_netns)
    ip("link", "set", "lo", "up", netns=ns)
    ip("addr", "add", f"{node_address(node)}/{SUBNET_BITS}", "dev", "eth0", netns=ns)
    ip("link", "set", "eth0", "up", netns=ns)


def delete_netns(name: str) -> None:
    # deleting a namespace deletes the veth ends in it, and so their peers
    ip("netns", "delete", name, check=False)


def island_of(layout: LabLayout, node: str) -> str:
    """The bridge the node's port is attached to (``br0`` when not partitioned)."""
    out = ip("-o", "link", "show", bridge_port(node), netns=layout.bridge_netns, check=False)
    fields = out.stdout.split()
    return fields[fields.index("master") + 1] if "master" in fields else ""


def islands(layout: LabLayout) -> list[str]:
    out = ip("-o", "link", "show", "type", "bridge", netns=layout.bridge_netns, check=False)
    names = [line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines()]
    return sorted(n for n in names if n.startswith("island"))


def partition(layout: LabLayout, nodes: list[str]) -> str:
    """Move ``nodes`` onto a new island; returns the island's bridge name."""
    existing = islands(layout)
    number = 1
    while f"island{number}" in existing:
        number += 1
    island = f"island{number}"
    ns = layout.bridge_netns
    ip("link", "add", island, "type", "bridge", "forward_delay", "0", netns=ns)
    ip("link", "set", island, "up", netns=ns)
    for node in nodes:
        ip("link", "set", bridge_port(node), "master", island, netns=ns)
    return island


def heal(layout: LabLayout, nodes: list[str]) -> None:
    ns = layout.bridge_netns
    for node in nodes:
        ip("link", "set", bridge_port(node), "master", MAIN_BRIDGE, netns=ns, check=False)
    for island in islands(layout):
        ip("link", "delete", island, netns=ns, check=False)


def set_link(layout: LabLayout, node: str, up: bool) -> None:
    """Take the node's link down or up on the bridge side (a pulled cable)."""
    ip("link", "set", bridge_port(node), "up" if up else "down", netns=layout.bridge_netns)
