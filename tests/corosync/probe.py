"""Helpers: run the bindings inside a lab node and parse what they print."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from haflow.lab import control
from haflow.lab.layout import LabLayout

PROBE = str(Path(__file__).with_name("node_probe.py"))


def probe_argv(layout: LabLayout, node: str, *args: str) -> list[str]:
    """``node_probe.py`` run as ``node`` with this venv's interpreter."""
    return control.node_command(layout, node, [sys.executable, PROBE, *args])


def probe(layout: LabLayout, node: str, *args: str, timeout: float = 120) -> Any:
    result = subprocess.run(probe_argv(layout, node, *args), capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{args} on {node}: {result.stderr}{result.stdout}"
    return json.loads(result.stdout)


def tool(layout: LabLayout, node: str, *argv: str) -> str:
    result = control.run_on(layout, node, list(argv))
    assert result.returncode == 0, f"{argv} on {node}: {result.stderr}{result.stdout}"
    return result.stdout


def quorumtool(layout: LabLayout, node: str) -> dict[str, Any]:
    """``corosync-quorumtool -s``, parsed: quorate, votes, members (nodeid -> votes, name)."""
    text = tool(layout, node, "corosync-quorumtool", "-s")
    field = dict(re.findall(r"^([A-Za-z ]+):\s+(.*?)\s*$", text, re.M))
    members = {int(m[0]): {"votes": int(m[1]), "name": m[2]} for m in
               re.findall(r"^\s+(\d+)\s+(\d+)\s+(\S+)", text.split("Membership information")[1],
                          re.M)}  # fmt: skip
    return {"quorate": field["Quorate"] == "Yes", "expected": int(field["Expected votes"]),
            "total": int(field["Total votes"]), "quorum": int(field["Quorum"]),
            "node_id": int(field["Node ID"]), "ring_id": field["Ring ID"], "members": members}


# corosync-cmapctl's type abbreviations -> the bindings' type names
CMAPCTL_TYPES = {"i8": "int8", "u8": "uint8", "i16": "int16", "u16": "uint16", "i32": "int32",
                 "u32": "uint32", "i64": "int64", "u64": "uint64", "flt": "float",
                 "dbl": "double", "str": "string", "bin": "binary"}


def cmapctl(layout: LabLayout, node: str) -> dict[str, tuple[str, str]]:
    """Every key of ``corosync-cmapctl``: key -> (type, value as printed)."""
    out = {}
    for line in tool(layout, node, "corosync-cmapctl").splitlines():
        match = re.match(r"^(\S+) \((\w+)\) = ?(.*)$", line)
        if match:
            out[match[1]] = (CMAPCTL_TYPES.get(match[2], match[2]), match[3])
    return out


class Lines:
    """A child's stdout lines, read by a thread so the test can wait with a timeout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert proc.stdout is not None
        self.reader = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self.reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"not seen within {timeout} s; saw {self.seen}") from None
            self.seen.append(line)
            if predicate(line):
                return line

    def stop(self) -> str:
        """Close stdin (the child's signal to finish), return what is left to read."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # our own child, by its handle
            self.proc.wait()
        self.reader.join(timeout=10)  # everything it printed is queued
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        return "".join(rest)


def start(argv: list[str]) -> Lines:
    return Lines(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True))


def event(line: str, **match: Any) -> bool:
    if not line.startswith("{\""):  # an error is printed as indented JSON: fail on it
        assert not line.startswith("{"), "watch failed"
        return False
    data = json.loads(line)
    return all(data.get(k) == v for k, v in match.items())
