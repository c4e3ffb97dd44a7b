"""Agent meta-data: which parameters an agent takes and which it requires.

haflow's own agents answer from the registry (no installation needed);
any other ``ocf:PROVIDER:TYPE`` is asked through ``crm_resource
--show-metadata``, as Pacemaker itself would. Answers are cached per process:
a workflow of 5,000 steps uses a handful of agents.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import cache

from lxml import etree

from haflow.coordinator.workflow.model import AgentSpec


@dataclass(frozen=True)
class AgentInfo:
    """What a workflow needs to know about an agent; ``error`` set when it is unknown."""

    spec: str
    params: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()
    error: str | None = None
    # False when the agent exists but its parameters could not be read
    checked: bool = True


def parse_meta_data(spec: str, xml: str | bytes) -> AgentInfo:
    """Parameters declared in OCF meta-data XML."""
    data = xml.encode() if isinstance(xml, str) else xml
    try:
        root = etree.fromstring(
            data, parser=etree.XMLParser(resolve_entities=False, no_network=True)
        )
    except etree.XMLSyntaxError as err:
        return AgentInfo(spec, error=f"its meta-data is not XML: {err}")
    params: set[str] = set()
    required: set[str] = set()
    for param in root.iterfind("parameters/parameter"):
        name = param.get("name")
        if not name:
            continue
        params.add(name)
        if param.get("required") in ("1", "true", "yes"):
            required.add(name)
    return AgentInfo(spec, frozenset(params), frozenset(required))


@cache
def agent_info(spec: AgentSpec) -> AgentInfo:
    if spec.is_haflow:
        return _haflow_info(spec)
    return _foreign_info(spec)


def _haflow_info(spec: AgentSpec) -> AgentInfo:
    from haflow.agents import registry

    if spec.type not in registry.AGENTS:
        known = ", ".join(sorted(registry.AGENTS))
        return AgentInfo(str(spec), error=f"no haflow agent named '{spec.type}' (known: {known})")
    try:
        xml = registry.meta_data(spec.type)
    except Exception as err:  # an agent's bug must not crash validation
        # the agent is registered but its code cannot answer here: the name is
        # right, its parameters cannot be checked (a warning, not an error)
        return AgentInfo(
            str(spec), checked=False, error=f"meta-data unavailable: {type(err).__name__}: {err}"
        )
    return parse_meta_data(str(spec), xml)


def _foreign_info(spec: AgentSpec) -> AgentInfo:
    if AgentSpec.parse(str(spec)) != spec:
        # crm_resource would run whatever file the name leads to (`ocf:../../bin:x`)
        return AgentInfo(str(spec), error="not an agent name crm_resource can be asked about")
    try:
        result = subprocess.run(
            ["crm_resource", "--show-metadata", str(spec)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except FileNotFoundError:
        return AgentInfo(
            str(spec),
            checked=False,
            error="crm_resource is not installed: cannot read its meta-data",
        )
    except subprocess.TimeoutExpired:
        return AgentInfo(str(spec), checked=False, error="crm_resource timed out")
    if result.returncode != 0:
        return AgentInfo(str(spec), error="no such agent installed on this machine")
    return parse_meta_data(str(spec), result.stdout)
