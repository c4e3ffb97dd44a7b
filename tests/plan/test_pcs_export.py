"""export --pcs: the script, applied to a CIB file with the real pcs, makes the same config.

tier0: pcs -f edits a file and needs no cluster. The lab test (test_lab_plan.py)
applies the same kind of script to a live cluster.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from haflow.coordinator.cluster import simulate
from haflow.coordinator.workflow import pcs_export
from tests.plan.cibnorm import snapshot

pytestmark = pytest.mark.tier0

FRAGMENT = """<fragment>
<resources>
  <clone id="W.root.clone">
    <meta_attributes id="W.root.clone-meta">
      <nvpair id="W.root.clone-meta-il" name="interleave" value="true"/>
    </meta_attributes>
    <primitive id="W.root" class="ocf" provider="pacemaker" type="Dummy">
      <meta_attributes id="W.root-meta">
        <nvpair id="W.root-meta-tr" name="target-role" value="Started"/>
      </meta_attributes>
    </primitive>
  </clone>
  <primitive id="W.a" class="ocf" provider="pacemaker" type="Dummy">
    <instance_attributes id="W.a-params">
      <nvpair id="W.a-params-fake" name="fake" value="it's &quot;quoted&quot; $HOME"/>
    </instance_attributes>
    <meta_attributes id="W.a-meta">
      <nvpair id="W.a-meta-mt" name="migration-threshold" value="3"/>
    </meta_attributes>
    <operations>
      <op id="W.a-start" name="start" interval="0" timeout="60s"/>
      <op id="W.a-monitor" name="monitor" interval="30s" timeout="60000ms"/>
    </operations>
  </primitive>
  <primitive id="W.b" class="ocf" provider="pacemaker" type="Dummy"/>
</resources>
<constraints>
  <rsc_order id="W.order" kind="Mandatory">
    <resource_set id="W.order-0"><resource_ref id="W.root.clone"/></resource_set>
    <resource_set id="W.order-1" sequential="false">
      <resource_ref id="W.a"/><resource_ref id="W.b"/>
    </resource_set>
  </rsc_order>
  <rsc_order id="W.b-after-a" first="W.a" then="W.b"/>
  <rsc_colocation id="W.b-with-a" rsc="W.b" with-rsc="W.a" score="INFINITY"/>
  <rsc_location id="W.a-on-node1" rsc="W.a" node="node1" score="100"/>
  <rsc_location id="W.b-place" rsc="W.b">
    <rule id="W.b-place-rule" score="-INFINITY" boolean-op="or">
      <expression id="W.b-place-0" attribute="disk" operation="ne" value="ssd" type="string"/>
      <expression id="W.b-place-1" attribute="disk" operation="not_defined"/>
      <expression id="W.b-place-2" attribute="#uname" operation="eq" value="node3"/>
    </rule>
  </rsc_location>
  <rsc_location id="W.discovery" resource-discovery="never">
    <resource_set id="W.discovery-set"><resource_ref id="W.b"/></resource_set>
    <rule id="W.discovery-rule" score="0">
      <expression id="W.discovery-e" attribute="#uname" operation="defined"/>
    </rule>
  </rsc_location>
</constraints>
<tags><tag id="W"><obj_ref id="W.root.clone"/><obj_ref id="W.a"/><obj_ref id="W.b"/></tag></tags>
</fragment>"""


def direct(base: etree._Element, fragment: etree._Element) -> etree._Element:
    """What haflow writes: the elements as they are."""
    cib = copy.deepcopy(base)
    config = cib.find("configuration")
    assert config is not None
    for section in fragment:
        target = config.find(section.tag)
        if target is None:
            target = etree.SubElement(config, section.tag)
        target.extend(copy.deepcopy(list(section)))
    return cib


def through_pcs(base: etree._Element, script: str, tmp: Path) -> etree._Element:
    cib_file, script_file = tmp / "cib.xml", tmp / "apply.sh"
    cib_file.write_bytes(etree.tostring(base))
    script_file.write_text(script)
    result = subprocess.run(["sh", str(script_file), str(cib_file)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    return etree.parse(str(cib_file)).getroot()


def test_the_pcs_script_makes_the_same_configuration(tmp_path: Path) -> None:
    if shutil.which("pcs") is None:
        pytest.fail("pcs is not installed (Debian package pcs)")
    fragment = etree.fromstring(FRAGMENT)
    text = pcs_export.script(*(list(fragment.find(s)) for s in  # type: ignore[arg-type]
                               ("resources", "constraints", "tags")), title="W")
    base = simulate.skeleton(1)
    expected = snapshot(direct(base, fragment), "W")
    assert [len(expected[s]) for s in ("resources", "constraints", "tags")] == [3, 6, 1]
    assert snapshot(through_pcs(base, text, tmp_path), "W") == expected


def test_the_script_quotes_values_and_pushes_one_diff() -> None:
    fragment = etree.fromstring(FRAGMENT)
    resources = list(fragment.find("resources"))  # type: ignore[arg-type]
    text = pcs_export.script(resources, [], [], title="W")
    assert "'fake=it'\"'\"'s \"quoted\" $HOME'" in text  # shlex: no expansion, no breakage
    assert 'pcs cluster cib-push "$cib" diff-against="$orig"' in text
    assert text.count("resource create") == 3
    # W.b and the root have no monitor: pcs would add one, the script deletes it
    assert 'resource op delete W.b monitor' in text


PLACED = """name: placed
steps:
  a:
    agent: ocf:pacemaker:Dummy
    nodes: [node1, node2]
  b:
    agent: ocf:pacemaker:Dummy
    after: [a]
    with: [a]
    avoid: [node3]
  c:
    agent: test
    apart: [a]
    rules:
      - attribute: disk
        op: eq
        value: ssd
  d:
    agent: ocf:pacemaker:Dummy
    after: [b, c]
    failure_policy: hold
    interval: 0
"""


def test_a_compiled_workflow_round_trips_through_pcs(tmp_path: Path) -> None:
    from haflow.coordinator.workflow.compiler import compile_workflow, merge_into
    from haflow.coordinator.workflow.loader import loads

    compiled = compile_workflow(loads(PLACED, "placed.yaml"))
    text = pcs_export.script(compiled.resources, compiled.constraints, compiled.tags, "placed")
    base = simulate.skeleton(3)
    expected = snapshot(merge_into(base, compiled), "placed")
    assert snapshot(through_pcs(base, text, tmp_path), "placed") == expected
    # everything is a pcs command but the discovery constraint (a rule over a resource
    # set) and the last haflow step, c (its start op's meta attribute haflow-last)
    assert text.count("cibadmin --create") == 2
    assert "cibadmin --create -o resources --xml-text '<primitive id=\"placed.c\"" in text


@pytest.mark.parametrize("name", ["approval", "approval-fan-out"])
def test_approval_gates_round_trip_through_pcs(name: str, tmp_path: Path) -> None:
    """pcs takes only booth's ticket names (letters, digits, '-'), not haflow's
    ``WF.root.approval.STEP``: the script creates the rsc_ticket as XML."""
    from haflow.coordinator.workflow.compiler import compile_workflow, merge_into
    from haflow.coordinator.workflow.loader import load

    golden = Path(__file__).parents[1] / "workflow" / "golden" / f"{name}.yaml"
    compiled = compile_workflow(load(golden))
    text = pcs_export.script(compiled.resources, compiled.constraints, compiled.tags, name)
    assert "cibadmin --create -o constraints --xml-text '<rsc_ticket" in text
    base = simulate.skeleton(3)
    expected = snapshot(merge_into(base, compiled), name)
    assert snapshot(through_pcs(base, text, tmp_path), name) == expected
