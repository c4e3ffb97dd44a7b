"""A lab node's killall: only its own node's processes, with the options pcs passes."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from haflow.lab import control
from haflow.lab.node_killall import parse

pytestmark = pytest.mark.tier0

NAME = "hfl-killall-t"  # a command name no other process has


def test_options_as_pcs_passes_them() -> None:
    assert parse(["-9", "corosync", "pacemakerd"]) == (9, False, ["corosync", "pacemakerd"])
    assert parse(["--quiet", "--signal", "9", "--", "-odd"]) == (9, True, ["-odd"])
    assert parse(["-KILL", "x"]) == (9, False, ["x"])
    assert parse(["-s", "sigterm", "x"]) == (int(signal.SIGTERM), False, ["x"])
    assert parse(["x"]) == (int(signal.SIGTERM), False, ["x"])
    with pytest.raises(ValueError, match="unknown signal 'NOPE'"):
        parse(["-NOPE", "x"])


@pytest.fixture
def named_sleeper(tmp_path: Path) -> Path:
    """sleep under a name of its own, so that its command name is NAME."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is missing")
    sleeper = tmp_path / NAME
    shutil.copy(shutil.which("sleep") or "/bin/sleep", sleeper)
    return sleeper


@pytest.fixture
def outsider(named_sleeper: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process of that name in this (another node's) network namespace."""
    proc = subprocess.Popen([str(named_sleeper), "60"])
    yield proc
    proc.kill()
    proc.wait()


def in_a_node(named_sleeper: Path, killall_args: str) -> subprocess.CompletedProcess[str]:
    """In a network namespace of its own: start a process named NAME, run the
    killall as a node runs it (an executable copy, by its #! line), and report
    whether that process was ended by the signal. ``stderr`` is the killall's alone: the
    shell's own "Killed", printed when ``wait`` reaps a process that died of SIGKILL
    only by then (a loaded machine), is not the killall's."""
    killall = named_sleeper.with_name("killall")
    shutil.copyfile(control.NODE_KILLALL, killall)
    killall.chmod(0o755)
    errors = named_sleeper.with_name("killall.stderr")
    script = (f'"$1" 60 & sleeper=$!; sleep 0.2; "$2" {killall_args} 2>"$3"; '
              'echo "rc=$?"; wait $sleeper; echo "sleeper=$?"')
    done = subprocess.run(
        ["unshare", "--net", "sh", "-c", script, "sh", str(named_sleeper), str(killall),
         str(errors)], capture_output=True, text=True, timeout=60)  # fmt: skip
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout,
                                       errors.read_text())


def test_only_the_nodes_own_processes_are_signalled(
        named_sleeper: Path, outsider: subprocess.Popen[bytes]) -> None:
    result = in_a_node(named_sleeper, f"-9 {NAME}")
    assert "rc=0" in result.stdout, result.stderr
    assert f"sleeper={128 + 9}" in result.stdout  # the node's own one: killed
    time.sleep(0.2)
    assert outsider.poll() is None, "a process of another namespace was killed"


def test_a_name_with_no_process_is_reported_unless_quiet(named_sleeper: Path) -> None:
    loud = in_a_node(named_sleeper, f"-s KILL {NAME} hfl-no-such")
    assert "rc=1" in loud.stdout and "hfl-no-such: no process found" in loud.stderr
    quiet = in_a_node(named_sleeper, f"--quiet --signal 9 -- {NAME} hfl-no-such")
    assert "rc=1" in quiet.stdout and quiet.stderr == ""
    assert f"sleeper={128 + 9}" in quiet.stdout


def test_a_long_name_matches_the_kernels_15_characters(tmp_path: Path) -> None:
    """pacemaker-schedulerd is pacemaker-sched in /proc/PID/comm."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is missing")
    long_name = tmp_path / "hfl-killall-long-name"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", long_name)
    result = in_a_node(long_name, "-9 hfl-killall-long-name")
    assert "rc=0" in result.stdout, result.stderr
    assert f"sleeper={128 + 9}" in result.stdout
