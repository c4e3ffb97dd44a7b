"""``users add|list|remove|rotate``: the service's users, in the CIB (every node's API knows
them), each with a role and only the hash of its token.

A token is ``NAME.SECRET``: the name finds the record, the secret (256 random bits) is
compared by its salted hash in constant time (``verify``). It is shown once, when made.
"""

from __future__ import annotations

import hmac
import secrets
import time
from copy import deepcopy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from haflow.coordinator.cluster import live_view, livecib
from haflow.coordinator.cluster.quorum import require_quorum
from haflow.coordinator.codes import Code
from haflow.coordinator.commands.property_sets import remove_value, set_value, values
from haflow.coordinator.reports import error
from haflow.encoding import ids
from haflow.encoding.service import (
    ROLES,
    USERS_SET,
    UserRecord,
    token_digest,
    user_name,
    user_nvpair,
)

if TYPE_CHECKING:
    from lxml import etree

    from haflow.coordinator.cluster.env import Env


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created: int

    def to_dict(self) -> dict[str, str | int]:
        return {"name": self.name, "role": self.role, "created": self.created}


def users_in(cib: etree._Element) -> dict[str, UserRecord]:
    """Every user the CIB holds, by name (records that do not parse are skipped)."""
    found = {}
    for key, value in values(cib, USERS_SET).items():
        name = user_name(key)
        record = UserRecord.parse(value)
        if name is not None and record is not None:
            found[name] = record
    return found


def verify(users: dict[str, UserRecord], token: str) -> tuple[str, str] | None:
    """(user, role) that ``token`` authenticates, or None. The hash is compared in constant
    time, and computed even for an unknown user, so timing tells no names."""
    name, _, secret = token.partition(".")
    record = users.get(name)
    salt = record.salt if record is not None else "-"
    wanted = record.digest if record is not None else "0" * 64
    ok = hmac.compare_digest(token_digest(salt, secret).encode(), wanted.encode())
    return (name, record.role) if ok and record is not None and secret else None


def _check_name(name: str) -> None:
    if not ids.valid_name(name):
        raise error(Code.BAD_USER, f"user name {name!r} is not valid: a letter, then up to "
                    f"{ids.NAME_MAX - 1} letters, digits, '_' or '-'")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise error(Code.BAD_ROLE, f"role {role!r} is not one of {', '.join(ROLES)}")


def _write(env: Env, name: str, role: str, what: str, must_exist: bool) -> str:
    require_quorum(env, what)
    old = live_view.query(env)
    present = users_in(old)
    if must_exist and name not in present:
        raise error(Code.USER_NOT_FOUND, f"no user '{name}' (users: "
                    f"{', '.join(sorted(present)) or 'none'})")
    if not must_exist and name in present:
        raise error(Code.USER_EXISTS, f"user '{name}' exists already; 'haflow users rotate "
                    f"{name}' gives it a new token")
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(8)
    record = UserRecord(role, salt, token_digest(salt, secret), int(time.time()))
    new = deepcopy(old)
    set_value(new, USERS_SET, user_nvpair(name), record.encode())
    livecib.push(env, old, new, what)
    return f"{name}.{secret}"


def add(env: Env, name: str, role: str) -> str:
    """Add a user; returns its token (shown once: only its hash is stored)."""
    _check_name(name)
    _check_role(role)
    return _write(env, name, role, f"adding user '{name}'", must_exist=False)


def rotate(env: Env, name: str) -> str:
    """A new token for ``name`` (same role); the old one stops working at once."""
    _check_name(name)
    record = users_in(live_view.query(env)).get(name)
    role = record.role if record is not None else ROLES[0]
    return _write(env, name, role, f"rotating the token of user '{name}'", must_exist=True)


def remove(env: Env, name: str) -> None:
    _check_name(name)
    require_quorum(env, f"remove user '{name}'")
    old = live_view.query(env)
    new = deepcopy(old)
    if not remove_value(new, USERS_SET, user_nvpair(name)[1]):
        raise error(Code.USER_NOT_FOUND, f"no user '{name}'")
    livecib.push(env, old, new, f"removing user '{name}'")


def listed(cib: etree._Element) -> list[User]:
    return [User(n, r.role, r.created) for n, r in sorted(users_in(cib).items())]


def list_users(env: Env) -> list[User]:
    return listed(live_view.query(env))
