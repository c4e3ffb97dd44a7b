"""The Env of a lab node: haflow's commands run there through nsenter.

Registered as the ``lab`` provider of the ``haflow.env`` entry points (setup.py), so
that ``--lab NAME`` works without the coordinator importing the lab.
"""

from __future__ import annotations

from pathlib import Path

from haflow.coordinator.cluster.env import Env
from haflow.lab import control, power


def for_lab(lab: str, node: str | None = None, root: str | None = None) -> Env:
    """An Env that runs as ``node`` of lab ``lab`` (default: the first node powered on)."""
    layout = control.layout_for(lab, Path(root) if root else None)
    nodes = control.nodes_of(layout)
    if node is None:
        node = next((n for n in nodes if power.is_on(layout, n)), nodes[0])
    # node_command() with no argv is exactly the prefix: nsenter ... --
    return Env(prefix=tuple(control.node_command(layout, node, [])),
               description=f"{node} of lab {lab}", node=node)
