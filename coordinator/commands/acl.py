"""``acl enable``: Pacemaker ACLs for haflow's readers and operators on the nodes, one change.

With ``enable-acl``, the CIB manager decides what a user other than root and hacluster
may read and write: the role ``haflow-viewer`` reads the CIB (not the service's user
records), granted to every member of ``haclient``, so ``haflow status`` works for them;
``haflow-operator`` also writes resources, constraints, tags, alerts and the resource and
operation defaults (submit, abort, retry, remove; haflow's shared defaults), granted to
the group ``haflow-operators`` (and per user with ``acl grant``). A write the ACLs do not
allow is refused by the CIB manager, and haflow says so (PERMISSION_DENIED).
"""

from __future__ import annotations

from copy import deepcopy
from typing import TYPE_CHECKING

from lxml import etree

from haflow.coordinator.cluster import live_view, livecib
from haflow.coordinator.cluster.quorum import require_quorum
from haflow.coordinator.codes import Code
from haflow.coordinator.commands.property_sets import set_value
from haflow.coordinator.reports import error
from haflow.encoding import ids
from haflow.encoding.service import (
    ACL_OPERATOR_GROUP,
    ACL_OPERATOR_ROLE,
    ACL_VIEWER_GROUP,
    ACL_VIEWER_ROLE,
    USERS_SET,
)

if TYPE_CHECKING:
    from haflow.coordinator.cluster.env import Env

BOOTSTRAP = "cib-bootstrap-options"
# rsc_defaults and op_defaults: a submit adds haflow's shared defaults with its workflow
WRITABLE = ("resources", "constraints", "tags", "alerts", "rsc_defaults", "op_defaults")
ROLE_OF = {"viewer": ACL_VIEWER_ROLE, "operator": ACL_OPERATOR_ROLE}


def _role(role: str, writes: tuple[str, ...]) -> etree._Element:
    made = etree.Element("acl_role", id=role)

    def permission(kind: str, what: str, xpath: str) -> None:
        etree.SubElement(made, "acl_permission", id=f"{role}.{kind}-{what}", kind=kind,
                         xpath=xpath)

    # the token hashes are for the service (root) alone (tests/service: a viewer's
    # cibadmin --query does not hold them)
    permission("deny", "users", f"//cluster_property_set[@id='{USERS_SET}']")
    permission("read", "cib", "/cib")
    for section in writes:
        permission("write", section, f"/cib/configuration/{section}")
    return made


def _acls(cib: etree._Element) -> etree._Element:
    config = cib.find("configuration")
    assert config is not None
    acls = config.find("acls")
    if acls is None:
        acls = etree.Element("acls")
        # the schema's order: acls after constraints (and rsc/op defaults), before alerts
        after = config.find("constraints")
        assert after is not None
        for later in ("rsc_defaults", "op_defaults"):
            found = config.find(later)
            if found is not None:
                after = found
        after.addnext(acls)
    return acls


def _replace(acls: etree._Element, element: etree._Element) -> None:
    for old in acls.findall(element.tag):
        if old.get("id") == element.get("id"):
            acls.remove(old)
    acls.append(element)


def _grant(tag: str, who: str, role: str) -> etree._Element:
    made = etree.Element(tag, id=who)
    etree.SubElement(made, "role", id=role)
    return made


def enable(env: Env) -> list[str]:
    """The roles, the groups' grants and ``enable-acl=true`` in one change; their ids."""
    require_quorum(env, "enable ACLs")
    old = live_view.query(env)
    new = deepcopy(old)
    acls = _acls(new)
    made = [_role(ACL_VIEWER_ROLE, ()), _role(ACL_OPERATOR_ROLE, WRITABLE),
            _grant("acl_group", ACL_VIEWER_GROUP, ACL_VIEWER_ROLE),
            _grant("acl_group", ACL_OPERATOR_GROUP, ACL_OPERATOR_ROLE)]
    for element in made:
        _replace(acls, element)
    set_value(new, BOOTSTRAP, (ids.nvpair_id(BOOTSTRAP, "enable-acl"), "enable-acl"), "true")
    livecib.push(env, old, new, "enabling ACLs")
    return [e.get("id", "") for e in made]


def grant(env: Env, user: str, role: str) -> None:
    """Give one user (a unix user on the nodes) haflow's ``role`` (viewer or operator)."""
    if role not in ROLE_OF:
        raise error(Code.BAD_ROLE, f"role {role!r} is not one of {', '.join(ROLE_OF)}")
    if not user or not all(c.isalnum() or c in "._-" for c in user):
        raise error(Code.BAD_USER, f"user name {user!r} is not a unix user name")
    require_quorum(env, f"grant {role} to {user}")
    old = live_view.query(env)
    new = deepcopy(old)
    acls = _acls(new)
    if acls.find(f"acl_role[@id='{ROLE_OF[role]}']") is None:
        raise error(Code.OPERATION_FAILED, "haflow's ACL roles are missing: 'haflow acl "
                    "enable' first")
    _replace(acls, _grant("acl_target", user, ROLE_OF[role]))
    livecib.push(env, old, new, f"granting {role} to {user}")
