"""haflow's agents as real Pacemaker resources on the 3-node lab (tier2).

The test agent's records (who did what, where) and its effect files are the
evidence: a step's effect exists exactly once, moves never undo, an abort
undoes each step exactly once, in reverse order.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from haflow.lab import control, records
from haflow.lab.layout import LabLayout, node_names
from haflow.lab.workload import (
    lab_env,
    submitted,
    wait_for,
    wait_started,
    wait_stopped,
    workflow_yaml,
)
from tests.labtools import last_fenced, restore, wait_fenced

pytestmark = pytest.mark.tier2


def undos(state: Path) -> list[records.Record]:
    return [r for r in records.read(state) if r.event.startswith("undo")]


def test_started_monitored_drift_repaired_then_aborted_in_reverse_order(
        lab3: LabLayout, tmp_path: Path) -> None:
    state = tmp_path / "state"
    steps = ["a", "b", "c"]
    text = workflow_yaml("chain", state, {"a": {}, "b": {"after": ["a"]},
                                              "c": {"after": ["b"]}})
    with submitted(lab3, text, steps) as name:
        wait_started(lab3, name, steps)
        assert sorted(records.effects(state)) == [f"chain__{s}__" + records.read(state)[0]
                                                  .key.rsplit("/", 1)[1] for s in steps]
        # someone deletes a's effect: the next monitor (every 2 s) sees it, Pacemaker redoes it
        effect = next((state / "effects").glob("chain__a__*"))
        effect.unlink()
        wait_for("a redone", lambda: effect.exists(), timeout=60)
        wait_started(lab3, name, steps)
        assert [r.event for r in records.read(state) if r.resource == "chain.a"] == ["do", "do"]
        assert undos(state) == []
        # abort: one undo per step, in reverse dependency order
        from haflow.coordinator.commands.abort import abort

        abort(lab_env(lab3), name)
        wait_stopped(lab3, name, steps)
        order = [r.resource for r in undos(state)]
        assert order == ["chain.c", "chain.b", "chain.a"], order
        assert [r.event for r in undos(state)] == ["undo"] * 3
        assert records.effects(state) == []


def test_crash_mid_start_is_adopted_and_outputs_survive(lab3: LabLayout,
                                                        tmp_path: Path) -> None:
    state = tmp_path / "state"
    steps = ["make", "use"]
    text = workflow_yaml("crashy", state, {
        "make": {"params": {"linger": 30}},
        "use": {"after": ["make"], "params": {"output": "made ${steps.make.id}"}},
    })
    with submitted(lab3, text, steps) as name:
        first = wait_for("make's effect", lambda: [r for r in records.read(state)
                                                   if r.event == "do"], timeout=60)[0]
        observer = next(n for n in control.nodes_of(lab3) if n != first.node)
        fenced_before = last_fenced(lab3, observer, first.node)
        control.crash(lab3, first.node)  # mid-start: the effect exists, start has not returned
        try:
            where = wait_started(lab3, name, steps, timeout=120, node=observer)
            assert where["make"] != first.node
            events = [(r.resource, r.event) for r in records.read(state)]
            assert events.count(("crashy.make", "do")) == 1
            assert ("crashy.make", "adopt") in events
            assert len([e for e in records.effects(state) if "make" in e]) == 1
            # the output made on the crashed node reached the later step through the CIB
            made_id = first.detail.split("id=")[1]
            used = next(r for r in records.read(state) if r.resource == "crashy.use"
                        and r.event == "do")
            assert used.node != first.node
            effect = next((state / "effects").glob("crashy__use__*")).read_text()
            assert f"output.value=made {made_id}" in effect
        finally:
            wait_fenced(lab3, observer, first.node, fenced_before)
            restore(lab3)


def test_standby_moves_steps_with_zero_undos(lab3: LabLayout, tmp_path: Path) -> None:
    state = tmp_path / "state"
    steps = ["p", "q", "r"]
    text = workflow_yaml("moving", state, {s: {} for s in steps})
    with submitted(lab3, text, steps) as name:
        where = wait_started(lab3, name, steps)
        busy = where["p"]
        env = lab_env(lab3, next(n for n in control.nodes_of(lab3) if n != busy))
        assert env.run(["pcs", "node", "standby", busy]).returncode == 0
        try:
            moved = wait_for("steps off the standby node", lambda: (
                w := wait_started(lab3, name, steps)) and busy not in w.values() and w)
            assert moved["p"] != busy
            assert undos(state) == []
            assert len(records.effects(state)) == 3
            moves = [r for r in records.read(state) if r.resource == "moving.p"]
            assert [r.event for r in moves] == ["do", "adopt"]
            assert moves[1].detail.endswith("by migrate_from")  # a hand-over, not stop+start
        finally:
            assert env.run(["pcs", "node", "unstandby", busy]).returncode == 0


def test_exec_runs_with_the_step_contract_environment(lab3: LabLayout, tmp_path: Path) -> None:
    seen = tmp_path / "env.txt"
    text = (f"name: envcheck\nfailure_policy: hold\nsteps:\n  show:\n    agent: exec\n"
            f"    params:\n      do: env > {seen}\n")
    with submitted(lab3, text, ["show"]) as name:
        wait_started(lab3, name, ["show"])
        lines = seen.read_text().splitlines()
        # hold compiles to on-fail=block, what the agent falls back on without the CIB
        assert "OCF_RESKEY_CRM_meta_on_fail=block" in lines
        assert any(line.startswith("HAFLOW_KEY=envcheck/show/") for line in lines)


MULTI_LINE = """\
name: textcheck
failure_policy: hold
steps:
  make:
    agent: exec
    params:
      do: |
        printf 'one\\ttab\\n' > {made}
        printf '%s\\n' 'café "noir" <b> & \\n' >> {made}
        echo 'note=café "noir" <b>' > "$HAFLOW_OUTPUTS"
  use:
    agent: exec
    after: [make]
    params:
      do: echo '${{steps.make.note}}' > {used}
"""


def test_any_text_in_a_parameter_and_an_output_reaches_the_agent_as_written(
        lab3: LabLayout, tmp_path: Path) -> None:
    """Pacemaker 2.1.5's CIB writer changes line breaks and tabs and escapes nothing after
    a non-ASCII character (encoding/value.py): a block command with both runs as written,
    its output reaches the next step, and the CIB stays XML on every node."""
    made, used = tmp_path / "made", tmp_path / "used"
    text = MULTI_LINE.format(made=made, used=used)
    with submitted(lab3, text, ["make", "use"]) as name:
        wait_started(lab3, name, ["make", "use"])
        assert made.read_text() == 'one\ttab\ncafé "noir" <b> & \\n\n'
        assert used.read_text() == 'café "noir" <b>\n'
        for node in node_names(3):
            query = control.run_on(lab3, node, ["cibadmin", "--query", "--xpath",
                                                f"//primitive[@id='{name}.make']"])
            assert query.returncode == 0, query.stderr
            primitive = ET.fromstring(query.stdout)  # XML, as Pacemaker wrote it
            values = {n.get("name"): n.get("value", "") for n in primitive.iter("nvpair")}
            assert values["do"].startswith('"printf ') and values["do"].isascii()


def test_a_long_start_publishes_progress_then_clears_it(lab3: LabLayout, tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    from haflow.encoding.heartbeat import parse_value

    state = tmp_path / "state"
    text = workflow_yaml("slow", state, {"s": {"params": {"duration": 12}}})
    xpath = "//transient_attributes//nvpair[@name='haflow-hb-slow.s']"

    def heartbeat() -> str | None:
        found = control.run_on(lab3, "node1", ["cibadmin", "--query", "--xpath", xpath])
        return found.stdout if found.returncode == 0 else None

    def progress() -> str | None:
        seen = heartbeat()
        return seen if seen and parse_value(ET.fromstring(seen).get("value", ""))[1] else None

    with submitted(lab3, text, ["s"]) as name:
        first = wait_for("progress", progress, timeout=30)
        stamp, percent, message = parse_value(ET.fromstring(first).get("value", ""))
        assert percent is not None and 0 < percent < 100
        assert "to go" in message
        later = wait_for("a newer heartbeat", lambda: (h := heartbeat()) and h != first and h,
                         timeout=15)
        assert parse_value(ET.fromstring(later).get("value", ""))[0] >= stamp
        wait_started(lab3, name, ["s"])
        wait_for("the heartbeat cleared", lambda: heartbeat() is None, timeout=15)
