"""Inputs and instances: ``inputs:``, ``${inputs.NAME}``, ``--input`` read as YAML, ``--name``."""

from __future__ import annotations

import pytest

from haflow.coordinator.codes import Code
from haflow.coordinator.commands.files import parse_inputs
from haflow.coordinator.reports import HaflowError
from haflow.coordinator.workflow.inputs import RawInput
from haflow.coordinator.workflow.loader import loads

pytestmark = pytest.mark.tier0

FILE = """\
name: tenant
inputs:
  size: {type: integer, default: 2}
  region: {type: string, description: where the VM goes}
  hosts: {type: list, default: [a, b]}
  debug: {type: boolean, default: false}
steps:
  vm:
    agent: test
    params:
      output: "vm-${inputs.region}-${inputs.size} ${inputs.hosts} ${inputs.debug}"
      state_dir: "$${inputs.region} ${secrets.TOKEN}"
"""


def _codes(err: pytest.ExceptionInfo[HaflowError]) -> list[tuple[Code, int | None, int | None]]:
    return [(r.code, r.line, r.column) for r in err.value.reports]


def test_inputs_are_substituted_as_text_with_defaults() -> None:
    wf = loads(FILE, "t.yaml", inputs={"region": "eu", "size": 4})
    assert wf.steps["vm"].params["output"] == 'vm-eu-4 ["a", "b"] false'


def test_secrets_and_escapes_pass_through_untouched() -> None:
    text = FILE
    wf = loads(text, "t.yaml", inputs={"region": "eu"})
    assert wf.steps["vm"].params["state_dir"] == "$${inputs.region} ${secrets.TOKEN}"


def test_an_input_value_is_data_never_a_reference() -> None:
    text = FILE
    wf = loads(text, "t.yaml", inputs={"region": "${secrets.ROOT}"})
    assert wf.steps["vm"].params["output"].startswith("vm-$${secrets.ROOT}-2")


def test_name_makes_an_instance() -> None:
    text = FILE
    assert loads(text, "t.yaml", inputs={"region": "eu"}, name="tenant-b").name == "tenant-b"


def test_command_line_values_are_yaml_except_for_string_inputs() -> None:
    given = parse_inputs(["hosts=[x, y, z]", "size=3", "region=1.10", "debug=true"])
    assert all(isinstance(v, RawInput) for v in given.values())
    text = FILE
    wf = loads(text, "t.yaml", inputs=given)
    assert wf.steps["vm"].params["output"] == 'vm-1.10-3 ["x", "y", "z"] true'


def test_missing_unknown_and_wrongly_typed_inputs_are_located() -> None:
    with pytest.raises(HaflowError) as err:
        loads(FILE, "t.yaml", inputs={"size": "big", "colour": "red"})
    assert _codes(err) == [(Code.INPUT_UNKNOWN, 2, 1), (Code.INPUT_TYPE, 3, 3),
                           (Code.INPUT_MISSING, 4, 3)]
    assert "colour" in err.value.reports[0].message


def test_bad_assignments_are_usage_errors() -> None:
    with pytest.raises(HaflowError) as err:
        parse_inputs(["size"])
    assert err.value.reports[0].code == Code.INPUT_BAD_VALUE
    with pytest.raises(HaflowError):
        parse_inputs(["size=1", "size=2"])
