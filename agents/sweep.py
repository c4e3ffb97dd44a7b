"""The last act of a rollback: undo whatever effect a step may still have.

A step's undo can be cut short: its node is fenced in the middle of it (and
Pacemaker then counts the step as stopped), or the step failed half-way
under policy hold and the admin aborts later, or its node crashed mid-start
and the abort came before a recovery. Every step records in the CIB whether
its effect may exist (live state under ``<status>``, meta.EFFECT_STATUS_PREFIX:
``pending`` once ``do`` begins, ``present`` once it is done, cleared by a
completed undo; its durable copy meta.EFFECT_META when the status section was
lost: encoding/live.py). When the
workflow's root stops on purpose — after the first steps' stops (a one-way
mandatory order), so the normal undos have run in reverse order — it runs
the ``stop`` of each step still flagged, as Pacemaker would, dependents
before the steps they depend on: that stop sees the workflow stopped and
undoes. A cut-short undo is usually finished before that: the stop of a step
it depends on runs its stop first (``undo_step``, from agents/step.py), so
that no undo runs while a dependent's effect may exist. That includes a step Pacemaker holds as
blocked (its start failed under policy hold, or its stop failed): nothing
else would ever undo it. Undo is idempotent, so a sweep that finds nothing
to do is harmless. A root whose node is fenced during the undo stops by the
fencing alone, and its sweep does not run: the DC's alert agent then starts
the root again on a live node, so that it stops once more and sweeps there
(agents/alert/agent.py; fault scenario crash-undo).
"""

from __future__ import annotations

import os
import subprocess

from haflow.encoding import read
from haflow.encoding.ids import PROVIDER

TYPE_CHECKING = False
if TYPE_CHECKING:
    import xml.etree.ElementTree as ET
    from collections.abc import Callable


UNDOING_ENV = "HAFLOW_UNDOING"  # the steps whose stop runs this one's (a cycle guard)


def step_environment(primitive: ET.Element, timeout_s: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCF_RESKEY_")}
    env["OCF_RESOURCE_INSTANCE"] = primitive.get("id", "")
    env["OCF_RESOURCE_TYPE"] = primitive.get("type", "")
    env["OCF_RESOURCE_PROVIDER"] = PROVIDER
    env["OCF_RESKEY_CRM_meta_timeout"] = str(int(timeout_s * 1000))
    for name, value in read.params(primitive).items():
        env[f"OCF_RESKEY_{name}"] = value
    return env


def undo_step(primitive: ET.Element, log: Callable[[str, str], None], timeout_s: float,
              caller: str = "") -> bool:
    """Run the step's ``stop`` here, as Pacemaker would: the workflow is stopped, so it
    undoes (its own flagged dependents first). ``caller``: the step whose stop asks."""
    rid = primitive.get("id", "")
    ocf_root = os.environ.get("OCF_ROOT") or "/usr/lib/ocf"
    agent = os.path.join(ocf_root, "resource.d", PROVIDER, primitive.get("type", ""))
    env = step_environment(primitive, timeout_s)
    if caller:
        env[UNDOING_ENV] = ",".join(filter(None, (os.environ.get(UNDOING_ENV), caller)))
    try:
        done = subprocess.run([agent, "stop"], env=env, capture_output=True, text=True,
                              timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log("ERROR", f"undoing {rid} failed: {exc}")
        return False
    if done.returncode != 0:
        log("ERROR", f"undoing {rid} failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-300:]}")
        return False
    return True


def sweep(workflow: str, log: Callable[[str, str], None], timeout_s: float = 60.0) -> list[str]:
    """Run the stop (an undo, since the workflow is stopped) of every flagged step,
    dependents before the steps they depend on.

    Returns the steps swept; a step whose undo failed is logged and left
    flagged, so ``haflow status`` and ``haflow remove`` still report it.
    """
    from haflow.agents import cibio

    cib = cibio.workflow_configuration(workflow)
    flagged = {p.get("id", ""): p for p in read.flagged_steps(cib, workflow)}
    swept = []
    for rid in read.undo_order(read.dependencies(cib, workflow), flagged):
        log("WARNING", f"{rid} may still have an effect (its undo was cut short, or it "
            "failed half-way): undoing it now")
        if undo_step(flagged[rid], log, timeout_s):
            swept.append(rid)
    return swept
