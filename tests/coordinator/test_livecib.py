"""Live CIB changes are one atomic patch: nothing half-applied, nothing of others lost."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from lxml import etree

from haflow.coordinator.cluster import env as envs
from haflow.coordinator.cluster import livecib
from haflow.coordinator.cluster.env import Env
from haflow.coordinator.reports import HaflowError
from haflow.lab.layout import LabLayout

pytestmark = pytest.mark.tier1
PREFIX = "livecib-test-"


def add_step(cib: etree._Element, rid: str, after: str | None = None) -> etree._Element:
    """A copy of ``cib`` with a stopped Dummy primitive (and an order after ``after``)."""
    new = etree.fromstring(etree.tostring(cib))
    resources = new.find("configuration/resources")
    primitive = etree.SubElement(resources, "primitive", {
        "id": rid, "class": "ocf", "provider": "pacemaker", "type": "Dummy"})
    meta = etree.SubElement(primitive, "meta_attributes", id=f"{rid}-meta")
    etree.SubElement(meta, "nvpair", id=f"{rid}-meta-target-role", name="target-role",
                     value="Stopped")
    if after:
        etree.SubElement(new.find("configuration/constraints"), "rsc_order",
                         id=f"{rid}-after-{after}", first=after, then=rid)
    return new


def ids(env: Env) -> set[str]:
    """Test ids in the configuration (the status section has probe results of its own)."""
    config = livecib.query(env).find("configuration")
    return {e.get("id", "") for e in config.iter(etree.Element)
            if e.get("id", "").startswith(PREFIX)}


@pytest.fixture
def node_env(lab1: LabLayout) -> Iterator[Env]:
    env = envs.for_lab(lab1.name, root=str(lab1.root))
    yield env
    # remove whatever the test created, in one patch as well
    cib = livecib.query(env)
    cleaned = etree.fromstring(etree.tostring(cib))
    for element in list(cleaned.iter("primitive", "rsc_order")):
        if element.get("id", "").startswith(PREFIX):
            element.getparent().remove(element)
    livecib.push(env, cib, cleaned, "cleaning up")
    assert ids(env) == set()


def test_one_patch_adds_resources_and_constraints_together(node_env: Env) -> None:
    base = livecib.query(node_env)
    new = add_step(add_step(base, PREFIX + "a"), PREFIX + "b", after=PREFIX + "a")
    assert livecib.push(node_env, base, new, "adding two steps")
    assert ids(node_env) >= {PREFIX + "a", PREFIX + "b", f"{PREFIX}b-after-{PREFIX}a"}
    assert not livecib.push(node_env, new, new, "no change"), "an empty diff pushes nothing"


def test_concurrent_writers_from_stale_reads_lose_nothing(node_env: Env,
                                                          lab1: LabLayout) -> None:
    base = livecib.query(node_env)  # every writer works from this same, soon stale, read
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            livecib.push(node_env, base, add_step(base, f"{PREFIX}w{n}"), f"writer {n}")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    def pcs_writer() -> None:
        result = node_env.run(["pcs", "resource", "create", PREFIX + "pcs",
                               "ocf:pacemaker:Dummy", "meta", "target-role=Stopped"])
        if result.returncode != 0:
            errors.append(RuntimeError(result.stderr))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    threads.append(threading.Thread(target=pcs_writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert ids(node_env) >= {f"{PREFIX}w{n}" for n in range(6)} | {PREFIX + "pcs"}


def test_two_writers_creating_the_same_id_one_wins_the_other_changes_nothing(
    node_env: Env,
) -> None:
    base = livecib.query(node_env)
    first = add_step(add_step(base, PREFIX + "x"), PREFIX + "first-only")
    second = add_step(add_step(base, PREFIX + "second-only"), PREFIX + "x")
    livecib.push(node_env, base, first, "first writer")
    with pytest.raises(HaflowError) as caught:
        livecib.push(node_env, base, second, "second writer")
    assert caught.value.reports[0].code == "CIB_CONFLICT"
    present = ids(node_env)
    assert PREFIX + "second-only" not in present, "the losing patch was half-applied"
    assert {PREFIX + "x", PREFIX + "first-only"} <= present
    cib = livecib.query(node_env)
    assert len(cib.xpath(f"//primitive[@id='{PREFIX}x']")) == 1
