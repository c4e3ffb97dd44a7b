"""A command decides only from a synced view: recorded CIBs of a node that just rebooted.

``not-synced.cib.xml`` was recorded on node1 of a 3-node lab, rebooted by its fencing
after a crash, 1 s before the DC synced it: its CIB manager answered from the on-disk
copy (the configuration, workflow ``stale`` done before the crash, an empty status
section, no DC) while its controller already answered (``crm_node --name``: node1).
``rejoined.cib.xml`` is the same node's CIB 1.2 s later, synced. The ``.mon.xml``
files are crm_mon's view of each (``CIB_file``). The other views below are the synced
one with the one attribute changed that Pacemaker changes in that situation.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest
from lxml import etree

from haflow.coordinator import status
from haflow.coordinator.cluster import live_view, livecib
from haflow.coordinator.cluster.env import Env
from haflow.coordinator.commands.status import statuses
from haflow.coordinator.reports import HaflowError
from haflow.coordinator.status import WorkflowState

pytestmark = pytest.mark.tier0

DATA = Path(__file__).with_name("data")


def recorded(name: str) -> etree._Element:
    return etree.parse(str(DATA / f"{name}.cib.xml")).getroot()


def node_state(cib: etree._Element, node: str) -> etree._Element:
    found = cib.find(f"status/node_state[@uname='{node}']")
    assert found is not None
    return found


def test_a_node_not_synced_yet_would_show_its_workflows_back_in_time() -> None:
    """Why the check exists: crm_mon on the on-disk CIB shows every step stopped."""
    mon = etree.parse(str(DATA / "not-synced.mon.xml")).getroot()
    assert status.workflow_status(recorded("not-synced"), mon, "stale").state == \
        WorkflowState.RUNNING
    mon = etree.parse(str(DATA / "rejoined.mon.xml")).getroot()
    assert status.workflow_status(recorded("rejoined"), mon, "stale").state == \
        WorkflowState.DONE


def test_the_view_of_a_node_that_has_not_joined_is_not_trusted() -> None:
    stale = recorded("not-synced")
    assert live_view.untrusted(stale, "node1") == \
        "node1 has not joined the cluster yet (no node_state of it)"
    assert live_view.untrusted(recorded("rejoined"), "node1") is None
    assert live_view.untrusted(recorded("done"), "node1") is None  # the 1-node lab's


def test_each_condition_of_a_trusted_view_is_named() -> None:
    synced = recorded("rejoined")
    assert synced.get("dc-uuid") == "2"

    def changed(node: str | None = None, **attributes: str) -> etree._Element:
        cib = deepcopy(synced)
        target = cib if node is None else node_state(cib, node)
        for name, value in attributes.items():
            target.set(name.replace("_", "-") if node is None else name, value)
        return cib

    # the controller started, not yet through the join
    assert live_view.untrusted(changed("node1", crmd="offline", join="down"), "node1") == \
        "node1 has not joined the cluster yet (crmd=offline, join=down)"
    assert live_view.untrusted(changed("node1", in_ccm="false"), "node1") == \
        "node1 has not joined the cluster yet (in_ccm=false)"
    # the DC was lost and no new one took over yet
    assert live_view.untrusted(changed("node2", in_ccm="false", crmd="offline", join="down"),
                               "node1") == "the DC node2 is not a member"
    no_dc = deepcopy(synced)
    del no_dc.attrib["dc-uuid"]
    assert live_view.untrusted(no_dc, "node1") == "no DC elected yet"
    assert live_view.untrusted(changed(have_quorum="0"), "node1") == "no quorum"
    # Pacemaker 2.1.7 and later record when a node joined instead of true/online
    assert live_view.untrusted(changed("node1", in_ccm="1764652291", crmd="1764652292"),
                               "node1") is None


@dataclass(frozen=True)
class Replay(Env):
    """This host running crm_mon for real, but with cibadmin and corosync answering what
    node1 answered: the recorded CIBs one per read (the last one then stays)."""

    cibs: list[str] = field(default_factory=list)
    node_id: int | None = 1  # None: corosync does not answer yet
    reads: list[str] = field(default_factory=list)

    def start(self, argv: Sequence[str], stdin: IO[bytes] | None = None,
              environ: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        if tuple(argv) == livecib.QUERY:
            name = self.cibs.pop(0) if len(self.cibs) > 1 else self.cibs[0]
            self.reads.append(name)
            argv = ["cat", str(DATA / f"{name}.cib.xml")]
        elif tuple(argv) == live_view.LOCAL_NODE:
            argv = (["echo", f"runtime.votequorum.this_node_id (u32) = {self.node_id}"]
                    if self.node_id else
                    ["sh", "-c", "echo 'Failed to initialize the cmap API. Error "
                     "CS_ERR_LIBRARY' >&2; exit 1"])
        return super().start(argv, stdin, environ)


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_view, "SYNC_POLL", 0.01)


def test_a_read_waits_until_the_node_is_synced() -> None:
    env = Replay(cibs=["not-synced", "not-synced", "rejoined"])
    cib, mon = live_view.read_live(env)
    assert env.reads == ["not-synced", "not-synced", "rejoined"]
    assert status.workflow_status(cib, mon, "stale").state == WorkflowState.DONE
    env = Replay(cibs=["not-synced", "rejoined"])
    assert live_view.query(env).get("dc-uuid") == "2" and env.reads == ["not-synced", "rejoined"]
    env = Replay(cibs=["not-synced", "rejoined"])  # status, which reads crm_mon's view itself
    assert statuses(env, "stale")[0].state == WorkflowState.DONE
    assert env.reads == ["not-synced", "rejoined"]


def test_a_node_that_does_not_sync_in_time_is_an_error_naming_it() -> None:
    for reader in (live_view.read_live, live_view.query, live_view.read_synced):
        with pytest.raises(HaflowError) as caught:
            reader(Replay(cibs=["not-synced"], description="node1 of lab x"), 0.1)
        report = caught.value.reports[0]
        assert report.code == "VIEW_NOT_SYNCED" and "node1 of lab x" in report.message
        assert report.details["waiting_for"] == \
            "node1 has not joined the cluster yet (no node_state of it)"
    with pytest.raises(HaflowError) as caught:
        live_view.read_live(Replay(cibs=["not-synced"], node_id=None), 0)
    assert caught.value.reports[0].details["waiting_for"] == (
        "corosync does not answer yet (corosync-cmapctl: Failed to initialize the cmap API. "
        "Error CS_ERR_LIBRARY)")


def test_crm_mon_reads_the_snapshot_without_a_file_of_the_nodes(tmp_path: Path) -> None:
    """The snapshot reaches crm_mon on its stdin: a copy in the node's temporary folder
    outlived a reader killed on a timeout, and a full or missing one failed the read."""
    cib = (DATA / "rejoined.cib.xml").read_text()
    expected = etree.parse(str(DATA / "rejoined.mon.xml")).getroot()
    env = Env(extra_env={"TMPDIR": str(tmp_path / "missing")})
    mon = live_view.mon_of(env, cib)
    assert [n.get("name") for n in mon.iterfind("nodes/node")] == \
        [n.get("name") for n in expected.iterfind("nodes/node")]
    assert [r.get("id") for r in mon.iterfind(".//resource")] == \
        [r.get("id") for r in expected.iterfind(".//resource")]
