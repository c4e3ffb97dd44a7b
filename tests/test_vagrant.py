"""The Vagrant cluster's configuration is valid, and shares the lab's provisioning."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.tier0
ROOT = Path(__file__).resolve().parent.parent


def validate(tmp_path: Path, edit: str = "") -> subprocess.CompletedProcess[str]:
    """``vagrant validate`` on a copy, so no .vagrant state lands in the checkout."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "vagrant", copy / "vagrant",
                    ignore=shutil.ignore_patterns(".vagrant"))
    shutil.copytree(ROOT / "lab", copy / "lab", ignore=shutil.ignore_patterns("__pycache__"))
    vagrantfile = copy / "vagrant" / "Vagrantfile"
    if edit:
        vagrantfile.write_text(vagrantfile.read_text().replace(*edit.split("=>")))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    # --ignore-provider: CI machines have neither libvirt nor VirtualBox, and
    # without one Vagrant refuses to validate at all
    return subprocess.run(["vagrant", "validate", "--ignore-provider"], cwd=copy / "vagrant",
                          capture_output=True, text=True, timeout=120, env=env)


def test_vagrantfile_validates(tmp_path: Path) -> None:
    result = validate(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_vagrantfile_is_caught(tmp_path: Path) -> None:
    result = validate(tmp_path, edit="path: \"install-haflow.sh\"=>path: \"no-such-script.sh\"")
    assert result.returncode != 0


def test_vms_are_provisioned_with_the_labs_own_scripts() -> None:
    vagrantfile = (ROOT / "vagrant" / "Vagrantfile").read_text()
    assert 'path: "../lab/provision-node.sh"' in vagrantfile
    assert 'path: "../lab/bootstrap-cluster.sh"' in vagrantfile


def test_the_cluster_is_formed_only_once_every_node_is_provisioned() -> None:
    """hacluster's password is each node's last step, and the last node's bootstrap waits
    until pcs can authenticate to every node: Vagrant may run the nodes in any order."""
    vagrantfile = (ROOT / "vagrant" / "Vagrantfile").read_text()
    assert re.findall(r'provision "(\w+)"', vagrantfile) == [
        "hosts", "password", "node", "haflow", "sbd", "ready", "cluster", "fencing"]
    node = vagrantfile.split('provision "node"')[1].split(".vm.provision")[0]
    assert "--hacluster-password-file" not in node
    ready = vagrantfile.split('provision "ready"')[1].split(".vm.provision")[0]
    assert '"--hacluster-password-file", "/tmp/hacluster-password"' in ready
    assert '"--wait", READY_WAIT' in vagrantfile
