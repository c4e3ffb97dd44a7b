"""The README's first command: the demo runs its whole story on a lab of its own.

It runs ``python -m haflow.lab.demo`` as ``./quickstart.sh demo`` does (the
install part of quickstart is what CI itself ran first), on a lab under this
test's temporary directory, and checks what the demo claims to show.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from haflow.lab import control
from tests.labtools import require_cluster_tools, unique_lab_name

pytestmark = pytest.mark.tier2


def test_the_demo_completes_recovers_a_crash_and_undoes_in_reverse(tmp_path: Path) -> None:
    require_cluster_tools()
    name = unique_lab_name("demo")
    done = subprocess.run([sys.executable, "-m", "haflow.lab.demo", "--lab", name],
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, HAFLOW_LAB_ROOT=str(tmp_path)))
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-2000:]
    assert out.rstrip().endswith("==> demo complete")
    # submitted and done, then the crashed node's step runs on a survivor
    assert "tenant: done, 4/4 done" in out
    assert re.search(r"node\d was fenced; 'configure' runs on node\d again", out)
    # abort: rolled back, and the test agent's records show one VM made and undone after
    # the step that depends on it (announce) was undone
    assert "tenant: rolled back, 4/4 undone" in out
    records = [line.split() for line in out.splitlines()
               if re.match(r"  \d\d:\d\d:\d\d node\d +tenant\.", line)]
    events = [(r[2], r[3]) for r in records]
    assert events.count(("tenant.vm", "do")) == 1, records
    undone = [resource for resource, event in events if event == "undo"]
    assert undone.index("tenant.announce") < undone.index("tenant.vm"), records
    # status's start time of a step is not before the submit (history), nor after its end
    started = re.search(r"done +vm +on node\d, (\d\d:\d\d:\d\d)Z", out)
    submitted = re.search(r" (\d\d:\d\d:\d\d)Z +node\d +root +submit", out)
    ended = re.search(r" (\d\d:\d\d:\d\d)Z +node\d +vm +start +ok", out)
    assert started and submitted and ended, out
    assert submitted.group(1) <= started.group(1) <= ended.group(1), out
    assert "removed tenant; nothing of it remains" in out
    # the lab is gone, also from the host's namespaces
    assert control.exists(control.layout_for(name, tmp_path)) is None
