"""``haflow agents install|uninstall|list``, ocf-tester on every agent, pcs on a lab node."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from haflow.agents import install
from haflow.agents.registry import AGENTS
from haflow.lab import control
from haflow.lab.layout import LabLayout
from tests.agents.agentrun import Sandbox, ocf_tester


def haflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "haflow.coordinator.cli", *args],
                          capture_output=True, text=True, timeout=120)


def states(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert result.returncode == 0, result.stderr
    return {row["name"]: row["state"] for row in json.loads(result.stdout)}


@pytest.mark.tier0
def test_install_is_idempotent_and_uninstall_removes_only_ours(tmp_path: Path) -> None:
    root = str(tmp_path / "ocf")
    first = states(haflow("agents", "install", "--ocf-root", root, "--output-as", "json"))
    assert set(AGENTS) <= set(first) and set(first.values()) == {"installed"}
    again = states(haflow("agents", "install", "--ocf-root", root, "--output-as", "json"))
    assert set(again.values()) == {"unchanged"}
    launcher = tmp_path / "ocf/resource.d/haflow/exec"
    assert stat.S_IMODE(launcher.stat().st_mode) == 0o755
    assert launcher.read_text().startswith(f"#!{install.default_python()} -IS\n")
    listed = states(haflow("agents", "list", "--ocf-root", root, "--output-as", "json"))
    assert set(listed.values()) == {"installed"}
    someone_elses = tmp_path / "ocf/resource.d/haflow/theirs"
    someone_elses.write_text("#!/bin/sh\n")
    gone = states(haflow("agents", "uninstall", "--ocf-root", root, "--output-as", "json"))
    assert {gone[name] for name in AGENTS} == {"removed"}
    assert someone_elses.exists()
    assert sorted(os.listdir(tmp_path / "ocf/resource.d/haflow")) == ["theirs"]
    assert not (tmp_path / "ocf/lib/haflow/haflow").exists()


@pytest.mark.tier0
def test_a_tree_bound_elsewhere_imports_from_where_it_is_seen(tmp_path: Path) -> None:
    """A lab's tree lives under a directory hacluster may not enter (pytest's are 0700)
    and is bound over /usr/lib/ocf: its launchers import from the bound path."""
    install.install(str(tmp_path / "ocf"), seen_as="/usr/lib/ocf")
    for launcher in (tmp_path / "ocf/resource.d/haflow").iterdir():
        text = launcher.read_text()
        assert "sys.path.insert(0, '/usr/lib/ocf/lib/haflow')" in text, launcher
        assert str(tmp_path) not in text, launcher


ALERT_OK = {"CRM_alert_kind": "resource", "CRM_alert_rsc": "wf.s", "CRM_alert_rc": "0",
            "CRM_alert_target_rc": "0", "CRM_alert_status": "0",
            "CRM_alert_timestamp_epoch": "1900000010", "CRM_alert_exec_time": "3000"}


@pytest.mark.tier0
@pytest.mark.parametrize(("event", "note", "python"), [
    ({"CRM_alert_task": "monitor"}, None, False),  # a successful monitor says nothing new
    ({"CRM_alert_task": "notify"}, None, False),
    ({"CRM_alert_task": "monitor", "CRM_alert_rc": "7"}, None, True),  # a failure
    ({"CRM_alert_task": "monitor", "CRM_alert_status": "1", "CRM_alert_rc": "1"}, None,
     False),  # cancelled by a stop
    ({"CRM_alert_task": "start", "CRM_alert_status": "2"}, None, True),  # timed out
    ({"CRM_alert_task": "start", "CRM_alert_rsc": "wf.root"}, None, False),
    ({"CRM_alert_task": "start", "CRM_alert_rsc": "lab-fence"}, None, False),  # no step
    ({"CRM_alert_task": "start"}, "start 1900000006", False),  # the agent recorded it
    ({"CRM_alert_task": "start"}, "start 1900000004", True),  # a note of an earlier start
    ({"CRM_alert_task": "stop"}, "start 1900000009", True),  # of another action
    ({"CRM_alert_task": "start"}, None, True),  # no note: the spool records it
    ({"CRM_alert_task": "start", "CRM_alert_exec_time": "3s"}, "start 1900000009", True),
    ({"CRM_alert_task": "promote"}, None, True),
    ({"CRM_alert_kind": "fencing"}, None, True),
    ({"CRM_alert_kind": "node"}, None, False),
])
def test_the_alert_launcher_starts_python_only_for_what_needs_it(
        tmp_path: Path, event: dict[str, str], note: str | None, python: bool) -> None:
    """The shell in front of the alert agent skips what agent.handle would skip anyway
    (a Python start per result on every node), and passes on everything else."""
    reached = tmp_path / "reached"
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {reached}\nexit 3\n")
    fake.chmod(0o755)
    launcher = tmp_path / "alert_haflow"
    launcher.write_text(install.alert_launcher(str(fake), "/usr/lib/ocf/lib/haflow"))
    launcher.chmod(0o755)
    run_dir = tmp_path / "run/active"
    if note is not None:
        (tmp_path / "run/recorded").mkdir(parents=True)
        (tmp_path / "run/recorded" / event.get("CRM_alert_rsc", "wf.s")).write_text(note)
    env = {"PATH": os.environ["PATH"], "HAFLOW_RUN_DIR": f"{run_dir}/",
           **ALERT_OK, **event}
    done = subprocess.run([str(launcher)], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.stderr == ""
    assert (done.returncode, reached.exists()) == ((3, True) if python else (0, False))
    if python:
        assert "from haflow.agents.alert.agent import main" in reached.read_text()


@pytest.mark.tier0
def test_installs_running_at_once_all_succeed_and_leave_no_temporary_files(
        tmp_path: Path) -> None:
    """Parallel test workers each start a lab, and each lab installs the agents."""
    root = str(tmp_path / "ocf")
    command = [sys.executable, "-m", "haflow.coordinator.cli", "agents", "install",
               "--ocf-root", root, "--python"]
    # different interpreters' paths: every launcher changes on every install
    runs = [subprocess.Popen([*command, f"/usr/bin/python3-{n}"], stderr=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, text=True) for n in range(8)]
    for run in runs:
        assert run.wait(timeout=120) == 0, run.stderr.read() if run.stderr else ""
    placed = [path for path in Path(root).rglob("*") if not path.is_dir()]
    assert not [path for path in placed if path.name.endswith(".tmp")]
    launcher = (Path(root) / "resource.d/haflow/exec").read_text()
    assert launcher.startswith("#!/usr/bin/python3-")


@pytest.mark.tier0
def test_install_where_it_cannot_write_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    failed = haflow("agents", "install", "--ocf-root", str(tmp_path / "file"))
    assert failed.returncode == 1
    assert failed.stderr.startswith(f"haflow: error: cannot write {tmp_path}/file/")
    assert "Not a directory" in failed.stderr
    assert "Traceback" not in failed.stderr


@pytest.mark.tier0
@pytest.mark.parametrize("name, params", [
    ("test", {"state_dir": "{tmp}/state", "duration": "1", "output": "x"}),
    ("exec", {"do": "touch {tmp}/made", "check": "test -e {tmp}/made",
              "undo": "rm -f {tmp}/made"}),
    ("workflow", {"workflow": "wf", "description": "a workflow"}),
])
def test_ocf_tester_passes(name: str, params: dict[str, str], everyone_root: Path,
                           tmp_path: Path) -> None:
    tmp_path.chmod(0o777)  # ocf-tester's meta-data run as nobody must reach nothing here,
    box = Sandbox(tmp_path / "node")  # but the agent (run as root) writes its state here
    filled = {k: v.format(tmp=tmp_path) for k, v in params.items()}
    done = ocf_tester(everyone_root / name, f"t.{name}", filled, box.env(f"t.{name}", {}))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed all tests" in done.stdout


@pytest.mark.tier1
def test_pcs_describes_and_creates_haflow_agents(lab1: LabLayout, tmp_path: Path) -> None:
    def pcs(*args: str) -> subprocess.CompletedProcess[str]:
        return control.run_on(lab1, "node1", ["pcs", *args], timeout=120)

    described = pcs("resource", "describe", "ocf:haflow:exec")
    assert described.returncode == 0, described.stderr
    assert "Workflow step made of shell commands" in described.stdout
    assert "do (required)" in described.stdout
    state = tmp_path / "state"
    created = pcs("resource", "create", "hand.made", "ocf:haflow:test", f"state_dir={state}",
                  "--wait=60")
    try:
        assert created.returncode == 0, created.stderr + created.stdout
        shown = pcs("resource", "status", "hand.made")
        assert "Started" in shown.stdout, shown.stdout
        assert (state / "records.log").read_text().count("\tdo\t") == 1
    finally:
        pcs("resource", "delete", "hand.made", "--wait=60")


@pytest.mark.tier1
def test_install_cluster_configures_the_alert_agent(lab1: LabLayout) -> None:
    args = ("agents", "install", "--cluster", "--lab", lab1.name, "--lab-root",
            str(lab1.root), "--output-as", "json")
    first = states(haflow(*args))
    assert first["alert"] in ("installed", "unchanged")
    assert states(haflow(*args))["alert"] == "unchanged"  # idempotent
    alerts = control.run_on(lab1, "node1", ["cibadmin", "--query", "--scope", "alerts"])
    assert "alert_haflow" in alerts.stdout
