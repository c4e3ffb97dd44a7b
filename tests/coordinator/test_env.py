"""Env.run_together: commands side by side, results in order, a hung one ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from haflow.coordinator.cluster.env import Env
from haflow.coordinator.reports import HaflowError

pytestmark = pytest.mark.tier0


def test_commands_run_at_the_same_time_and_come_back_in_order(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    # the first waits for what the second does: run one after the other, it would not see it
    waits = f"for i in $(seq 300); do [ -e {flag} ] && echo one && exit 0; sleep 0.1; done; exit 1"
    first, second = Env().run_together(["sh", "-c", waits],
                                       ["sh", "-c", f"touch {flag}; echo two >&2; exit 3"])
    assert (first.returncode, first.stdout) == (0, "one\n")
    assert (second.returncode, second.stderr) == (3, "two\n")


def test_a_command_that_does_not_answer_is_a_timeout_and_is_killed() -> None:
    with pytest.raises(HaflowError, match="did not answer within"):
        Env().run_together(["true"], ["sleep", "30"], timeout=0.5)


def test_a_missing_tool_is_named() -> None:
    with pytest.raises(HaflowError, match="no-such-tool is not installed"):
        Env().run_together(["true"], ["no-such-tool"])
