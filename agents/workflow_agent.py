"""``ocf:haflow:workflow``: the root of a workflow.

The first steps start after it (an Optional order: it may move without
restarting any step) and it stops after them (a one-way Mandatory order).
Abort and rollback set target-role=Stopped on it and on every step in one
change; Pacemaker stops the steps in reverse dependency order and the root
last, and its stop finishes any undo that was cut short, then checkpoints what
the steps recorded (agents/checkpoint.py).
It has no effect of its own; it carries the workflow's name and description
so that ``pcs resource config`` and crm_mon tell what it is.
"""

from __future__ import annotations

import sys

from haflow.agents import ocfcodes
from haflow.agents.framework import OcfError, run
from haflow.agents.params import Param
from haflow.agents.step import Outputs, StepAgent, StepContext
from haflow.encoding.ids import sweep_set_id
from haflow.encoding.meta import PARAM_DESCRIPTION, PARAM_WORKFLOW


class WorkflowAgent(StepAgent):
    name = "workflow"
    version = "1.0"
    shortdesc = "Root of a haflow workflow"
    longdesc = ("The root resource of a haflow workflow. Its first steps are ordered after "
                "it; aborting the workflow stops it after every step, each step undone in "
                "reverse dependency order, and its stop then finishes any undo that was cut "
                "short. It has no effect of its own.")
    params = (
        Param(PARAM_DESCRIPTION, shortdesc="What the workflow does", reloadable=True,
              longdesc="A human-readable description of the workflow.", default=""),
    )
    monitor_interval = 30
    tracks_effect = False  # nothing to undo; and one CIB write less per node and start
    records_history = False  # the history leaves out the root's successful actions

    def start(self) -> int:
        """Started again after a fencing cut a rollback's sweep short (the alert agent's
        sweep set, agents/alert/agent.py): dropping that override makes Pacemaker stop the root
        once more, and its stop sweeps. Done here, not by the start's alert, so that a
        CIB that does not answer fails the start, which Pacemaker retries."""
        code = super().start()
        from haflow.agents import cibio

        try:
            cibio.delete_meta_set(sweep_set_id(self.workflow))
        except cibio.CibUnavailable as exc:
            raise OcfError(ocfcodes.ERR_GENERIC, str(exc)) from None
        return code

    def validate(self) -> list[str]:
        if not self.values.get(PARAM_WORKFLOW):
            return ["parameter 'workflow' is required for a workflow root"]
        return []

    def do(self, ctx: StepContext) -> Outputs | None:
        return None

    def undo(self, ctx: StepContext) -> None:
        """Every step has stopped before the root: finish any undo that was cut short."""
        from haflow.agents.sweep import sweep

        remaining = ctx.remaining()
        swept = sweep(ctx.workflow, self.log, timeout_s=max(5.0, (remaining or 60.0) - 2.0))
        from haflow.agents import checkpointer

        checkpointer.request(ctx.workflow, self.log)  # what the undos recorded, made durable
        ctx.log(f"workflow {ctx.workflow} is stopped: every step has been undone"
                + (f" (finished the undo of {', '.join(swept)})" if swept else ""))

    def check(self, ctx: StepContext) -> bool | Outputs:
        return True  # nothing outside this node: the marker is the whole state


def main() -> int:
    return run(WorkflowAgent)


if __name__ == "__main__":
    sys.exit(main())
