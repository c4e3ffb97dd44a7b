"""The lab node's init: its Reaper remembers only the daemons it watches."""

from __future__ import annotations

import subprocess
import sys

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
