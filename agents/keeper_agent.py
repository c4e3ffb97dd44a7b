"""``ocf:haflow:keeper``: the secrets keeper, cloned on every node (``haflow secrets set``
adds the clone): each node's copy of the secrets in step with the others over Corosync,
a node that joins later brought up to date when its keeper starts
(coordinator/cluster/secret_store.py). Ready: it has merged the others' secrets.
"""

from __future__ import annotations

import sys

from haflow.agents.daemon import HAFLOW_PARAM, RUN_DIR, DaemonAgent
from haflow.agents.framework import run

READY_FILE = f"{RUN_DIR}/keeper.ready"


class KeeperAgent(DaemonAgent):
    name = "keeper"
    version = "1.0"
    shortdesc = "haflow's secrets keeper (one per node)"
    longdesc = ("Keeps this node's root-only copy of haflow's secrets in step with the other "
                "nodes' over Corosync; clone it on every node.")
    params = (HAFLOW_PARAM,)

    def argv(self) -> list[str]:
        return ["secrets", "keep", "--ready-file", READY_FILE]

    def ready(self, timeout: float) -> str | None:
        import os

        return None if os.path.exists(READY_FILE) else "the keeper has not synced yet"


def main() -> int:
    return run(KeeperAgent)


if __name__ == "__main__":
    sys.exit(main())
