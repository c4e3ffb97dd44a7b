"""The agents haflow ships, by name: ``ocf:haflow:NAME``.

Stdlib only; each agent's module is imported only when it is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from haflow.agents.framework import Agent

# agent name -> "module:class"
AGENTS: dict[str, str] = {
    "exec": "haflow.agents.exec_agent:ExecAgent",
    "http": "haflow.agents.http_agent:HttpAgent",
    "workflow": "haflow.agents.workflow_agent:WorkflowAgent",
    "test": "haflow.agents.test_agent:TestAgent",
    "api": "haflow.agents.api_agent:ApiAgent",
    "keeper": "haflow.agents.keeper_agent:KeeperAgent",
}


def agent_class(name: str) -> type[Agent]:
    try:
        target = AGENTS[name]
    except KeyError:
        known = ", ".join(sorted(AGENTS))
        raise KeyError(f"no haflow agent named {name!r} (known: {known})") from None
    module, _, cls = target.partition(":")
    found: type[Agent] = getattr(importlib.import_module(module), cls)
    return found


def meta_data(name: str) -> str:
    """The OCF meta-data XML of haflow agent ``name`` (what ``meta-data`` prints)."""
    return agent_class(name).meta_data()
