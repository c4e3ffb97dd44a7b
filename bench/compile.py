"""bench/compile: haflow's own time (validate + compile) beside the scheduler's on the result.

For workflows of 50, 500 and 5,000 steps (one workflow each, haflow's ``test``
agent, a layered DAG of width 10), measures from the YAML text:

- validate: YAML -> schema -> model -> semantic checks (the loader);
- compile: the workflow -> its CIB fragment as text (what ``haflow compile`` does);

and beside it ``crm_simulate`` scheduling the CIB that fragment makes in a
cluster skeleton, with the nodes coming up. Goal: haflow's time stays under 10%
of the scheduler's on the same CIB. The merge of the fragment into a CIB (part
of ``haflow submit``, timed by bench/submit) is shown beside, not counted.

    python bench/compile.py [--steps 50 500 5000] [--nodes 32] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from lxml import etree

from haflow.coordinator.cluster import simulate
from haflow.coordinator.workflow.compiler import compile_workflow, merge_into
from haflow.coordinator.workflow.loader import loads
from haflow.coordinator.workflow.model import Workflow

WIDTH = 10
T = TypeVar("T")


def workflow_text(steps: int, agent: str = "test") -> str:
    """One workflow of ``steps`` steps: layers of WIDTH, each step after one or two above."""
    lines = [f"name: bench{steps}", "description: bench/compile", "steps:"]
    for i in range(steps):
        after = [f"s{i - WIDTH}"] if i >= WIDTH else []
        if i >= WIDTH + 1 and i % WIDTH:
            after.append(f"s{i - WIDTH - 1}")
        lines += [f"  s{i}:", f"    agent: {agent}"]
        if after:
            lines.append(f"    after: [{', '.join(after)}]")
    return "\n".join(lines) + "\n"


def compile_to_text(workflow: Workflow) -> bytes:
    return compile_workflow(workflow).to_xml()


def compile_and_merge(base: etree._Element, workflow: Workflow) -> etree._Element:
    return merge_into(base, compile_workflow(workflow))


def timed(fn: Callable[[], T], runs: int) -> tuple[T, float]:
    """The result of the last run and the median CPU time over ``runs``.

    CPU time on both sides (ours in-process, crm_simulate's as a child): wall
    time would also count waiting for a core on a busy machine.
    """
    times, result = [], None
    for _ in range(runs):
        started = time.process_time()
        result = fn()
        times.append(time.process_time() - started)
    assert result is not None
    return result, statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[50, 500, 5000])
    parser.add_argument("--nodes", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3, help="runs of haflow's part (median)")
    args = parser.parse_args(argv)
    # the nodes up in the CIB, as bench/schedule: crm_simulate --node-up's own edits
    # of the file CIB would count as the scheduler's time; shown beside for reference
    base = simulate.skeleton(args.nodes, online=True)
    offline = simulate.skeleton(args.nodes, online=False)
    nodes = simulate.node_names(offline)
    print(f"haflow validate+compile vs crm_simulate --run ({args.nodes} nodes coming up), "
          "CPU seconds; goal: haflow < 10% of the scheduler\n(beside: the same with the "
          "nodes brought up by crm_simulate --node-up, its own edits of the file included)")
    print(f"{'steps':>6} {'validate s':>10} {'compile s':>9} {'us/step':>8} "
          f"{'scheduler s':>11} {'haflow %':>8} {'--node-up s':>11} {'haflow %':>8} "
          f"{'merge s':>7}")
    failed = False
    for steps in args.steps:
        text = workflow_text(steps)
        workflow, validate = timed(partial(loads, text, f"bench{steps}.yaml"), args.runs)
        _, compile_ = timed(partial(compile_to_text, workflow), args.runs)
        cib, merge = timed(partial(merge_into, base, compile_workflow(workflow)), args.runs)
        scheduler = simulate.run(cib, simulate=False).cpu_seconds
        injected = simulate.run(compile_and_merge(offline, workflow), simulate=False,
                                node_up=nodes).cpu_seconds
        ours = validate + compile_
        share = 100 * ours / scheduler
        failed |= share >= 10
        print(f"{steps:>6} {validate:10.3f} {compile_:9.3f} {1e6 * ours / steps:8.0f} "
              f"{scheduler:11.2f} {share:7.1f}% {injected:11.2f} {100 * ours / injected:7.1f}% "
              f"{merge:7.3f}",
              flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
