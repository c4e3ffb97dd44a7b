"""What one node sees of the cluster, read from ``crm_mon --output-as=xml``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ClusterView:
    dc: str | None
    quorate: bool
    online: list[str]
    offline: list[str]
    unclean: list[str]
    resources: dict[str, list[str]] = field(default_factory=dict)  # id -> nodes active on
    roles: dict[str, str] = field(default_factory=dict)  # id -> role


def parse_crm_mon(xml_text: str) -> ClusterView:
    root = ET.fromstring(xml_text)
    dc_el = root.find("summary/current_dc")
    present = dc_el is not None and dc_el.get("present") == "true"
    dc = dc_el.get("name") if present and dc_el is not None else None
    quorate = present and dc_el is not None and dc_el.get("with_quorum") == "true"
    online: list[str] = []
    offline: list[str] = []
    unclean: list[str] = []
    for node in root.iterfind("nodes/node"):
        name = node.get("name", "")
        # a node that is still joining shows online="true" pending="true": not yet usable
        joined = node.get("online") == "true" and node.get("pending") != "true"
        (online if joined else offline).append(name)
        if node.get("unclean") == "true":
            unclean.append(name)
    resources: dict[str, list[str]] = {}
    roles: dict[str, str] = {}
    for res in root.iter("resource"):
        rid = res.get("id", "")
        resources[rid] = [n.get("name", "") for n in res.iterfind("node")]
        roles[rid] = res.get("role", "")
    return ClusterView(dc, quorate, online, offline, unclean, resources, roles)
