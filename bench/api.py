"""The API against the CLI: status of a big running workflow, and 50 clients polling.

In one run, on a 1-node lab: a workflow of N Dummy steps (chains of 10, as
bench/submit.py submits) runs, every step started. Then:

- ``haflow status WF --output-as json`` on the node (what an admin runs; a new process
  and a synced read each time), median of RUNS;
- ``GET /v1/workflows/WF`` from a real ``haflow serve`` on the node, from a client
  inside the lab's network, median of REQUESTS (the answer comes from the snapshot,
  refreshed when the CIB changes, not from a read per request);
- the cluster's own CPU (corosync and Pacemaker's daemons on the node, from /proc)
  over WINDOW seconds with the API idle, then with POLLERS clients each asking the
  workflow's status every POLL_S seconds; the added CPU is printed as a ratio of the
  idle window's, beside the API process's own CPU and the pollers' median latency.

Goals: the API answers in < 0.1 s at the median; 50 pollers add < 10 % to the
cluster's own CPU.

    python bench/api.py [--steps 500] [--pollers 50] [--window 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from haflow.lab import control, power
from haflow.lab.layout import LabLayout

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.service.apitools: the client inside the lab's network

from bench.submit import workflow_file  # noqa: E402
from tests.service.apitools import LabHttp, serving, token, wait_healthy  # noqa: E402

RUNS = 5
REQUESTS = 50
POLL_S = 1.0
PORT = 18500
CLUSTER_DAEMONS = ("corosync", "pacemakerd", "pacemaker-based", "pacemaker-fenced",
                   "pacemaker-execd", "pacemaker-attrd", "pacemaker-schedulerd",
                   "pacemaker-controld")
TICKS = os.sysconf("SC_CLK_TCK")


def node_processes(layout: LabLayout, node: str) -> dict[int, str]:
    """pid -> command name of every process in ``node``'s network namespace."""
    pid = power.init_pid(layout, node)
    want = os.readlink(f"/proc/{pid}/ns/net")
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/net") == want:
                found[int(entry)] = Path(f"/proc/{entry}/comm").read_text().strip()
        except OSError:
            continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / TICKS


def cli_status(layout: LabLayout, name: str) -> float:
    argv = control.node_command(layout, "node1", [sys.executable, "-m",
                                                  "haflow.coordinator.cli", "status", name,
                                                  "--output-as", "json"])
    took = []
    for _ in range(RUNS):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True)
        took.append(time.perf_counter() - started)
        if done.returncode not in (0, 7):
            sys.exit(f"haflow status failed: {done.stderr.decode()[-500:]}")
    return statistics.median(took)


def api_latencies(http: LabHttp, tok: str, path: str, count: int) -> list[float]:
    took = []
    for _ in range(count):
        started = time.perf_counter()
        answer = http.get(path, tok)
        took.append(time.perf_counter() - started)
        if answer.status_code != 200:
            sys.exit(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    return took


def window(layout: LabLayout, seconds: float, serve_pid: int) -> tuple[float, float]:
    """(the cluster daemons' CPU seconds, the API's) over ``seconds``."""
    procs = node_processes(layout, "node1")
    daemons = [p for p, name in procs.items() if name in CLUSTER_DAEMONS]
    before = cpu_seconds(daemons), cpu_seconds([serve_pid])
    time.sleep(seconds)
    return cpu_seconds(daemons) - before[0], cpu_seconds([serve_pid]) - before[1]


def main() -> int:
    control.end_on_sigterm()  # a killed run still takes its lab down
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--window", type=float, default=30.0)
    args = parser.parse_args()
    name = f"api{args.steps}"
    with tempfile.TemporaryDirectory(prefix="haflow-bench-") as root:
        folder = Path(root)
        os.chmod(folder, 0o755)
        layout = control.layout_for("benchapi", folder)
        control.up(layout, 1)
        try:
            path = workflow_file(folder, name, args.steps)
            subprocess.run([sys.executable, "-m", "haflow.coordinator.cli", "submit",
                            str(path), "--lab", layout.name, "--lab-root", str(folder)],
                           check=True, capture_output=True)
            control.run_on(layout, "node1", ["crm_resource", "--wait", "--timeout=600"],
                           timeout=630)
            tok = token(layout, "bench", "viewer")
            cli = cli_status(layout, name)
            with serving(layout, "node1", f"127.0.0.1:{PORT}", folder / "serve.log") as serve:
                http = LabHttp(layout, "node1", f"http://127.0.0.1:{PORT}",
                               workers=args.pollers)
                wait_healthy(http)
                serve_pid = serve.pid  # nsenter execs the server: the same process
                api = api_latencies(http, tok, f"/v1/workflows/{name}", REQUESTS)
                idle = window(layout, args.window, serve_pid)
                stop = threading.Event()
                seen: list[float] = []

                def poll() -> None:
                    while not stop.is_set():
                        seen.extend(api_latencies(http, tok, f"/v1/workflows/{name}", 1))
                        stop.wait(POLL_S)

                threads = [threading.Thread(target=poll, daemon=True)
                           for _ in range(args.pollers)]
                for thread in threads:
                    thread.start()
                busy = window(layout, args.window, serve_pid)
                stop.set()
                for thread in threads:
                    thread.join()
                http.close()
        finally:
            control.teardown(layout)
    added = (busy[0] - idle[0]) / idle[0] if idle[0] else float("inf")
    print(f"status of a {args.steps}-step running workflow (1-node lab, every step started)\n")
    print(f"  haflow status --output-as json (on the node):  {cli:.3f} s (median of {RUNS})")
    print(f"  GET /v1/workflows/{name} (haflow serve): {statistics.median(api):.4f} s median, "
          f"{max(api):.4f} s max (of {REQUESTS}); CLI ÷ API {cli / statistics.median(api):.0f}×")
    print(f"\n{args.pollers} clients polling every {POLL_S:g} s, {args.window:g} s windows:")
    print(f"  cluster daemons' CPU: {idle[0]:.2f} s idle, {busy[0]:.2f} s polled: "
          f"{added * 100:+.1f} %")
    print(f"  haflow serve's CPU:   {idle[1]:.2f} s idle, {busy[1]:.2f} s polled "
          f"({len(seen)} answers, {statistics.median(seen):.4f} s median latency)")
    print("\ngoals: the API answers in < 0.1 s at the median; the pollers add < 10 % to the "
          "cluster's own CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
