"""The framework's OCF protocol: dispatch, exit codes, exit reasons, validation, deadlines."""

from __future__ import annotations

from pathlib import Path

import pytest

from haflow.agents import ocfcodes
from haflow.agents.ocfexit import OcfExit
from haflow.agents.params import BOOLEAN, INTEGER, SELECT, Param, parse
from tests.agents.agentrun import Sandbox, ocf_env, run_agent

pytestmark = pytest.mark.tier0

TEST = "haflow.agents.test_agent"
EXEC = "haflow.agents.exec_agent"


def test_exit_codes_cover_ocf_1_1() -> None:
    assert {int(c) for c in OcfExit} == {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 190, 191}
    assert OcfExit.DEGRADED_PROMOTED.ocf_name == "OCF_DEGRADED_PROMOTED"
    assert OcfExit.NOT_RUNNING == ocfcodes.NOT_RUNNING


def test_parse_reports_every_problem_and_types_values() -> None:
    declared = (Param("a", INTEGER, shortdesc="a", required=True),
                Param("b", BOOLEAN, shortdesc="b", default=True),
                Param("c", SELECT, shortdesc="c", choices=("x", "y")),
                Param("d", shortdesc="d", required=True),
                Param("e", INTEGER, shortdesc="e", default=3))
    values, problems = parse(declared, {"a": "x1", "b": "no", "c": "z"})
    assert values == {"b": False, "e": 3}
    assert len(problems) == 3
    assert "'a'" in problems[0] and "integer" in problems[0]
    assert "'c'" in problems[1] and "x, y" in problems[1]
    assert "'d' is required" in problems[2]


def test_parameters_read_back_as_the_compiler_quoted_them(tmp_path: Path) -> None:
    """A multi-line command reaches the agent as it was written (encoding/value.py)."""
    from haflow.encoding.value import to_cib

    box = Sandbox(tmp_path)
    made = tmp_path / "made"
    command = f"printf 'one\\ttab\\n' > {made}\necho 'two \"é\"' >> {made}\n"
    result = box.run(EXEC, "start", {"do": to_cib(command)}, "wf.e")
    assert result.rc == ocfcodes.SUCCESS, result.stderr
    assert made.read_text() == 'one\ttab\ntwo "é"\n'


def test_usage_errors(tmp_path: Path) -> None:
    env = ocf_env("t", {})
    assert run_agent(TEST, "frobnicate", env).rc == ocfcodes.ERR_UNIMPLEMENTED
    assert run_agent(TEST, "notify", env).rc == ocfcodes.ERR_UNIMPLEMENTED
    usage = run_agent(TEST, "usage", env)
    assert usage.rc == 0 and "start" in usage.stdout


def test_validate_all_names_every_bad_parameter(tmp_path: Path) -> None:
    env = ocf_env("wf.x", {"workdir": str(tmp_path / "nope"), "command_timeout": "soon",
                           "env": "not an assignment", "user": "no-such-user-xyz"})
    result = run_agent(EXEC, "validate-all", env)
    assert result.rc == ocfcodes.ERR_CONFIGURED
    for name in ("do", "workdir", "command_timeout", "env", "user"):
        assert f"'{name}'" in result.stderr, name
    assert result.exit_reason is not None and result.exit_reason.startswith("5 problems")


def test_start_with_bad_parameters_is_err_configured(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    result = box.run(TEST, "start", {"duration": "-1", "fail_start": "x"}, "wf.t")
    assert result.rc == ocfcodes.ERR_CONFIGURED
    assert "'duration'" in (result.exit_reason or "")
    assert "'fail_start'" in (result.exit_reason or "")


def test_own_deadline_stops_before_pacemakers_timeout(tmp_path: Path) -> None:
    # no wall-clock limit here (a loaded machine slows the interpreter's start, not the
    # deadline: a fresh-clone run beside another measured 3.06 s): the agent's own timer
    # fired at Pacemaker's timeout less the margin, as its exit reason says
    box = Sandbox(tmp_path)
    result = box.run(TEST, "start", {"hang": "true", "state_dir": str(tmp_path / "s")},
                     "wf.t", meta={"timeout": "3000"})
    assert result.rc == ocfcodes.ERR_GENERIC
    assert "gave up after 2.5 s, before Pacemaker's 3 s timeout" in (result.exit_reason or "")


def test_exec_command_timeout_kills_the_whole_command(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    pidfile = tmp_path / "child.pid"
    result = box.run(EXEC, "start", {"do": f"sh -c 'echo $$ > {pidfile}; sleep 60' & wait",
                                     "command_timeout": "1"}, "wf.e")
    assert result.rc == ocfcodes.ERR_GENERIC
    assert "within 1 s" in (result.exit_reason or "")
    child = int(pidfile.read_text())
    assert not Path(f"/proc/{child}").exists() or \
        "zombie" in Path(f"/proc/{child}/status").read_text().lower()


def test_failures_are_logged_to_the_detail_log(tmp_path: Path) -> None:
    logfile = tmp_path / "pacemaker.log"
    box = Sandbox(tmp_path)
    env = box.env("wf.e", {"do": "echo boom >&2; exit 3"})
    env["HA_LOGFILE"] = str(logfile)
    result = run_agent(EXEC, "start", env)
    assert result.rc == ocfcodes.ERR_GENERIC
    assert result.exit_reason == "do command exited 3: boom"
    line = logfile.read_text()
    assert "haflow-exec(wf.e)" in line and "ERROR: start: do command exited 3" in line
