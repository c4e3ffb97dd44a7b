"""A pytest plugin: no lab outlives the run that made it, even an interrupted one.

Fixtures tear their labs down, but only in a process that ends normally. When
the run is stopped (SIGINT or SIGTERM to pytest alone, as CI's timeout or a
``kill`` sends it), pytest-xdist kills its workers, their finalizers never run,
and the labs' daemons, namespaces and mounts stay behind (seen after an
interrupted fresh-clone run). So the controller, the last to end, sweeps every
lab left under the run's temporary tree.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest


def is_controller(config: pytest.Config) -> bool:
    """The process that outlives all others: xdist's controller, or the only one."""
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if is_controller(config):
        # SIGTERM by default ends Python at once, skipping the sweep below: make it
        # an interrupt, which pytest ends the run on as it does for Ctrl-C
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def leftover_labs(base: Path) -> list[Path]:
    """The lab folders (each holds its lab.json) under a run's temporary tree. A lab's
    own tree is not searched: it holds no lab of its own."""
    found: list[Path] = []
    for here, dirs, files in os.walk(base):
        if "lab.json" in files:
            found.append(Path(here))
            dirs.clear()
    return found


def pytest_unconfigure(config: pytest.Config) -> None:
    if not is_controller(config) or os.environ.get("HAFLOW_KEEP_LABS") == "1":
        return
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None or factory._basetemp is None:  # no test asked for a temporary path
        return
    from haflow.lab import control

    for folder in leftover_labs(factory.getbasetemp()):
        layout = control.layout_for(folder.name, folder.parent)
        result = control.teardown(layout)
        print(f"\nlabsweep: lab {layout.name} was left by an interrupted test process; "
              f"removed it ({result['processes_killed']} processes, "
              f"{result['namespaces_removed']} namespaces, {result['mounts_removed']} mounts)")
