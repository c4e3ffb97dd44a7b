"""Fixtures shared by the agent tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents.agentrun import installed_for_everyone


@pytest.fixture(scope="session")
def everyone_root() -> Iterator[Path]:
    """haflow's agents installed where the user ``nobody`` can run them (for ocf-tester)."""
    if shutil.which("ocf-tester") is None:
        pytest.fail("ocf-tester (Debian's resource-agents) is missing: run the README's "
                    "test command")
    folder = Path(tempfile.mkdtemp(prefix="haflow-ocf-", dir="/var/tmp"))
    try:
        yield installed_for_everyone(folder / "ocf")
    finally:
        shutil.rmtree(folder)
