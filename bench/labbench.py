"""What the benches on a lab share: Pacemaker's logs as a clock, corosync's timeouts,
haflow's CLI on a node, and waiting for resources to run or stop.

bench/ is no package: a bench puts its own folder on ``sys.path`` and imports this.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from haflow.lab import control, power
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


def _proc_stat(pid: str) -> tuple[int, str, list[int]] | None:
    """(parent pid, command name, [utime, stime, cutime, cstime]) of a process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    # the name is in parentheses and may hold anything: split after its last ")"
    name = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), name, [int(f) for f in fields[11:15]]


def cpu_seconds(layout: LabLayout) -> Counter[str]:
    """CPU time so far of the lab's processes, by command name: each process's own
    time under its name, and the time of the children it reaped (a resource agent
    and its cibadmin, an alert agent: pacemaker-execd runs both) under
    ``NAME's children``. The difference of two readings is what a phase cost."""
    inits = {pid for node in control.nodes_of(layout)
             if (pid := power.init_pid(layout, node)) is not None}
    stats = {pid: found for pid in os.listdir("/proc") if pid.isdigit()
             if (found := _proc_stat(pid)) is not None}
    tick = os.sysconf("SC_CLK_TCK")

    def in_lab(pid: int) -> bool:
        seen = 0
        while pid > 1 and seen < 64:
            if pid in inits:
                return True
            parent = stats.get(str(pid))
            if parent is None:
                return False
            pid, seen = parent[0], seen + 1
        return False

    spent: Counter[str] = Counter()
    for pid, (_, name, times) in stats.items():
        if in_lab(int(pid)):
            spent[name] += (times[0] + times[1]) / tick
            spent[f"{name}'s children"] += (times[2] + times[3]) / tick
    return spent


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


def wait_for(layout: LabLayout, ids: set[str], *, started: bool, timeout: float,
             every: float = 2.0) -> str | None:
    """Until every resource in ``ids`` runs (``started``) or none does, asking every
    ``every`` seconds; if that takes more than ``timeout`` seconds, what was left."""
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
        time.sleep(every)
    return (f"timed out after {timeout:.0f} s: {left} of {len(ids)} not "
            f"{'started' if started else 'stopped'}")
