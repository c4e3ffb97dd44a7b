"""configure-fencing.sh, without VMs: every pcs command it runs is parsed by the
installed pcs's own option table and, for ``stonith sbd enable``, by pcs's own
handler, with a library stand-in that records what pcs would ask of the cluster.

The script had called ``sbd enable --watchdog=...``, an option pcs does not have; no
test ran it and the Vagrant cluster's provisioning stopped there, on pcs's usage text.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.tier0
FENCING = Path(__file__).resolve().parent.parent / "vagrant" / "configure-fencing.sh"

# Run by Debian's python3, which has the pcs package: options as pcs's main() takes
# them (--wait=N folded into --wait as it does), then sbd enable through pcs's handler.
PCS_STAND_IN = """#!/usr/bin/python3
import getopt, json, sys
from pcs.cli.common import parse_args

argv = ["--wait" if a.startswith("--wait=") else a for a in sys.argv[1:]]
try:
    options, args = getopt.gnu_getopt(argv, parse_args.PCS_SHORT_OPTIONS,
                                      parse_args.PCS_LONG_OPTIONS)
except getopt.GetoptError as err:
    sys.exit(f"Error: {{err}}")
record = {{"args": args, "options": dict(options)}}
if args[:3] == ["stonith", "sbd", "enable"]:
    from pcs import stonith

    class Sbd:
        def enable_sbd(self, *call, **keywords):
            record["enable_sbd"] = [call[0], call[1], call[2]]
            record["enable_sbd_keywords"] = sorted(keywords)

    class Lib:
        sbd = Sbd()

    stonith.sbd_enable(Lib(), args[3:], parse_args.InputModifiers(dict(options)))
with open({log!r}, "a") as log:
    log.write(json.dumps(record) + "\\n")
"""


def stand_ins(tmp_path: Path) -> tuple[Path, Path]:
    """(a bin directory with the pcs and haflow stand-ins, the log pcs writes)."""
    if not Path("/usr/lib/python3/dist-packages/pcs").is_dir():
        pytest.fail("Debian's pcs package is not installed (quickstart.sh installs it)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "pcs.jsonl"
    (bin_dir / "pcs").write_text(PCS_STAND_IN.format(log=str(log)))
    (bin_dir / "haflow").write_text(f'#!/bin/sh\necho "haflow $*" >> {tmp_path / "haflow.log"}\n')
    for name in ("pcs", "haflow"):
        (bin_dir / name).chmod(0o755)
    return bin_dir, log


def run_fencing(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    bin_dir, log = stand_ins(tmp_path)
    result = subprocess.run(
        ["sh", str(FENCING)], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", **env})
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def test_every_pcs_command_is_one_pcs_takes(tmp_path: Path) -> None:
    result, calls = run_fencing(tmp_path, PCS_REQUEST_TIMEOUT="300", SBD_WATCHDOG_TIMEOUT="10")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [call["args"][:2] for call in calls] == [
        ["stonith", "sbd"], ["cluster", "start"], ["cluster", "enable"],
        ["property", "set"], ["property", "set"], ["property", "set"], ["status"]]
    sbd = calls[0]
    default_watchdog, per_node_watchdogs, sbd_options = sbd["enable_sbd"]
    assert (default_watchdog, per_node_watchdogs) == ("/dev/watchdog", {})
    assert sbd_options == {"SBD_WATCHDOG_TIMEOUT": "10"}
    assert sbd["options"]["--request-timeout"] == "300"
    assert calls[1]["options"]["--request-timeout"] == "300"
    # pacemaker must wait longer than sbd's watchdog takes to reset a lost node
    assert calls[3]["args"] == ["property", "set", "stonith-watchdog-timeout=20s"]
    assert (tmp_path / "haflow.log").read_text() == "haflow agents install --cluster\n"


def test_the_watchdog_timeout_defaults_to_sbds_own(tmp_path: Path) -> None:
    result, calls = run_fencing(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert calls[0]["enable_sbd"][2] == {"SBD_WATCHDOG_TIMEOUT": "5"}
    assert calls[3]["args"] == ["property", "set", "stonith-watchdog-timeout=10s"]


@pytest.mark.parametrize("argv", [
    ["stonith", "sbd", "enable", "--watchdog=/dev/watchdog"],  # the script's old line
    ["stonith", "sbd", "enable", "watchdog"],  # not NAME=VALUE
    ["cluster", "start", "--all", "--no-such-option"],
])
def test_the_stand_in_refuses_what_pcs_refuses(tmp_path: Path, argv: list[str]) -> None:
    bin_dir, log = stand_ins(tmp_path)
    result = subprocess.run([str(bin_dir / "pcs"), *argv], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert not log.exists()
