"""The lab's nodes share one load average: its seed CIB raises Pacemaker's load-threshold."""

from __future__ import annotations

import os

import pytest
from lxml import etree

from haflow.cib_templates import render
from haflow.lab import control
from haflow.lab.layout import LabLayout


def threshold_in(cib: etree._Element) -> str | None:
    found = cib.find(".//crm_config/cluster_property_set/nvpair[@name='load-threshold']")
    return None if found is None else found.get("value")


@pytest.mark.tier0
def test_the_threshold_is_the_default_for_each_nodes_share_of_the_host() -> None:
    # Pacemaker throttles at a load average over threshold x cores (one core counts 0.6)
    assert control.load_threshold(cores=2, nodes=3) == "240%"
    assert control.load_threshold(cores=16, nodes=3) == "240%"
    assert control.load_threshold(cores=2, nodes=1) == "80%"  # a lab of one: the default
    assert control.load_threshold(cores=1, nodes=3) == "400%"
    seed = render("lab-bootstrap.xml", cluster_name="c", dc_deadtime="2s", lab_dir="/x",
                  fence_hosts="node1 node2 node3",
                  load_threshold=control.load_threshold(os.cpu_count() or 1, 3))
    assert threshold_in(etree.fromstring(seed.encode())) == \
        control.load_threshold(os.cpu_count() or 1, 3)


@pytest.mark.tier2
def test_the_labs_cib_has_the_threshold_of_its_node_count(lab3: LabLayout) -> None:
    wanted = control.load_threshold(os.cpu_count() or 1, 3)
    for node in control.nodes_of(lab3):
        query = control.run_on(lab3, node, ["cibadmin", "--query", "--scope", "configuration"])
        assert query.returncode == 0, query.stderr
        assert threshold_in(etree.fromstring(query.stdout.encode())) == wanted
