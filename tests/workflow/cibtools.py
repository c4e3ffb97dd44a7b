"""Real Pacemaker tools on CIB files: a cluster skeleton and crm_verify."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from lxml import etree

from haflow.coordinator.workflow.compiler import CompiledWorkflow, merge_into


def require(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (pacemaker-cli-utils)")


def skeleton(nodes: int = 3) -> etree._Element:
    """An empty CIB of this Pacemaker (``cibadmin --empty``), ``nodes`` nodes, no fencing."""
    require("cibadmin")
    out = subprocess.run(["cibadmin", "--empty"], capture_output=True, check=True).stdout
    cib = etree.fromstring(out)
    config = cib.find("configuration")
    assert config is not None
    props = etree.SubElement(
        config.find("crm_config"), "cluster_property_set", id="cib-bootstrap-options"
    )
    etree.SubElement(
        props,
        "nvpair",
        id="cib-bootstrap-options-stonith-enabled",
        name="stonith-enabled",
        value="false",
    )
    holder = config.find("nodes")
    for number in range(1, nodes + 1):
        node = etree.SubElement(holder, "node", id=str(number), uname=f"node{number}")
        attrs = etree.SubElement(node, "instance_attributes", id=f"node{number}-attrs")
        etree.SubElement(
            attrs,
            "nvpair",
            id=f"node{number}-site",
            name="site",
            value="east" if number % 2 else "west",
        )
    return cib


def crm_verify(cib: etree._Element) -> subprocess.CompletedProcess[str]:
    """``crm_verify`` on the CIB (returncode 0: valid, no errors)."""
    require("crm_verify")
    return subprocess.run(
        ["crm_verify", "--xml-pipe", "-V"],
        input=etree.tostring(cib).decode(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def verify_compiled(*compiled: CompiledWorkflow, nodes: int = 3) -> None:
    """Assert that the workflows, added to a skeleton cluster, pass crm_verify."""
    cib = skeleton(nodes)
    for one in compiled:
        cib = merge_into(cib, one)
    result = crm_verify(cib)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr
