"""The API against the CLI: status of a big running workflow, and 50 clients polling.

In one run, on a 1-node lab: a workflow of N Dummy steps (chains of 10, as
bench/submit.py submits), submitted in maintenance mode, so that Pacemaker is idle
and the cluster's CPU without the pollers is as small as it gets (the hardest
baseline for the pollers' share); ``--running`` starts every step first (minutes
for 500 on a loaded 2-core machine). Then:

- ``haflow status WF --output-as json`` on the node (what an admin runs; a new process
  and a synced read each time), median of RUNS;
- ``GET /v1/workflows/WF`` from a real ``haflow serve`` on the node, from a client
  inside the lab's network, median of REQUESTS (the answer comes from the snapshot,
  refreshed when the CIB changes, not from a read per request);
- the cluster's own CPU (corosync and Pacemaker's daemons on the node, from /proc)
  over WINDOW seconds with the API idle, then with POLLERS clients each asking the
  workflow's status every POLL_S seconds; the added CPU is printed as a ratio of the
  idle window's, beside the API process's own CPU and the pollers' median latency. The
  pollers are threads of POLLER_PROCESSES processes on the node (each a keep-alive
  connection, stdlib http.client): one Python process for all 50 measured its own
  lock contention more than the server.

Goals: the API answers in < 0.1 s at the median; 50 pollers add < 10 % to the
cluster's own CPU.

    python bench/api.py [--steps 500] [--pollers 50] [--window 30]
"""

from __future__ import annotations

import argparse
import json
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
POLLER_PROCESSES = 5
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


def poller(host: str, port: int, path: str, threads: int, seconds: float) -> None:
    """Run as a process on the node: ``threads`` clients asking ``path`` every POLL_S s
    for ``seconds``; the token on stdin, every latency as JSON on stdout."""
    import http.client

    auth = {"Authorization": f"Bearer {sys.stdin.read().strip()}"}
    took: list[float] = []

    def run() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            conn.request("GET", path, headers=auth)
            answer = conn.getresponse()
            answer.read()
            took.append(time.perf_counter() - started)
            if answer.status != 200:
                sys.exit(f"GET {path}: {answer.status}")
            time.sleep(POLL_S)

    clients = [threading.Thread(target=run) for _ in range(threads)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    print(json.dumps(took))


def _output(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    out = process.stdout.read()
    process.wait()
    return out


def window(layout: LabLayout, seconds: float, serve_pid: int) -> tuple[float, float]:
    """(the cluster daemons' CPU seconds, the API's) over ``seconds``."""
    procs = node_processes(layout, "node1")
    daemons = [p for p, name in procs.items() if name in CLUSTER_DAEMONS]
    before = cpu_seconds(daemons), cpu_seconds([serve_pid])
    time.sleep(seconds)
    return cpu_seconds(daemons) - before[0], cpu_seconds([serve_pid]) - before[1]


def main() -> int:
    if sys.argv[1:2] == ["--poller"]:
        host, _, port = sys.argv[2].rpartition(":")
        poller(host, int(port), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
        return 0
    control.end_on_sigterm()  # a killed run still takes its lab down
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--running", action="store_true",
                        help="start every step before measuring (not in maintenance mode)")
    args = parser.parse_args()
    name = f"api{args.steps}"
    with tempfile.TemporaryDirectory(prefix="haflow-bench-") as root:
        folder = Path(root)
        os.chmod(folder, 0o755)
        layout = control.layout_for("benchapi", folder)
        control.up(layout, 1)
        try:
            path = workflow_file(folder, name, args.steps)
            if not args.running:
                control.run_on(layout, "node1", ["crm_attribute", "--type", "crm_config",
                                                 "--name", "maintenance-mode", "--update",
                                                 "true"])
            subprocess.run([sys.executable, "-m", "haflow.coordinator.cli", "submit",
                            str(path), "--lab", layout.name, "--lab-root", str(folder)],
                           check=True, capture_output=True)
            if args.running:
                control.run_on(layout, "node1", ["crm_resource", "--wait", "--timeout=1200"],
                               timeout=1230)
            tok = token(layout, "bench", "viewer")
            cli = cli_status(layout, name)
            with serving(layout, "node1", f"127.0.0.1:{PORT}", folder / "serve.log") as serve:
                http = LabHttp(layout, "node1", f"http://127.0.0.1:{PORT}",
                               workers=args.pollers)
                wait_healthy(http)
                serve_pid = serve.pid  # nsenter execs the server: the same process
                api = api_latencies(http, tok, f"/v1/workflows/{name}", REQUESTS)
                idle = window(layout, args.window, serve_pid)
                http.close()
                per = -(-args.pollers // POLLER_PROCESSES)
                pollers = [subprocess.Popen(
                    control.node_command(layout, "node1", [
                        sys.executable, str(Path(__file__).resolve()), "--poller",
                        f"127.0.0.1:{PORT}", f"/v1/workflows/{name}",
                        str(min(per, args.pollers - i * per)), str(args.window + 2)]),
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                    for i in range(POLLER_PROCESSES) if args.pollers > i * per]
                for process in pollers:
                    assert process.stdin is not None
                    process.stdin.write(tok)
                    process.stdin.close()
                time.sleep(1)  # every poller connected
                busy = window(layout, args.window, serve_pid)
                seen = [t for p in pollers for t in json.loads(_output(p) or "[]")]
        finally:
            control.teardown(layout)
    added = (busy[0] - idle[0]) / idle[0] if idle[0] else float("inf")
    how = "every step started" if args.running else "in maintenance mode"
    print(f"status of a {args.steps}-step workflow (1-node lab, {how})\n")
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
