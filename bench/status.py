"""``haflow status`` of a big running workflow, part by part, against a baseline.

Offline (no lab): the CIB of a running workflow of N steps (chains of 10
Dummy steps, as bench/submit.py submits; every step started, the status
section as Pacemaker writes it) is generated, and each part of a status is
timed on its own, median of RUNS:

- interpreter start, then the imports of the status path (cli, commands,
  live_view, status, lxml);
- ``cibadmin --query``, with ``CIB_file`` (a live CIB answers it over IPC,
  slower: ``--live`` on a node measures that), and crm_mon on the unvalidated
  snapshot, which status runs only when the CIB alone does not tell each
  resource's role (an action in flight, a failure...: status/settled.py);
- parsing the CIB; the resources' view (read from the settled CIB, or crm_mon's
  XML parsed); the state machine (``workflow_status``); rendering as text,
  JSON and XML;
- the whole ``haflow status WORKFLOW`` command on the file (the local node's
  id stubbed: there is no corosync to ask).

Every part that is haflow's own also runs with the code of a git revision
(``--baseline``, default HEAD: what the working tree changes), extracted to a
temporary directory and imported from there in processes of its own, taking
turns with the working tree's; the ratio baseline ÷ now is printed: a figure
from the same run, on the same machine. ``--live WORKFLOW`` times the parts
on a cluster node against the live CIB instead (bench/submit.py runs it on
its lab's node).

    python bench/status.py [--steps 500] [--nodes 1] [--baseline REV]
    python bench/status.py --live WORKFLOW
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

RUNS = 5
REPO = Path(__file__).resolve().parent.parent
# haflow status exits 7 when a step has a problem: a status all the same
STATUS_EXIT = (0, 7)


def median_time(action: Callable[[], object], runs: int = RUNS) -> float:
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        took.append(time.perf_counter() - started)
    return statistics.median(took)


def run(argv: list[str], env: dict[str, str] | None = None, stdin: bytes | None = None,
        ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(argv, capture_output=True, input=stdin, env=env)
    if done.returncode not in ok:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return done


# ---- a running workflow, offline ----------------------------------------------------------


def workflow_json(name: str, steps: int) -> str:
    """Chains of 10 Dummy steps, as many as make ``steps`` (bench/submit.py's)."""
    body: dict[str, dict[str, Any]] = {}
    for i in range(steps):
        step: dict[str, Any] = {"agent": "ocf:pacemaker:Dummy"}
        if i % 10:
            step["after"] = [f"s{i - 1}"]
        body[f"s{i}"] = step
    return json.dumps({"name": name, "steps": body})


def _ms(interval: str) -> int:
    value = interval.rstrip("s")
    return int(float(value) * 1000) if value else 0


def running_cib(name: str, steps: int, nodes: int) -> etree._Element:
    """The workflow compiled into an empty ``nodes``-node CIB, every resource started
    (round robin over the nodes) and monitored, as the status section records it."""
    from haflow.coordinator.cluster import simulate
    from haflow.coordinator.workflow.compiler import compile_workflow, merge_into
    from haflow.coordinator.workflow.loader import loads

    cib = merge_into(simulate.skeleton(nodes), compile_workflow(loads(
        workflow_json(name, steps), f"{name}.json")))
    lrms = [s.find("lrm/lrm_resources") for s in cib.iterfind("status/node_state")]
    stamp = 1_800_000_000
    for i, prim in enumerate(cib.iterfind("configuration/resources/primitive")):
        holder = lrms[i % len(lrms)]
        assert holder is not None
        rid = prim.get("id", "")
        rsc = etree.SubElement(holder, "lrm_resource", {
            "id": rid, "class": prim.get("class", ""), "type": prim.get("type", "")})
        if prim.get("provider"):
            rsc.set("provider", prim.get("provider", ""))
        ops = [("last_0", "start", 0)] + [
            (f"monitor_{_ms(op.get('interval', '0'))}", "monitor", _ms(op.get("interval", "0")))
            for op in prim.iterfind("operations/op")
            if op.get("name") == "monitor" and _ms(op.get("interval", "0"))]
        for call, (suffix, task, interval) in enumerate(ops, start=2 * i + 1):
            stamp += 1
            key = f"{rid}_{task}_{interval}"
            etree.SubElement(rsc, "lrm_rsc_op", {
                "id": f"{rid}_{suffix}", "operation_key": key, "operation": task,
                "crm-debug-origin": "do_update_resource", "crm_feature_set": "3.16.1",
                "transition-key": f"{call}:1:0:bench", "transition-magic":
                f"0:0;{call}:1:0:bench", "exit-reason": "", "on_node": f"node{i % nodes + 1}",
                "call-id": str(call), "rc-code": "0", "op-status": "0",
                "interval": str(interval), "last-rc-change": str(stamp),
                "exec-time": "12", "queue-time": "0",
                "op-digest": "0123456789abcdef0123456789abcdef"})
    return cib


# ---- the baseline -------------------------------------------------------------------------


def baseline_tree(rev: str, folder: Path) -> dict[str, str] | str:
    """The environment that imports haflow as of ``rev`` (its files extracted below
    ``folder``, laid out as installed, as .ci/lint does); or why there is none."""
    import ast

    src, tree = folder / "src", folder / "tree"
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], capture_output=True)
    if archive.returncode != 0:
        return f"git archive {rev}: {archive.stderr.decode().strip()}"
    src.mkdir(parents=True)
    run(["tar", "-x", "-C", str(src)], stdin=archive.stdout)
    setup = (src / "setup.py").read_text()
    if "INSTALLED_FOLDERS = " in setup:
        folders: tuple[str, ...] = ast.literal_eval(
            setup.split("INSTALLED_FOLDERS = ", 1)[1].split("\n", 1)[0])
    else:  # older revisions listed every package by hand
        dirs: dict[str, str] = ast.literal_eval(
            setup.split("PACKAGE_DIRS = ", 1)[1].split("\n}\n", 1)[0] + "\n}")
        folders = tuple(path for name, path in dirs.items() if name.count(".") == 1)
    (tree / "haflow").mkdir(parents=True)
    for item in (src / "haflow_ns").iterdir():
        (tree / "haflow" / item.name).symlink_to(item)
    for folder in folders:  # nested packages come along with their folder
        (tree / "haflow" / folder).symlink_to(src / folder)
    # ahead of the editable install's finder, which comes after the path's
    return {"PYTHONPATH": str(tree)}


# ---- the parts ----------------------------------------------------------------------------


def in_process(cib_text: str, mon_text: str, name: str) -> dict[str, float]:
    """Seconds of parsing, the view of the resources, the state machine and each
    rendering, with the haflow this process imports (the working tree's, or a
    baseline's: one from before status read a settled view from the CIB parses crm_mon's
    XML instead, as it did)."""
    from haflow.coordinator import status

    render_workflow = _text_renderer()

    cib = etree.fromstring(cib_text.encode())
    from_cib = getattr(status, "view_from_cib", None)

    def view() -> Any:
        found = from_cib(cib) if from_cib is not None else None
        return found if found is not None else etree.fromstring(mon_text.encode())

    mon = view()
    wf = status.workflow_status(cib, mon, name)
    return {
        PARSE: median_time(lambda: etree.fromstring(cib_text.encode())),
        VIEW: median_time(view),
        "state machine (workflow_status)": median_time(
            lambda: status.workflow_status(cib, mon, name)),
        "render text": median_time(lambda: render_workflow(wf)),
        "render JSON": median_time(lambda: json.dumps(wf.to_dict(), indent=2,
                                                      sort_keys=True, default=str)),
        "render XML": median_time(lambda: etree.tostring(status.to_xml([wf]),
                                                         pretty_print=True,
                                                         encoding="unicode")),
    }


def _text_renderer() -> Callable[..., str]:
    """cli/live.py's render_workflow, or where an older baseline has it."""
    for where in ("haflow.coordinator.cli.live", "haflow.coordinator.live_cli"):
        try:
            found: Callable[..., str] = importlib.import_module(where).render_workflow
            return found
        except ImportError:
            continue
    raise ImportError("no render_workflow in haflow.coordinator.cli.live or .live_cli")


PARSE = "parse the CIB"  # lxml's: the same whatever haflow's code
# the settled view read from the CIB, or (unsettled, or a baseline from before) crm_mon's
# XML parsed
VIEW = "the resources' view (CIB or crm_mon)"
MON = "crm_mon on the snapshot (if unsettled)"


def import_seconds(args: list[str], env: dict[str, str] | None) -> float:
    """Seconds a python run of ``args`` spends importing (``-X importtime``: the top-level
    imports' cumulative times, which include the imports below them)."""
    done = run([sys.executable, "-X", "importtime", *args], env, ok=STATUS_EXIT)
    total = 0
    for line in done.stderr.decode().splitlines():
        fields = line.split("|")
        if line.startswith("import time:") and len(fields) == 3 and \
                fields[1].strip().isdigit() and not fields[2].startswith("   "):
            total += int(fields[1])
    return total / 1e6


def startup(name: str, env: dict[str, str] | None = None) -> dict[str, float]:
    """The interpreter's start, and the imports of ``haflow status NAME`` (any revision's:
    measured on the command itself, less what the bare interpreter imports)."""
    bare = median_time(lambda: run([sys.executable, "-c", "pass"], env))
    site = statistics.median(import_seconds(["-c", "pass"], env) for _ in range(RUNS))
    command = ["-m", "haflow.coordinator.cli", "status", name]
    imports = statistics.median(import_seconds(command, env) for _ in range(RUNS))
    return {"interpreter start": bare, "imports of the status path": imports - site}


def snapshot_mon(cib_text: str, env: dict[str, str] | None) -> list[str]:
    """crm_mon on the unvalidated snapshot, as live_view.read_live runs it."""
    from haflow.coordinator.cluster import live_view

    stdin = live_view.unvalidated(cib_text).encode()
    environ = {**(os.environ if env is None else env), **live_view.ON_SNAPSHOT}
    return [run(list(live_view.MON), environ, stdin).stdout.decode()]


def cluster_reads(cib_text: str, env: dict[str, str] | None) -> dict[str, float]:
    """cibadmin --query (on ``env``'s CIB) and crm_mon on the snapshot, as read_live."""
    return {"cibadmin --query": median_time(lambda: run(["cibadmin", "--query"], env)),
            MON: median_time(lambda: snapshot_mon(cib_text, env))}


def print_parts(parts: dict[str, float], before: dict[str, float] | None, rev: str) -> None:
    ratio = f"{rev[:12]} ÷ now" if before else ""
    print(f"  {'part':<40}{'now':>9}{rev[:12] if before else '':>14}{ratio:>18}")
    for part, took in parts.items():
        old = before.get(part) if before and part not in NOT_OURS else None
        shown = f"{old:>13.3f}s{old / took:>17.2f}×" if old is not None else ""
        print(f"  {part:<40}{took:>8.3f}s{shown}")


# parts whose code is not haflow's: timed once, with no ratio
NOT_OURS = (PARSE, "cibadmin --query", MON, "local node id")
ROUNDS = 3  # turns of the working tree and the baseline, each a process of its own


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {part: statistics.median(r[part] for r in runs) for part in runs[0]}


def offline(steps: int, nodes: int, rev: str) -> None:
    name = f"bench{steps}"
    with tempfile.TemporaryDirectory(prefix="haflow-bench-status-") as root:
        folder = Path(root)
        (folder / "running.xml").write_bytes(etree.tostring(running_cib(name, steps, nodes)))
        env = dict(os.environ, CIB_file=str(folder / "running.xml"))
        cib_text = run(["cibadmin", "--query"], env).stdout.decode()
        (folder / "cib.xml").write_text(cib_text)
        (folder / "mon.xml").write_text(snapshot_mon(cib_text, env)[0])
        # the whole command, on the file: the local node stubbed, there is no cluster
        # (crm_node for a baseline from before live_view asked corosync)
        stub = folder / "bin"
        stub.mkdir()
        for tool, answer in (("corosync-cmapctl", "runtime.votequorum.this_node_id (u32) = 1"),
                             ("crm_node", "node1")):
            (stub / tool).write_text(f"#!/bin/sh\necho '{answer}'\n")
            (stub / tool).chmod(0o755)
        env["PATH"] = f"{stub}:{env.get('PATH', '')}"
        found = baseline_tree(rev, folder / "baseline")
        trees: dict[str, dict[str, str]] = {"now": env}
        if not isinstance(found, str):
            trees[rev] = dict(env, **found)
        runs: dict[str, list[dict[str, float]]] = {label: [] for label in trees}
        for _ in range(ROUNDS):
            for label, tree_env in trees.items():
                done = run([sys.executable, __file__, "--parts", str(folder), name], tree_env)
                whole = median_time(lambda e=tree_env: run(  # type: ignore[misc]
                    [sys.executable, "-m", "haflow.coordinator.cli", "status", name], e,
                    ok=STATUS_EXIT))
                runs[label].append({**startup(name, tree_env), **json.loads(done.stdout),
                                    "the whole command (local node stubbed)": whole})
        now = {**medians(runs["now"]), **cluster_reads(cib_text, env)}
        order = ["interpreter start", "imports of the status path", "cibadmin --query",
                 MON, PARSE, VIEW, "state machine (workflow_status)",
                 "render text", "render JSON", "render XML",
                 "the whole command (local node stubbed)"]
        print(f"haflow status {name}: {steps} running steps on {nodes} node(s), offline "
              f"(CIB_file), medians of {RUNS} runs in {ROUNDS} turns\n")
        print_parts({part: now[part] for part in order},
                    medians(runs[rev]) if rev in runs else None, rev)
        if isinstance(found, str):
            print(f"  (no baseline: {found})")
        print("\ngoal: status on 500 steps < 0.5 s on a node (bench/submit.py measures it)")


def live(name: str) -> None:
    """The parts on this cluster node, against the live CIB (bench/submit.py), as JSON."""
    from haflow.coordinator.cluster import live_view

    cib_text = run(["cibadmin", "--query"]).stdout.decode()
    mon_text = snapshot_mon(cib_text, None)[0]
    parts = {**startup(name), **cluster_reads(cib_text, None),
             "local node id": median_time(lambda: run(list(live_view.LOCAL_NODE))),
             **in_process(cib_text, mon_text, name)}
    json.dump(parts, sys.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--baseline", default="HEAD", metavar="REV",
                        help="git revision whose code is the baseline (default HEAD)")
    parser.add_argument("--live", metavar="WORKFLOW",
                        help="time the parts on this node's live CIB; prints JSON")
    # one turn of the in-process parts, on DIR/cib.xml and DIR/mon.xml (offline's)
    parser.add_argument("--parts", nargs=2, metavar=("DIR", "WORKFLOW"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.parts:
        folder = Path(args.parts[0])
        json.dump(in_process((folder / "cib.xml").read_text(),
                             (folder / "mon.xml").read_text(), args.parts[1]), sys.stdout)
    elif args.live:
        live(args.live)
    else:
        offline(args.steps, args.nodes, args.baseline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
