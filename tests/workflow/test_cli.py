"""``haflow validate`` and ``haflow compile`` through the real CLI entry point."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from haflow.coordinator.cli.main import COMMANDS, build_parser, main
from haflow.coordinator.workflow.compiler import compile_workflow
from haflow.coordinator.workflow.loader import load

pytestmark = pytest.mark.tier0

ROOT = Path(__file__).parents[2]
GOLDEN = Path(__file__).parent / "golden"
INVALID = Path(__file__).parent / "invalid"
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.yaml"))


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(GOLDEN / "diamond.yaml"), str(GOLDEN / "linear.yaml")]) == 0
    assert capsys.readouterr().out.count(": ok") == 2


def test_validate_reports_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    path = INVALID / "many-errors.yaml"
    assert main(["validate", str(path)]) == 3
    out = capsys.readouterr().out
    assert f"{path}:5:13: error: step 'a':" in out
    assert "[SELF_REFERENCE]" in out


def test_validate_reports_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = GOLDEN / "single.yaml", INVALID / "cycle-three.yaml"
    assert main(["validate", "--output-as", "json", str(good), str(bad)]) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["files"] == {str(good): True, str(bad): False}
    assert [(r["code"], r["line"], r["column"]) for r in data["reports"]] == [("CYCLE", 6, 20)]


def test_validate_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 3
    assert "[FILE_NOT_FOUND]" in capsys.readouterr().out


def test_compile_writes_the_golden_bytes(tmp_path: Path) -> None:
    out = tmp_path / "out.xml"
    assert main(["compile", str(GOLDEN / "diamond.yaml"), "-o", str(out)]) == 0
    assert out.read_bytes() == (GOLDEN / "diamond.xml").read_bytes()


def test_compile_invalid_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compile", str(INVALID / "cycle-two.yaml")]) == 3
    assert "[CYCLE]" in capsys.readouterr().err


# the examples' required inputs, as their comments give them on the command line
EXAMPLE_INPUTS: dict[str, dict[str, object]] = {
    "rolling-deploy": {"version": "2.4.1"}, "tenant": {"tenant": "acme"}}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_documented_examples_are_valid(path: Path) -> None:
    compile_workflow(load(path, inputs=EXAMPLE_INPUTS.get(path.stem)))


def test_warnings_do_not_fail_validation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "hold.yaml"
    path.write_text("name: h\nfailure_policy: hold\nsteps:\n  a: {agent: test, retries: 3}\n")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}:4:29: warning: step 'a':" in out
    assert "[RETRIES_IGNORED]" in out
    load(path)  # warnings do not make load() fail either


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    found = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(found.choices)


# commands that plugins add (the lab's, through the haflow.cli entry points)
PLUGIN_COMMANDS = {"lab"}


def test_each_command_builds_only_its_module_and_the_map_names_every_command() -> None:
    assert _subcommands(build_parser()) == set(COMMANDS) | PLUGIN_COMMANDS
    for command in set(COMMANDS) | PLUGIN_COMMANDS:
        assert command in _subcommands(build_parser(command)), command
    assert _subcommands(build_parser("status")) == {c for c, m in COMMANDS.items()
                                                   if m == COMMANDS["status"]}
    # anything else gets every command: the top-level help and a typo's suggestions
    assert _subcommands(build_parser("--help")) == set(COMMANDS) | PLUGIN_COMMANDS


def test_an_unknown_command_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["stauts"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'stauts'" in err and "'lab'" in err and "'status'" in err
