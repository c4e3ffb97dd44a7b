"""An interrupted test run takes its labs down: tests/labsweep.py, on a real xdist run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from haflow.lab import control, netns, power
from tests.labsweep import leftover_labs

ROOT = Path(__file__).resolve().parent.parent

# a test that leaves what a lab fixture leaves when its worker is killed: a lab folder,
# a namespace named after the lab and a process inside it; it then waits to be stopped
HOLDING = textwrap.dedent('''
    import os, subprocess, time
    from haflow.lab import control

    def test_holds_a_lab(tmp_path_factory):
        layout = control.layout_for(os.environ["LAB"], tmp_path_factory.mktemp("labs"))
        layout.dir.mkdir()
        layout.state_file.write_text("{}")
        name = layout.netns("node1")
        subprocess.run(["ip", "netns", "add", name], check=True)
        # READY is written from inside the namespace, by the process that then stays there:
        # written before, it raced `ip netns exec` joining the namespace
        subprocess.Popen(["ip", "netns", "exec", name, "sh", "-c",
                          'printf %s "$1" > "$2.part" && mv "$2.part" "$2" && exec sleep 600',
                          "sh", str(layout.dir), os.environ["READY"]])
        time.sleep(600)
''')


@pytest.mark.tier0
def test_leftover_labs_are_the_folders_holding_a_lab_json(tmp_path: Path) -> None:
    for lab in ("popen-gw0/labs0/three123", "popen-gw1/test_x0/lc456"):
        (tmp_path / lab / "nodes" / "node1").mkdir(parents=True)
        (tmp_path / lab / "lab.json").write_text("{}")
    (tmp_path / "popen-gw0/labs0/three123/nodes/node1/lab.json").write_text("{}")
    (tmp_path / "popen-gw1/other0").mkdir(parents=True)
    assert sorted(leftover_labs(tmp_path)) == [tmp_path / "popen-gw0/labs0/three123",
                                              tmp_path / "popen-gw1/test_x0/lc456"]
    shutil.rmtree(tmp_path / "popen-gw0")  # not labs for this run's own sweep to report
    shutil.rmtree(tmp_path / "popen-gw1")


@pytest.mark.tier1
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_run_stopped_by_a_signal_to_pytest_alone_leaves_no_lab(
        tmp_path: Path, signum: signal.Signals) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root for network namespaces")
    lab = f"sweep{os.getpid() % 10000}{signum.value}"
    (tmp_path / "test_holding.py").write_text(HOLDING)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    ready = tmp_path / "ready"
    env = {**os.environ, "LAB": lab, "READY": str(ready), "PYTHONPATH": str(ROOT)}
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-n", "1", "-p", "tests.labsweep",
         "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path),
         "--basetemp", str(tmp_path / "base"), str(tmp_path / "test_holding.py")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    name = control.layout_for(lab, tmp_path).netns("node1")
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert run.poll() is None, run.communicate()[0]
            assert time.monotonic() < deadline, "the holding test never started"
            time.sleep(0.2)
        inode = os.stat(f"/run/netns/{name}").st_ino
        assert power.pids_in_netns(inode), "nothing runs in the lab's namespace"
        os.kill(run.pid, signum)  # the controller alone, as CI's timeout or kill does
        output = run.communicate(timeout=120)[0]
        assert f"labsweep: lab {lab} was left by an interrupted test process" in output, output
        assert name not in netns.list_netns()
        assert not power.pids_in_netns(inode)
        assert not Path(ready.read_text()).exists()
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        if name in netns.list_netns():  # what the sweep should have removed
            for pid in power.pids_in_netns(os.stat(f"/run/netns/{name}").st_ino):
                os.kill(pid, signal.SIGKILL)
            netns.delete_netns(name)
