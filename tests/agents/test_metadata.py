"""Every agent's meta-data is valid OCF 1.1 (pcs's schema) and valid against ra-api-1.dtd."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from haflow.agents.framework import Agent
from haflow.agents.params import BOOLEAN, INTEGER, SELECT, Param
from haflow.agents.registry import AGENTS, agent_class, meta_data

pytestmark = pytest.mark.tier0

PCS_OCF_11 = Path("/usr/share/pcs/data/ocf-1.1.rng")
RA_DTD_DIR = Path("/usr/share/resource-agents")


def validate_rng(xml: str) -> None:
    schema = etree.RelaxNG(etree.parse(str(PCS_OCF_11)))
    doc = etree.fromstring(xml.encode())
    assert schema.validate(doc), schema.error_log


def validate_dtd(xml: str) -> None:
    """As ocf-tester does it: xmllint --valid in the DTD's directory."""
    done = subprocess.run(["xmllint", "--noout", "--valid", "-"], input=xml, text=True,
                          capture_output=True, cwd=RA_DTD_DIR)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_meta_data_is_valid_ocf_1_1_and_dtd(name: str) -> None:
    xml = meta_data(name)
    validate_rng(xml)
    validate_dtd(xml)
    doc = etree.fromstring(xml.encode())
    assert doc.findtext("version") == "1.1"
    assert doc.get("name") == name
    declared = {p.name for p in agent_class(name).all_params()}
    assert {p.get("name") for p in doc.iter("parameter")} == declared
    # the step contract's own parameters are on every haflow agent that runs steps (the
    # service's api and keeper run haflow processes, not steps)
    from haflow.agents.step import StepAgent

    if issubclass(agent_class(name), StepAgent):
        assert {"workflow", "step", "submission"} <= declared
    else:
        assert name in ("api", "keeper")


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_meta_data_action_prints_the_same(name: str) -> None:
    module = AGENTS[name].partition(":")[0]
    done = subprocess.run([sys.executable, "-m", module, "meta-data"], capture_output=True,
                          text=True, check=True)
    assert done.stdout == meta_data(name)


class Everything(Agent):
    """An agent using every OCF 1.1 parameter feature the framework offers."""

    name = "everything"
    shortdesc = "all features"
    longdesc = "An agent <with> characters & quotes \" to escape"
    params = (
        Param("host", shortdesc="host", required=True, unique_group="address"),
        Param("port", INTEGER, shortdesc="port", default=80, unique_group="address"),
        Param("verbose", BOOLEAN, shortdesc="verbose", default=False, reloadable=True),
        Param("mode", SELECT, shortdesc="mode", choices=("fast", "safe"), default="safe"),
        Param("old", shortdesc="old", deprecated=True, replaced_with="host"),
    )

    def start(self) -> int:
        return 0

    def stop(self) -> int:
        return 0

    def monitor(self) -> int:
        return 7

    def reload_agent(self) -> int:
        return 0


def test_every_ocf_1_1_feature_is_valid_for_pcs() -> None:
    xml = Everything.meta_data()
    validate_rng(xml)
    doc = etree.fromstring(xml.encode())
    params = {p.get("name"): p for p in doc.iter("parameter")}
    assert params["host"].get("unique-group") == "address"
    assert params["host"].get("required") == "1"
    assert params["verbose"].get("reloadable") == "1"
    assert params["verbose"].find("content").get("default") == "false"
    assert [o.get("value") for o in params["mode"].iter("option")] == ["fast", "safe"]
    assert params["old"].find("deprecated/replaced-with").get("name") == "host"
    actions = {a.get("name") for a in doc.iter("action")}
    assert actions == {"start", "stop", "monitor", "reload-agent", "validate-all", "meta-data"}
    assert doc.findtext("longdesc") == Everything.longdesc


def test_the_step_defaults_name_exactly_haflows_step_agents() -> None:
    """The shared step defaults' rule (meta.STEP_AGENTS) lists every agent that runs a
    step and nothing else: a step agent left out would lose its retries, a daemon or
    the root put in would stop being retried in place."""
    from haflow.agents.step import StepAgent
    from haflow.agents.workflow_agent import WorkflowAgent
    from haflow.encoding.meta import STEP_AGENTS

    steps = {name for name in AGENTS if issubclass(agent_class(name), StepAgent)
             and not issubclass(agent_class(name), WorkflowAgent)}
    assert set(STEP_AGENTS) == steps
