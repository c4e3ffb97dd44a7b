"""The lab node's init: its Reaper remembers only the daemons it watches; a pacemaker
restart waits for pacemakerd to exit, as pacemaker.service does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.tier0

# run in a child: Reaper.reap waits for any child, and would steal pytest's
SCRIPT = """
import os, time
from haflow.lab.node_init import Reaper
reaper = Reaper()
orphan = os.posix_spawnp("true", ["true"], dict(os.environ))
daemon = reaper.watch(os.posix_spawnp("true", ["true"], dict(os.environ)))
deadline = time.monotonic() + 10
while reaper.alive(daemon) and time.monotonic() < deadline:
    time.sleep(0.01)
assert not reaper.alive(daemon), "a watched daemon's exit was not seen"
while os.path.exists(f"/proc/{orphan}"):  # a zombie until the reaper reaps it too
    assert time.monotonic() < deadline, "the orphan was not reaped"
    reaper.reap()
    time.sleep(0.01)
assert orphan not in reaper.exited, "an orphan's pid was remembered"
# a later daemon that gets a pid the kernel reused is alive, not dead from birth
assert reaper.alive(reaper.watch(daemon))
print("ok")
"""


def test_the_reaper_forgets_orphans_and_a_reused_pid_is_alive() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# A pacemakerd stand-in that, like one whose controller waits for the DC, takes a while
# to exit after SIGTERM: the restart must wait for it, never kill it, and start the next
# one only once it is gone.
RESTART_SCRIPT = """
import os, signal, sys, time
from pathlib import Path
from haflow.lab.node_init import PacemakerRestart, Reaper, RESTARTS_FILE, spawn

node_dir = Path(sys.argv[1])
reaper = Reaper()
old = spawn(["pacemakerd"], node_dir, dict(os.environ), reaper)
corosync = spawn(["sleep", "60"], node_dir, dict(os.environ), reaper)
stack = [old, corosync]
restart = PacemakerRestart({}, node_dir, reaper, stack)
time.sleep(0.3)  # the stand-in has set its trap
asked = time.monotonic()
restart.request()
restart.request()  # a second one while the first is under way is refused, not queued
while stack[0] == old:
    assert time.monotonic() < asked + 20, "the restart never finished"
    restart.advance()
    time.sleep(0.05)
took = time.monotonic() - asked
assert took >= 1.5, f"the old pacemakerd did not get to exit by itself ({took:.1f} s)"
assert reaper.exited[old] == 0, f"the old pacemakerd ended with {reaper.exited[old]}"
assert reaper.alive(stack[0])
print((node_dir / RESTARTS_FILE).read_text(), end="")
for pid in (stack[0], corosync):
    os.kill(pid, signal.SIGKILL)
"""

SLOW_PACEMAKERD = """#!/bin/sh
trap 'sleep 2; exit 0' TERM
while :; do sleep 0.1; done
"""


def test_a_restart_waits_for_pacemakerd_to_exit_by_itself(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pacemakerd").write_text(SLOW_PACEMAKERD)
    (bin_dir / "pacemakerd").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run([sys.executable, "-c", RESTART_SCRIPT, str(tmp_path)],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    refused, started = result.stdout.splitlines()
    assert refused == "refused: a restart is under way already"
    assert started.startswith("started ")
    boot_log = (tmp_path / "boot.log").read_text()
    assert "stopping" in boot_log and "stopped" in boot_log
