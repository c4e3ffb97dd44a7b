"""Several workflows in one command: ``haflow submit FILE...`` and ``haflow abort WF...``
(``--all``) make one CIB change, and are all-or-nothing (issue 15)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from subprocess import CompletedProcess

import pytest

from haflow.coordinator.cluster import livecib
from haflow.coordinator.cluster.env import Env
from haflow.coordinator.commands.abort import abort_many
from haflow.coordinator.commands.submit import submit_files
from haflow.coordinator.exitcodes import ExitCode
from haflow.coordinator.reports import HaflowError
from haflow.encoding import read
from tests.live.conftest import Live

pytestmark = pytest.mark.tier1


@dataclass(frozen=True)
class Counting(Env):
    """The lab node's Env, counting the CIB patches pushed through it."""

    patches: list[str] = field(default_factory=list)

    def run(self, argv: Sequence[str], input: str | None = None,
            timeout: float = 60.0) -> CompletedProcess[str]:
        if "--patch" in argv:
            self.patches.append(input or "")
        return super().run(argv, input, timeout)


def counting(live: Live) -> Counting:
    fields = {f.name: getattr(live.env, f.name) for f in dataclasses.fields(live.env)}
    return Counting(**fields)


def test_submit_and_abort_of_several_workflows_are_one_change_each(live1: Live) -> None:
    names = ["t1many1", "t1many2", "t1many3"]
    paths = [live1.workflow(n, {"a": {}, "b": {"after": ["a"]}}) for n in names]
    live1.submitted.extend(names)
    env = counting(live1)
    done = submit_files(env, [str(p) for p in paths])
    assert [d.workflow for d in done] == names and len(env.patches) == 1
    cib = livecib.query(live1.env)
    assert all(read.root_of(cib, n) is not None for n in names)
    for name in names:
        live1.wait_state(name, ("done",))
    assert abort_many(env, names[:2]) == names[:2] and len(env.patches) == 2
    cib = livecib.query(live1.env)
    assert [read.aborted(cib, n) for n in names] == [True, True, False]
    # --all: every workflow not aborted yet (here the third), in one change
    assert abort_many(env, None) == ["t1many3"] and len(env.patches) == 3
    for name in names:
        live1.wait_state(name, ("rolled back",))
    assert abort_many(env, None) == [] and len(env.patches) == 3  # nothing left to abort


def test_a_bad_file_or_an_unknown_workflow_among_several_changes_nothing(live1: Live) -> None:
    good = live1.workflow("t1good", {"a": {}})
    other = live1.workflow("t1other", {"a": {}})
    broken = live1.tmp / "broken.yaml"
    broken.write_text("name: t1broken\nsteps: {a: {agent: test, after: [zz]}}\n")
    live1.submitted.extend(["t1good", "t1other"])
    before = live1.configuration()
    result = live1.run("submit", str(good), str(broken), str(other))
    assert result.returncode == ExitCode.INVALID and "broken.yaml" in result.stderr
    twice = live1.run("submit", str(good), str(good))
    assert twice.returncode == ExitCode.INVALID and "DUPLICATE_WORKFLOW" in twice.stderr
    assert live1.configuration() == before
    assert live1.run("submit", str(good), str(other)).returncode == 0
    # one of them exists now: submitting both again changes nothing
    again = live1.run("submit", str(good), str(other), "--output-as", "json")
    assert again.returncode == ExitCode.CONFLICT and "WORKFLOW_EXISTS" in again.stdout
    before = live1.configuration()
    env = counting(live1)
    with pytest.raises(HaflowError) as caught:
        abort_many(env, ["t1good", "nosuch", "t1other"])
    assert [r.code.name for r in caught.value.reports] == ["WORKFLOW_NOT_FOUND"]
    assert not env.patches and live1.configuration() == before
    unknown = live1.run("abort", "t1good", "nosuch")
    assert unknown.returncode == ExitCode.NOT_FOUND and "nosuch" in unknown.stderr
    assert live1.configuration() == before
    assert live1.run("abort", "t1good", "t1other").returncode == 0
    twice_aborted = live1.run("abort", "t1good", "t1other")
    assert twice_aborted.returncode == ExitCode.CONFLICT and "ALREADY_ABORTED" in \
        twice_aborted.stderr
    usage = live1.run("abort")
    assert usage.returncode == ExitCode.USAGE
