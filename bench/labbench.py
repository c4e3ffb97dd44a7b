"""What the benches on a lab share: Pacemaker's logs as a clock, corosync's timeouts,
haflow's CLI on a node, and waiting for resources to run or stop.

bench/ is no package: a bench puts its own folder on ``sys.path`` and imports this.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from haflow.lab import control
from haflow.lab.layout import LabLayout

STAMP = re.compile(r"^(\w{3} +\d+ [\d:.]+) ")


def log_lines(layout: LabLayout) -> list[tuple[float, str]]:
    """Every node's pacemaker.log, as (epoch seconds, line), in time order."""
    year = datetime.now().year
    lines = []
    for node in control.nodes_of(layout):
        path = layout.node_dir(node) / "fs/var/log/pacemaker/pacemaker.log"
        for line in path.read_text(errors="replace").splitlines():
            match = STAMP.match(line)
            if match:
                text = f"{year} {match.group(1)}"
                # Pacemaker's own lines have microseconds; agents' lines (ocf_log) do not
                fmt = "%Y %b %d %H:%M:%S.%f" if "." in text else "%Y %b %d %H:%M:%S"
                stamp = datetime.strptime(text, fmt)
                lines.append((stamp.timestamp(), line))
    return sorted(lines)


def first(lines: list[tuple[float, str]], after: float, *needles: str) -> float:
    for stamp, line in lines:
        if stamp >= after and all(n in line for n in needles):
            return stamp
    raise LookupError(f"no log line after {after} with {needles}")


def totem(layout: LabLayout, key: str, node: str = "node1") -> float:
    """corosync's runtime value of ``totem.KEY`` on ``node`` (a node that is up), in seconds."""
    out = control.run_on(layout, node, ["corosync-cmapctl", "-g", f"runtime.config.totem.{key}"])
    return int(out.stdout.split("=")[-1]) / 1000.0


def workflow_file(folder: Path, name: str, steps: dict[str, dict[str, object]]) -> Path:
    """A workflow file (JSON, which haflow reads as YAML) named ``name`` in ``folder``."""
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"name": name, "steps": steps}))
    return path


def haflow(layout: LabLayout, *args: str, node: str = "node1") -> None:
    """``haflow ARGS`` on a lab node, as an admin there would; the bench ends if it fails."""
    argv = control.node_command(layout, node, [sys.executable, "-m",
                                               "haflow.coordinator.cli", *args])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"haflow {' '.join(args[:2])} failed: {done.stderr[-800:]}")


def wait_for(layout: LabLayout, ids: set[str], *, started: bool, timeout: float
             ) -> str | None:
    """Until every resource in ``ids`` runs (``started``) or none does; if that takes more
    than ``timeout`` seconds, what was left."""
    deadline = time.monotonic() + timeout
    left = len(ids)
    while time.monotonic() < deadline:
        try:
            view = control.cluster_view(layout, "node1")
        except subprocess.TimeoutExpired:  # a busy node: ask again, as control.wait_until does
            view = None
        if view is not None:
            running = {r for r in ids if view.resources.get(r)}
            left = len(ids - running) if started else len(running)
            if not left:
                return None
        time.sleep(2)
    return (f"timed out after {timeout:.0f} s: {left} of {len(ids)} not "
            f"{'started' if started else 'stopped'}")
