"""OCF 1.1 meta-data XML generated from an agent class (only on the meta-data path)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from haflow.agents.params import BOOLEAN, SELECT
from haflow.agents.xmltext import escape, quoteattr

if TYPE_CHECKING:
    from haflow.agents.framework import Agent
    from haflow.agents.params import Param


# OCF 1.1 adds attributes to the OCF 1.0 DTD (ra-api-1.dtd, what ocf-tester checks
# against); the internal subset declares them, the standard way to extend a DTD.
# Declarations in the internal subset come first and so take precedence: the
# action name becomes free text, since OCF 1.1 adds reload-agent to the list.
DOCTYPE = """<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd" [
<!ATTLIST parameter unique-group CDATA #IMPLIED reloadable (1|0) "0">
<!ATTLIST action name CDATA #REQUIRED>
]>
"""


def _text(tag: str, text: str, indent: str) -> str:
    return f'{indent}<{tag} lang="en">{escape(text)}</{tag}>\n'


def _default(param: Param) -> str:
    if param.default is None:
        return ""
    value = param.default
    if param.type == BOOLEAN:
        value = "true" if value else "false"
    return f" default={quoteattr(str(value))}"


def _parameter(param: Param) -> str:
    attrs = f"name={quoteattr(param.name)} required=\"{int(param.required)}\""
    if param.unique_group:
        attrs += f" unique-group={quoteattr(param.unique_group)}"
    if param.reloadable:
        attrs += ' reloadable="1"'
    out = f"    <parameter {attrs}>\n"
    out += _text("longdesc", param.longdesc, "      ")
    out += _text("shortdesc", param.shortdesc, "      ")
    if param.deprecated:
        out += "      <deprecated>\n"
        if param.replaced_with:
            out += f"        <replaced-with name={quoteattr(param.replaced_with)}/>\n"
        out += "      </deprecated>\n"
    if param.type == SELECT:
        out += f'      <content type="select"{_default(param)}>\n'
        out += "".join(f"        <option value={quoteattr(c)}/>\n" for c in param.choices)
        out += "      </content>\n"
    else:
        out += f"      <content type={quoteattr(param.type)}{_default(param)}/>\n"
    return out + "    </parameter>\n"


def generate(agent: type[Agent]) -> str:
    out = '<?xml version="1.0"?>\n'
    out += DOCTYPE
    out += f"<resource-agent name={quoteattr(agent.name)} version={quoteattr(agent.version)}>\n"
    out += "  <version>1.1</version>\n"
    out += _text("longdesc", agent.longdesc, "  ")
    out += _text("shortdesc", agent.shortdesc, "  ")
    out += "  <parameters>\n" + "".join(_parameter(p) for p in agent.all_params())
    out += "  </parameters>\n"
    out += "  <actions>\n"
    for action in agent.advertised_actions():
        attrs = f"name={quoteattr(action.name)} timeout=\"{action.timeout}s\""
        if action.interval is not None:
            attrs += f' interval="{action.interval}s"'
        if action.depth is not None:
            attrs += f' depth="{action.depth}"'
        if action.role:
            attrs += f" role={quoteattr(action.role)}"
        out += f"    <action {attrs}/>\n"
    return out + "  </actions>\n</resource-agent>\n"
