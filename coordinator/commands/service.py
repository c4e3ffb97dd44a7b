"""``service enable|disable``: the API as Pacemaker resources, in one CIB change.

``ocf:haflow:api`` (``haflow serve`` on ``ADDRESS:PORT``) and an ``ocf:heartbeat:IPaddr2``
holding ADDRESS, the API colocated with the address and started after it: when the
node running them fails, both start on a survivor and clients find the API at the same
address. Every id comes from haflow.encoding.service.
"""

from __future__ import annotations

import ipaddress
import shlex
import sys
from copy import deepcopy
from typing import TYPE_CHECKING

from lxml import etree

from haflow.coordinator.cluster import live_view, livecib
from haflow.coordinator.cluster.quorum import require_quorum
from haflow.coordinator.codes import Code
from haflow.coordinator.reports import error
from haflow.encoding import ids
from haflow.encoding.service import (
    API_AGENT,
    API_GROUP_COLOCATION,
    API_GROUP_ORDER,
    API_RESOURCE,
    VIP_RESOURCE,
)

if TYPE_CHECKING:
    from haflow.coordinator.cluster.env import Env

DEFAULT_PORT = 8443
SERVICE_IDS = (API_RESOURCE, VIP_RESOURCE, API_GROUP_COLOCATION, API_GROUP_ORDER)


def parse_vip(text: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    """``ADDRESS/PREFIX``: the API's address and its network's prefix length."""
    if "/" not in text:
        raise error(Code.BAD_ADDRESS, f"--vip {text!r}: write ADDRESS/PREFIX "
                    "(e.g. 10.99.0.100/24)")
    try:
        return ipaddress.ip_interface(text)
    except ValueError as exc:
        raise error(Code.BAD_ADDRESS, f"--vip {text!r}: {exc}") from None


def haflow_command() -> str:
    """How the nodes run haflow: this interpreter, where haflow is installed (the same path
    on every node, as the agents' launchers assume)."""
    return shlex.join([sys.executable, "-m", "haflow.coordinator.cli"])


def _nvpairs(parent: etree._Element, set_tag: str, set_id: str, pairs: dict[str, str]) -> None:
    attrs = etree.SubElement(parent, set_tag, id=set_id)
    for name, value in pairs.items():
        etree.SubElement(attrs, "nvpair", id=ids.nvpair_id(set_id, name), name=name,
                         value=value)


def _primitive(rid: str, provider: str, kind: str, params: dict[str, str],
               timeouts: dict[str, str]) -> etree._Element:
    made = etree.Element("primitive", id=rid, provider=provider, type=kind)
    made.set("class", "ocf")
    _nvpairs(made, "instance_attributes", ids.params_set_id(rid), params)
    _nvpairs(made, "meta_attributes", ids.meta_set_id(rid), {"resource-stickiness": "100"})
    ops = etree.SubElement(made, "operations")
    for name, timeout in timeouts.items():
        interval = "10s" if name == "monitor" else "0s"
        etree.SubElement(ops, "op", id=f"{rid}.{name}-{interval}", name=name,
                         interval=interval, timeout=timeout)
    return made


def service_elements(vip: str, port: int, haflow: str | None = None,
                     tls: tuple[str, str] | None = None) -> list[etree._Element]:
    """The two primitives and the two constraints ``enable`` adds."""
    address = parse_vip(vip)
    if not 0 < port < 65536:
        raise error(Code.BAD_ADDRESS, f"--port {port}: not a TCP port")
    host = str(address.ip)
    listen = f"[{host}]:{port}" if address.version == 6 else f"{host}:{port}"
    api_params = {"listen": listen, "haflow": haflow or haflow_command()}
    if tls is not None:
        api_params.update(tls_cert=tls[0], tls_key=tls[1])
    ip = _primitive(VIP_RESOURCE, "heartbeat", "IPaddr2",
                    {"ip": host, "cidr_netmask": str(address.network.prefixlen)},
                    {"monitor": "20s", "start": "20s", "stop": "20s"})
    api = _primitive(API_RESOURCE, ids.PROVIDER, API_AGENT, api_params,
                     {"monitor": "20s", "start": "60s", "stop": "30s"})
    colocation = etree.Element("rsc_colocation", id=API_GROUP_COLOCATION, rsc=API_RESOURCE)
    colocation.set("with-rsc", VIP_RESOURCE)
    colocation.set("score", "INFINITY")
    order = etree.Element("rsc_order", id=API_GROUP_ORDER, first=VIP_RESOURCE,
                          then=API_RESOURCE, kind="Mandatory")
    return [ip, api, colocation, order]


def present(cib: etree._Element) -> list[etree._Element]:
    """The service's elements in ``cib``."""
    return [e for e in cib.iterfind("configuration//*[@id]") if e.get("id") in SERVICE_IDS
            and e.tag in ("primitive", "rsc_colocation", "rsc_order")]


def enable(env: Env, vip: str, port: int = DEFAULT_PORT, haflow: str | None = None,
           tls: tuple[str, str] | None = None) -> list[str]:
    """Add the API and its address (one change); the ids added."""
    made = service_elements(vip, port, haflow, tls)
    require_quorum(env, "enable the service")
    old = live_view.query(env)
    if present(old):
        raise error(Code.SERVICE_ENABLED, "the service is enabled already ('haflow service "
                    "disable' first to change its address)")
    new = deepcopy(old)
    resources = new.find("configuration/resources")
    constraints = new.find("configuration/constraints")
    assert resources is not None and constraints is not None
    resources.extend(made[:2])
    constraints.extend(made[2:])
    livecib.push(env, old, new, "enabling the service")
    return [e.get("id", "") for e in made]


def disable(env: Env) -> list[str]:
    """Remove the API and its address (one change); the ids removed."""
    require_quorum(env, "disable the service")
    old = live_view.query(env)
    new = deepcopy(old)
    found = present(new)
    if not found:
        raise error(Code.SERVICE_NOT_ENABLED, "the service is not enabled")
    for element in found:
        parent = element.getparent()
        assert parent is not None
        parent.remove(element)
    livecib.push(env, old, new, "disabling the service")
    return [e.get("id", "") for e in found]
