"""Provisioning a Vagrant node, without VMs: the real scripts, run on a scratch root.

lab/provision-node.sh provisions the files under ``--root``; the commands it runs
(systemctl, apt-get) are stand-ins on PATH that only record their arguments, since
this machine runs no systemd. bootstrap-cluster.sh runs against a stand-in ``pcs``
that answers like pcsd on a node that is, or is not yet, provisioned.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.tier0
ROOT = Path(__file__).resolve().parent.parent
PROVISION = ROOT / "lab" / "provision-node.sh"
BOOTSTRAP = ROOT / "lab" / "bootstrap-cluster.sh"
# /etc/corosync/corosync.conf as Debian 12's corosync package (3.1.7-1+deb12u2) ships it
DEBIAN_COROSYNC_CONF = Path(__file__).with_name("data") / "debian12-corosync.conf"
EMPTY_CIB = '<cib><configuration><crm_config/><nodes/><resources/><constraints/>' \
            '</configuration><status/></cib>'


def recorder(bin_dir: Path, name: str, exit_code: int = 0) -> Path:
    """A command on PATH that appends its arguments to bin_dir/NAME.log."""
    log = bin_dir / f"{name}.log"
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexit {exit_code}\n')
    script.chmod(0o755)
    return log


@pytest.fixture
def node_root(tmp_path: Path) -> Path:
    """A VM's file system as Debian's corosync package leaves it, with systemd running."""
    root = tmp_path / "root"
    (root / "etc" / "corosync").mkdir(parents=True)
    (root / "etc" / "corosync" / "corosync.conf").write_bytes(DEBIAN_COROSYNC_CONF.read_bytes())
    (root / "var" / "lib" / "pacemaker" / "cib").mkdir(parents=True)
    (root / "var" / "lib" / "pacemaker" / "cib" / "cib.xml").write_text(EMPTY_CIB)
    (root / "run" / "systemd" / "system").mkdir(parents=True)
    return root


def provision(root: Path, bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    return subprocess.run(["sh", str(PROVISION), "--root", str(root), *args],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    path = tmp_path / "bin"
    path.mkdir()
    return path


def test_the_fixture_is_the_file_debian_ships() -> None:
    """The md5 dpkg recorded for corosync's conffile is the fixture's (where dpkg knows it)."""
    conffiles = subprocess.run(["dpkg-query", "-W", "-f=${Conffiles}", "corosync"],
                               capture_output=True, text=True).stdout
    shipped = dict(line.split()[:2] for line in conffiles.splitlines() if line.strip())
    digest = hashlib.md5(DEBIAN_COROSYNC_CONF.read_bytes()).hexdigest()
    assert shipped["/etc/corosync/corosync.conf"] == digest


def test_debians_default_cluster_is_stopped_and_removed(node_root: Path, bin_dir: Path) -> None:
    systemctl = recorder(bin_dir, "systemctl")
    result = provision(node_root, bin_dir)
    assert result.returncode == 0, result.stderr
    assert "removing Debian's packaged default cluster" in result.stdout
    assert not (node_root / "etc" / "corosync" / "corosync.conf").exists()
    assert not (node_root / "var" / "lib" / "pacemaker" / "cib" / "cib.xml").exists()
    calls = systemctl.read_text().splitlines()
    assert "stop pacemaker corosync" in calls
    assert calls[-1] == "enable --now pcsd"


@pytest.mark.parametrize("edit", [
    ("cluster_name: debian", "cluster_name: production"),  # an admin's own cluster
    ("\t\t# Hostname of the node\n", ""),                   # even a comment changed
])  # fmt: skip
def test_an_edited_corosync_conf_is_never_touched(node_root: Path, bin_dir: Path,
                                                   edit: tuple[str, str]) -> None:
    systemctl = recorder(bin_dir, "systemctl")
    conf = node_root / "etc" / "corosync" / "corosync.conf"
    text = conf.read_text()
    assert edit[0] in text
    conf.write_text(text.replace(*edit))
    result = provision(node_root, bin_dir)
    assert result.returncode == 0, result.stderr
    assert conf.read_text() == text.replace(*edit)
    assert (node_root / "var" / "lib" / "pacemaker" / "cib" / "cib.xml").exists()
    assert "stop pacemaker corosync" not in systemctl.read_text()


def test_a_default_cluster_holding_resources_is_kept(node_root: Path, bin_dir: Path) -> None:
    """Debian's default corosync.conf, but someone put a resource in its CIB: keep it."""
    recorder(bin_dir, "systemctl")
    cib = node_root / "var" / "lib" / "pacemaker" / "cib" / "cib.xml"
    cib.write_text(EMPTY_CIB.replace(
        "<resources/>", '<resources><primitive id="db" class="ocf" provider="heartbeat" '
                        'type="Dummy"/></resources>'))
    result = provision(node_root, bin_dir)
    assert result.returncode == 0, result.stderr
    assert (node_root / "etc" / "corosync" / "corosync.conf").exists()
    assert "primitive" in cib.read_text()


def test_pcsd_may_start_slowly(node_root: Path, bin_dir: Path) -> None:
    """systemd's 90 s start timeout is too short for pcsd on an emulated VM; the drop-ins
    are written before any package is installed, so pcsd's first start gets them too."""
    systemctl = recorder(bin_dir, "systemctl")
    apt = recorder(bin_dir, "apt-get")
    (node_root / "etc" / "systemd" / "system").mkdir(parents=True)
    result = provision(node_root, bin_dir, "--install-packages",
                       "--extra-packages", "haflow-no-such-package")
    assert result.returncode == 0, result.stderr
    for unit in ("pcsd", "pcsd-ruby"):  # pcsd.service requires pcsd-ruby.service
        dropin = node_root / f"etc/systemd/system/{unit}.service.d/haflow-slow-start.conf"
        assert "TimeoutStartSec=10min" in dropin.read_text().splitlines()
    assert systemctl.read_text().splitlines()[0] == "daemon-reload"
    assert apt.exists()


def test_a_node_with_every_package_needs_no_mirror(node_root: Path, bin_dir: Path) -> None:
    """Only missing packages are installed: an offline box's node never runs apt-get.
    (This machine has the cluster stack, as quickstart.sh installs it.)"""
    recorder(bin_dir, "systemctl")
    apt = recorder(bin_dir, "apt-get", exit_code=100)  # as apt-get does with no mirror
    result = provision(node_root, bin_dir, "--install-packages", "--extra-packages", "iproute2")
    assert result.returncode == 0, result.stderr
    assert not apt.exists()


def test_only_the_missing_packages_are_installed(node_root: Path, bin_dir: Path) -> None:
    recorder(bin_dir, "systemctl")
    apt = recorder(bin_dir, "apt-get")
    result = provision(node_root, bin_dir, "--install-packages",
                       "--extra-packages", "iproute2 haflow-no-such-package")
    assert result.returncode == 0, result.stderr
    assert apt.read_text().splitlines() == [
        "update -q", "install -y -q haflow-no-such-package"]


FAKE_PCS = """#!/bin/sh
# pcs as a provisioned node's pcsd answers it: host auth succeeds only for nodes whose
# READY/NAME exists, and (unless READY/no-tokens exists) keeps their tokens
echo "$*" >> {log}
case "$*" in
  *"host auth"*)
    for arg in "$@"; do
      case "$arg" in node*)
        [ -e {ready}/"$arg" ] || {{ echo "Error: Unable to authenticate to $arg"; exit 1; }} ;;
      esac
    done
    for arg in "$@"; do
      case "$arg" in node*)
        echo "$arg: Authorized"
        [ -e {ready}/no-tokens ] || echo "\\"$arg\\"" >> /var/lib/pcsd/known-hosts ;;
      esac
    done ;;
  *) echo "Error: the stand-in pcs does not do: $*"; exit 1 ;;
esac
"""


def report(level: str, message: str, node: str | None = None) -> dict[str, Any]:
    """A report in pcsd's API (pcs.common.reports.dto.ReportItemDto)."""
    return {"severity": {"level": level, "force_code": None},
            "message": {"code": "X", "message": message, "payload": {}},
            "context": {"node": node} if node else None}


class FakePcsd(ThreadingHTTPServer):
    """The local pcsd's API as bootstrap-cluster.sh uses it: /remote/auth takes
    hacluster's password and gives a token, /api/v2/task/run runs a command."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakePcsdHandler)
        self.password = "secret"
        self.tasks: list[tuple[float, dict[str, Any]]] = []
        self.finish_type = "SUCCESS"
        self.reports = [report("INFO", "Destroying cluster on hosts: 'node1', 'node2', 'node3'..."),
                        report("INFO", "Cluster has been successfully set up.")]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class FakePcsdHandler(BaseHTTPRequestHandler):
    server: FakePcsd

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def answer(self, code: int, body: str) -> None:
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body.encode())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        if self.path == "/remote/auth":
            form = urllib.parse.parse_qs(body)
            right = form == {"username": ["hacluster"], "password": [self.server.password]}
            self.answer(200, "session-token" if right else "")  # pcsd's way to refuse
        elif self.path == "/api/v2/task/run":
            if self.headers.get("Cookie") != "token=session-token":
                self.answer(401, json.dumps({"http_code": 401, "error_message": None}))
                return
            command = json.loads(body)
            self.server.tasks.append((time.monotonic(), command))
            self.answer(200, json.dumps({
                "task_ident": "t1", "command": command, "reports": self.server.reports,
                "state": "FINISHED", "task_finish_type": self.server.finish_type,
                "kill_reason": None, "result": None}))
        else:
            self.answer(404, "")


@pytest.fixture
def pcsd() -> Iterator[FakePcsd]:
    server = FakePcsd()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def bootstrap(tmp_path: Path, wait: int, pcsd_url: str) -> subprocess.CompletedProcess[str]:
    """bootstrap-cluster.sh against the stand-in pcs and pcsd, with a scratch
    /var/lib/pcsd (a tmpfs in a mount namespace of its own: the host's stays untouched)."""
    password = tmp_path / "password"
    password.write_text("secret\n")
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    inner = f'mount -t tmpfs none /var/lib/pcsd && exec sh {BOOTSTRAP} "$@"'
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", inner, "sh",
         "--cluster", "haflow", "--nodes", "node1=10.0.0.1 node2=10.0.0.2 node3=10.0.0.3",
         "--password-file", str(password), "--wait", str(wait), "--request-timeout", "300",
         "--token", "5000", "--pcsd-url", pcsd_url],
        capture_output=True, text=True, env=env, timeout=120)  # fmt: skip


@pytest.fixture
def pcs(tmp_path: Path) -> tuple[Path, Path]:
    """(the stand-in's log, the directory of its ready markers)."""
    (tmp_path / "bin").mkdir()
    ready = tmp_path / "ready"
    ready.mkdir()
    log = tmp_path / "pcs.log"
    fake = tmp_path / "bin" / "pcs"
    fake.write_text(FAKE_PCS.format(log=log, ready=ready))
    fake.chmod(0o755)
    return log, ready


def all_ready(ready: Path) -> None:
    for name in ("node1", "node2", "node3"):
        (ready / name).touch()


def test_the_cluster_is_formed_once_every_node_is_ready(
        tmp_path: Path, pcs: tuple[Path, Path], pcsd: FakePcsd) -> None:
    """Vagrant may provision the last node first: it waits for the others' pcsd."""
    log, ready = pcs
    (ready / "node3").touch()
    (ready / "node1").touch()
    node2_ready_at: list[float] = []

    def node2_finishes() -> None:
        time.sleep(2)
        node2_ready_at.append(time.monotonic())
        (ready / "node2").touch()

    timer = threading.Thread(target=node2_finishes)
    timer.start()
    result = bootstrap(tmp_path, wait=60, pcsd_url=pcsd.url)
    timer.join()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "waiting for node2" in result.stdout
    assert "Cluster has been successfully set up." in result.stdout
    [(set_up_at, command)] = pcsd.tasks
    assert set_up_at > node2_ready_at[0]
    assert command == {
        "command_name": "cluster.setup",
        "params": {
            "cluster_name": "haflow",
            "nodes": [{"name": "node1", "addrs": ["10.0.0.1"]},
                      {"name": "node2", "addrs": ["10.0.0.2"]},
                      {"name": "node3", "addrs": ["10.0.0.3"]}],
            "transport_type": "knet", "transport_options": {}, "link_list": [],
            "compression_options": {}, "crypto_options": {},
            "totem_options": {"token": "5000"}, "quorum_options": {},
        },
        # what pcs cluster setup's command line cannot pass
        "options": {"request_timeout": 300},
    }
    # the slow VMs' request timeout reaches every pcs command
    assert all(call.startswith("--request-timeout=300 host auth")
               for call in log.read_text().splitlines())


def test_a_node_that_never_gets_ready_fails_the_wait_by_name(
        tmp_path: Path, pcs: tuple[Path, Path], pcsd: FakePcsd) -> None:
    _, ready = pcs
    (ready / "node1").touch()
    (ready / "node2").touch()
    started = time.monotonic()
    result = bootstrap(tmp_path, wait=3, pcsd_url=pcsd.url)
    assert result.returncode == 1
    assert time.monotonic() - started >= 3
    assert "nodes not ready after 3s: node3" in result.stderr
    assert "Unable to authenticate to node3" in result.stderr
    assert not pcsd.tasks


def test_an_authorization_pcs_keeps_no_token_for_is_reported(
        tmp_path: Path, pcs: tuple[Path, Path], pcsd: FakePcsd) -> None:
    """What pcs does on a node it takes for a member of Debian's default cluster."""
    _, ready = pcs
    all_ready(ready)
    (ready / "no-tokens").touch()
    result = bootstrap(tmp_path, wait=0, pcsd_url=pcsd.url)
    assert result.returncode == 1
    assert "pcs host auth kept no token for node1" in result.stderr
    assert not pcsd.tasks


def test_a_setup_pcsd_refuses_fails_with_its_errors_by_node(
        tmp_path: Path, pcs: tuple[Path, Path], pcsd: FakePcsd) -> None:
    _, ready = pcs
    all_ready(ready)
    pcsd.finish_type = "FAIL"
    pcsd.reports = [report("ERROR", "host is already in a cluster", node="node1"),
                    report("DEBUG", "not for the admin")]
    result = bootstrap(tmp_path, wait=0, pcsd_url=pcsd.url)
    assert result.returncode == 1
    assert "Error: node1: host is already in a cluster" in result.stderr
    assert "Error: pcs cluster setup failed: FAIL" in result.stderr
    assert "not for the admin" not in result.stdout + result.stderr


def test_a_password_pcsd_refuses_is_named(
        tmp_path: Path, pcs: tuple[Path, Path], pcsd: FakePcsd) -> None:
    _, ready = pcs
    all_ready(ready)
    pcsd.password = "another"
    result = bootstrap(tmp_path, wait=0, pcsd_url=pcsd.url)
    assert result.returncode == 1
    assert f"Error: pcsd at {pcsd.url} refused hacluster's password" in result.stderr
    assert not pcsd.tasks


def test_a_pcsd_that_does_not_answer_is_named(
        tmp_path: Path, pcs: tuple[Path, Path], pcsd: FakePcsd) -> None:
    _, ready = pcs
    all_ready(ready)
    url = pcsd.url
    pcsd.shutdown()
    pcsd.server_close()
    result = bootstrap(tmp_path, wait=0, pcsd_url=url)
    assert result.returncode == 1
    assert f"Error: cannot reach pcsd at {url}: [Errno 111] Connection refused" in result.stderr
