"""Monitor latency of haflow's agents against stock agents and a bare interpreter.

Every agent's monitor runs on every interval on every node, so its start-up
is the cost that matters. In one run, this times ``monitor`` (a running
resource, as Pacemaker sees it most of the time) of:

- ``ocf:haflow:exec`` and ``ocf:haflow:test`` (launchers from ``haflow agents install``),
- ``ocf:heartbeat:Dummy`` (shell), ``ocf:heartbeat:dummypy`` (Python, on resource-agents' ocf.py),
- ``python3 -I -S -c pass`` with the same interpreter: the floor for any Python agent,

and prints each median as a ratio to the bare interpreter. Goals: haflow's
monitor ≤ 1.3× the bare interpreter and ≥ 4× faster than the ocf.py agent.

    python bench/agent_latency.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STOCK = Path("/usr/lib/ocf/resource.d/heartbeat")


def once(argv: list[str], env: dict[str, str], expect: int) -> float:
    """Wall time (ms) of one run, which must exit ``expect``."""
    start = time.perf_counter()
    code = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode
    elapsed = (time.perf_counter() - start) * 1000
    if code != expect:
        sys.exit(f"{' '.join(argv)} exited {code}, expected {expect}")
    return elapsed


def interleaved(candidates: dict[str, tuple[list[str], dict[str, str]]],
                runs: int) -> dict[str, float]:
    """Median per candidate, running them round-robin so that they share the noise
    of a busy machine instead of each catching a different moment of it."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(runs):
        for name, (argv, env) in candidates.items():
            samples[name].append(once(argv, env, 0))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    from haflow.agents import install

    with tempfile.TemporaryDirectory(prefix="haflow-bench-") as tmp:
        root = Path(tmp) / "ocf"
        install.install(str(root))
        state, run_dir = Path(tmp) / "state", Path(tmp) / "run"
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OCF_ROOT": "/usr/lib/ocf",
                "OCF_RESKEY_CRM_meta_interval": "10000", "OCF_RESKEY_CRM_meta_timeout": "20000",
                "HAFLOW_RUN_DIR": str(run_dir), "CIB_file": str(Path(tmp) / "cib.xml")}
        empty = subprocess.run(["cibadmin", "--empty"], check=True, capture_output=True)
        (Path(tmp) / "cib.xml").write_bytes(empty.stdout)
        agents = {
            "ocf:haflow:exec": (root / "resource.d/haflow/exec",
                                {"OCF_RESKEY_do": "true"}),
            "ocf:haflow:test": (root / "resource.d/haflow/test",
                                {"OCF_RESKEY_state_dir": str(state)}),
            "ocf:heartbeat:Dummy": (STOCK / "Dummy",
                                    {"OCF_RESKEY_state": str(Path(tmp) / "dummy.state")}),
            "ocf:heartbeat:dummypy (ocf.py)": (STOCK / "dummypy",
                                               {"OCF_RESKEY_state": str(Path(tmp) / "py.state")}),
        }
        bare = [sys.executable, "-I", "-S", "-c", "pass"]
        candidates = {"python3 -I -S -c pass": (bare, base)}
        for name, (path, params) in agents.items():
            env = {**base, **params, "OCF_RESOURCE_INSTANCE": "bench.step"}
            subprocess.run([str(path), "start"], env=env, check=True, capture_output=True)
            candidates[name] = ([str(path), "monitor"], env)
        results = interleaved(candidates, args.runs)
        for name in agents:
            argv, env = candidates[name]
            subprocess.run([argv[0], "stop"], env=env, capture_output=True)

    floor = results["python3 -I -S -c pass"]
    ocfpy = results["ocf:heartbeat:dummypy (ocf.py)"]
    print(f"monitor latency, median of {args.runs} runs each\n")
    print(f"{'agent':<34}{'ms':>8}{'× bare python':>16}{'ocf.py ÷ this':>16}")
    for name, ms in results.items():
        print(f"{name:<34}{ms:>8.2f}{ms / floor:>16.2f}{ocfpy / ms:>16.2f}")
    worst = max(results["ocf:haflow:exec"], results["ocf:haflow:test"])
    print(f"\nhaflow monitor: {worst / floor:.2f}× the bare interpreter (goal ≤ 1.3), "
          f"{ocfpy / worst:.1f}× faster than the ocf.py agent (goal ≥ 4)")


if __name__ == "__main__":
    main()
