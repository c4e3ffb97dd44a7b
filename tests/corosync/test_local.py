"""Outside any lab: no corosync runs in the host's namespaces, and the errors say so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from haflow.coordinator.cluster import quorum as quorum_guard
from haflow.coordinator.cluster.env import local
from haflow.coordinator.corosync import (
    Cfg,
    Cmap,
    CorosyncNotRunning,
    Cpg,
    Quorum,
    VoteQuorum,
)
from haflow.coordinator.exitcodes import ExitCode

pytestmark = pytest.mark.tier0
ROOT = Path(__file__).resolve().parents[2]


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("kind", [Cmap, Quorum, VoteQuorum, Cpg, Cfg])
def test_a_clear_error_when_corosync_is_not_running(kind: type) -> None:
    before = fd_count()
    for _ in range(50):
        with pytest.raises(CorosyncNotRunning) as info:
            kind()
    assert info.value.reports[0].code == "COROSYNC_NOT_RUNNING"
    assert info.value.cs_error == "CS_ERR_LIBRARY"
    assert "corosync is not running" in str(info.value)
    assert fd_count() == before  # failed connects leave nothing open


def test_require_quorum_names_the_missing_corosync() -> None:
    with pytest.raises(CorosyncNotRunning):
        quorum_guard.require_quorum(local())


@pytest.mark.parametrize("command", [["cluster"], ["watch", "--timeout", "5"]])
def test_cli_reports_no_corosync_as_json(command: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "haflow.coordinator.cli", *command,
                             "--output-as", "json"], capture_output=True, text=True, timeout=60)
    assert result.returncode == ExitCode.ERROR
    assert json.loads(result.stdout)["errors"][0]["code"] == "COROSYNC_NOT_RUNNING"


def test_installs_without_the_dev_packages_and_says_what_is_missing(tmp_path: Path) -> None:
    """No headers (simulated with an empty include dir): haflow installs, the import explains."""
    import shutil

    source = tmp_path / "src"
    skip = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                  ".*_cache", "*.so", "_corosync_cffi.c")
    shutil.copytree(ROOT, source, ignore=skip)
    target = tmp_path / "site"
    env = dict(os.environ, HAFLOW_COROSYNC_INCLUDE=str(tmp_path / "no-include"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(source)],
                   check=True, capture_output=True, env=env)  # fmt: skip
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from haflow.coordinator.corosync import VoteQuorum, CorosyncUnavailable\n"
        "try:\n VoteQuorum()\nexcept CorosyncUnavailable as e:\n"
        " print(e.reports[0].code, int(e.exit_code)); print(e.reports[0].message)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True,
                         text=True, check=True).stdout
    first, message = out.split("\n", 1)
    assert first == "COROSYNC_BINDINGS_MISSING 127"
    for package in ("libcmap-dev", "libquorum-dev", "libvotequorum-dev", "libcpg-dev",
                    "libcfg-dev", "libcorosync-common-dev"):
        assert package in message
    assert not list(target.rglob("_corosync_cffi*.so"))


def test_a_normal_install_builds_the_extension(tmp_path: Path) -> None:
    import shutil

    source = tmp_path / "src"
    skip = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                  ".*_cache", "*.so", "_corosync_cffi.c")
    shutil.copytree(ROOT, source, ignore=skip)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(source)],
                   check=True, capture_output=True)  # fmt: skip
    built = list(target.rglob("_corosync_cffi*.so"))
    assert [p.parent for p in built] == [target / "haflow" / "coordinator" / "corosync"]
    code = ("import sys; sys.path.insert(0, sys.argv[1]);"
            "import haflow.coordinator.corosync as c; print(c.available(), c.__file__)")
    # not -S: the extension needs cffi's runtime (_cffi_backend) from site-packages
    out = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[0] == "True" and out[1].startswith(str(target))
