"""The service's cluster property sets (users, templates) in ``crm_config``: read, edit a copy.

Pure functions over lxml trees, like workflow_cib: the commands push the edit as one patch.
"""

from __future__ import annotations

from lxml import etree


def property_set(cib: etree._Element, set_id: str, create: bool = False) -> etree._Element | None:
    """The ``cluster_property_set`` ``set_id`` of ``cib`` (added when ``create``)."""
    config = cib.find("configuration")
    assert config is not None
    crm_config = config.find("crm_config")
    if crm_config is None:
        if not create:
            return None
        crm_config = etree.Element("crm_config")
        config.insert(0, crm_config)
    found = crm_config.find(f"cluster_property_set[@id='{set_id}']")
    if found is None and create:
        found = etree.SubElement(crm_config, "cluster_property_set", id=set_id)
    return found


def values(cib: etree._Element, set_id: str) -> dict[str, str]:
    """name -> value of every nvpair in the set (empty when there is no set)."""
    found = property_set(cib, set_id)
    if found is None:
        return {}
    return {p.get("name", ""): p.get("value", "") for p in found.iterfind("nvpair")}


def set_value(cib: etree._Element, set_id: str, nvpair: tuple[str, str], value: str) -> None:
    """``name=value`` (``nvpair`` is (id, name)) in the set, created if needed."""
    found = property_set(cib, set_id, create=True)
    assert found is not None
    nvpair_id, name = nvpair
    for pair in found.iterfind("nvpair"):
        if pair.get("name") == name:
            pair.set("value", value)
            return
    etree.SubElement(found, "nvpair", id=nvpair_id, name=name, value=value)


def remove_value(cib: etree._Element, set_id: str, name: str) -> bool:
    """Remove the nvpair ``name`` (and the set once empty); True if it was there."""
    found = property_set(cib, set_id)
    if found is None:
        return False
    for pair in found.iterfind("nvpair"):
        if pair.get("name") == name:
            found.remove(pair)
            if not len(found):
                parent = found.getparent()
                assert parent is not None
                parent.remove(found)
            return True
    return False
