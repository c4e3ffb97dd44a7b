"""``secrets set|list|remove``: values a step's parameters reference as ``${secrets.NAME}``.

A value goes to every node's root-only store (coordinator/cluster/secret_store.py) and
never into the CIB: the CIB holds the secret's name and version (so every node's API and
``list`` know it) and the keeper clone that keeps the stores in step, added by the first
``set`` in the same change (and removed with the last secret). The agent resolves the
reference when its action runs.
"""

from __future__ import annotations

import sys
from copy import deepcopy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from haflow.agents.secrets import MAX_VALUE, NAME_RE
from haflow.coordinator.cluster import live_view, livecib
from haflow.coordinator.cluster.quorum import require_quorum
from haflow.coordinator.codes import Code
from haflow.coordinator.commands.property_sets import remove_value, set_value, values
from haflow.coordinator.reports import error
from haflow.encoding import ids
from haflow.encoding.service import (
    KEEPER_AGENT,
    KEEPER_CLONE,
    KEEPER_RESOURCE,
    SECRETS_SET,
    secret_name,
    secret_nvpair,
)

if TYPE_CHECKING:
    from haflow.coordinator.cluster.env import Env

STORE_MODULE = "haflow.coordinator.cluster.secret_store"


@dataclass(frozen=True)
class Secret:
    name: str
    version: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}


def secrets_in(cib: etree._Element) -> list[Secret]:
    return sorted((Secret(n, v) for k, v in values(cib, SECRETS_SET).items()
                   if (n := secret_name(k)) is not None), key=lambda s: s.name)


def _check_name(name: str) -> None:
    if not NAME_RE.fullmatch(name):
        raise error(Code.BAD_SECRET, f"secret name {name!r} is not valid: a letter or '_', "
                    "then up to 63 letters, digits, '_' or '-'")


def keeper_clone(haflow: str) -> etree._Element:
    """``haflow-keeper-clone``: the keeper on every node, a node joining later included."""
    clone = etree.Element("clone", id=KEEPER_CLONE)
    primitive = etree.SubElement(clone, "primitive", id=KEEPER_RESOURCE, provider=ids.PROVIDER,
                                 type=KEEPER_AGENT)
    primitive.set("class", "ocf")
    params = etree.SubElement(primitive, "instance_attributes",
                              id=ids.params_set_id(KEEPER_RESOURCE))
    etree.SubElement(params, "nvpair", id=ids.nvpair_id(params.get("id", ""), "haflow"),
                     name="haflow", value=haflow)
    ops = etree.SubElement(primitive, "operations")
    for name, interval, timeout in (("monitor", "10s", "20s"), ("start", "0s", "60s"),
                                    ("stop", "0s", "30s")):
        etree.SubElement(ops, "op", id=f"{KEEPER_RESOURCE}.{name}-{interval}", name=name,
                         interval=interval, timeout=timeout)
    return clone


def _store(env: Env, action: str, name: str, value: str | None = None) -> str:
    result = env.run([sys.executable, "-m", STORE_MODULE, action, name], input=value or "")
    if result.returncode != 0:
        raise error(Code.OPERATION_FAILED, f"the secrets store on {env.description} refused "
                    f"({result.stderr.strip()[-300:]})")
    return result.stdout.strip()


def set_secret(env: Env, name: str, value: str) -> Secret:
    """Store ``value`` as secret ``name`` on every node; record its name in the CIB."""
    from haflow.coordinator.commands.service import haflow_command

    _check_name(name)
    if not value or len(value.encode()) > MAX_VALUE or "\0" in value:
        raise error(Code.BAD_SECRET, f"a secret's value is 1 to {MAX_VALUE} bytes of text "
                    "without NUL")
    require_quorum(env, f"set secret '{name}'")
    version = _store(env, "put", name, value)
    old = live_view.query(env)
    new = deepcopy(old)
    set_value(new, SECRETS_SET, secret_nvpair(name), version)
    resources = new.find("configuration/resources")
    assert resources is not None
    if resources.find(f"clone[@id='{KEEPER_CLONE}']") is None:
        resources.append(keeper_clone(haflow_command()))
    livecib.push(env, old, new, f"recording secret '{name}'")
    return Secret(name, version)


def remove_secret(env: Env, name: str) -> None:
    _check_name(name)
    require_quorum(env, f"remove secret '{name}'")
    old = live_view.query(env)
    if name not in {s.name for s in secrets_in(old)}:
        raise error(Code.SECRET_NOT_FOUND, f"no secret '{name}'")
    _store(env, "drop", name)
    new = deepcopy(old)
    remove_value(new, SECRETS_SET, secret_nvpair(name)[1])
    if not secrets_in(new):  # the last one: no keeper needed any more
        for clone in new.iterfind(f"configuration/resources/clone[@id='{KEEPER_CLONE}']"):
            parent = clone.getparent()
            assert parent is not None
            parent.remove(clone)
    livecib.push(env, old, new, f"removing secret '{name}'")
