"""``submit``: a workflow file applied to the cluster as one atomic change."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from haflow.coordinator.cluster.env import Env
    from haflow.coordinator.workflows import Submitted


def submit_file(env: Env, path: str, replace: bool = False) -> Submitted:
    """Load, validate and submit the workflow in ``path`` (all of it, or nothing)."""
    from haflow.coordinator import workflows
    from haflow.coordinator.workflow.loader import load

    return workflows.submit(env, load(path), replace=replace)


def missing_alert_agent(env: Env) -> str | None:
    """Why rollback and history will not work on ``env``'s node, or None: both need the
    alert agent installed on every node."""
    from haflow.agents import install

    path = str(install.alert_path(install.ocf_root()))
    if env.run(["test", "-x", path]).returncode == 0:
        return None
    return (f"the alert agent is not installed at {path} on {env.description}: failure "
            "policy rollback and 'haflow history' need it on every node "
            "('haflow agents install')")
