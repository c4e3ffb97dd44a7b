"""What the service writes into the CIB: its users, templates and idempotency keys, and the
resources that keep its API highly available.

Users and templates are cluster-wide and replicated with the CIB, so every node's API
knows them; they live in cluster property sets of their own in ``crm_config``, which
Pacemaker keeps and ignores (it reads only the options it knows). A user's token is
stored only as a salted SHA-256 hash; a template is the workflow YAML, as added.
Stdlib only: both the coordinator and the API agent read it.
"""

from __future__ import annotations

from haflow.encoding.ids import nvpair_id, valid_name

# cluster property sets (crm_config) the service owns
USERS_SET = "haflow-users"
TEMPLATES_SET = "haflow-templates"
USER_PREFIX = "haflow-user-"
TEMPLATE_PREFIX = "haflow-template-"

# a submit's Idempotency-Key, a meta attribute of the workflow's root (the same patch as
# the submit): a retried POST finds it there, on whichever node answers the retry
IDEMPOTENCY_META = "haflow-idempotency"

# the API as Pacemaker resources: `haflow service enable` (one change)
API_RESOURCE = "haflow-api"
VIP_RESOURCE = "haflow-api-ip"
API_GROUP_COLOCATION = "haflow-api.with-ip"
API_GROUP_ORDER = "haflow-api.after-ip"
API_AGENT = "api"  # ocf:haflow:api

# Pacemaker ACLs (`haflow acl enable`): roles, and the groups they are granted to
ACL_VIEWER_ROLE = "haflow-viewer"
ACL_OPERATOR_ROLE = "haflow-operator"

ROLES = ("viewer", "operator", "admin")  # each may do what the ones before it may


def _named(prefix: str, nvpair_name: str) -> str | None:
    """The name after ``prefix`` in an nvpair's name, or None."""
    name = nvpair_name.removeprefix(prefix)
    return name if name != nvpair_name and valid_name(name) else None


def user_name(nvpair_name: str) -> str | None:
    """The user an nvpair of USERS_SET holds, or None."""
    return _named(USER_PREFIX, nvpair_name)


def user_nvpair(user: str) -> tuple[str, str]:
    """(id, name) of the user's nvpair in USERS_SET."""
    name = USER_PREFIX + user
    return nvpair_id(USERS_SET, name), name


def template_name(nvpair_name: str) -> str | None:
    return _named(TEMPLATE_PREFIX, nvpair_name)


def template_nvpair(template: str) -> tuple[str, str]:
    name = TEMPLATE_PREFIX + template
    return nvpair_id(TEMPLATES_SET, name), name


class UserRecord:
    """``ROLE SALT HASH CREATED``: a user's role and the hash of its token's secret part."""

    __slots__ = ("created", "digest", "role", "salt")

    def __init__(self, role: str, salt: str, digest: str, created: int) -> None:
        self.role = role
        self.salt = salt
        self.digest = digest
        self.created = created

    def encode(self) -> str:
        return f"{self.role} {self.salt} {self.digest} {self.created}"

    @classmethod
    def parse(cls, value: str) -> UserRecord | None:
        parts = value.split()
        if len(parts) != 4 or parts[0] not in ROLES or not parts[3].isdigit():
            return None
        return cls(parts[0], parts[1], parts[2], int(parts[3]))


def token_digest(salt: str, secret: str) -> str:
    """The stored hash of a token's secret: secrets are 256 random bits, so one salted
    SHA-256 is enough (a slow KDF protects guessable passwords, not these)."""
    import hashlib

    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


# secrets: their names and versions only (values live in each node's store, never here),
# and the keeper clone that keeps every node's store in step
SECRETS_SET = "haflow-secrets"
SECRET_PREFIX = "haflow-secret-"
KEEPER_RESOURCE = "haflow-keeper"
KEEPER_CLONE = "haflow-keeper-clone"
KEEPER_AGENT = "keeper"  # ocf:haflow:keeper


def secret_name(nvpair_name: str) -> str | None:
    name = nvpair_name.removeprefix(SECRET_PREFIX)
    return name if name != nvpair_name and name else None


def secret_nvpair(secret: str) -> tuple[str, str]:
    name = SECRET_PREFIX + secret
    return nvpair_id(SECRETS_SET, name), name


def template_value(text: str) -> str:
    """A template's YAML as one line of ASCII (JSON string syntax): Pacemaker 2.1.5 writes
    the CIB with line breaks changed, and escapes nothing after a non-ASCII character
    (value.py)."""
    import json

    return json.dumps(text)


def template_text(value: str) -> str | None:
    """The YAML a template's value holds, or None when it is not one."""
    import json

    try:
        text = json.loads(value)
    except ValueError:
        return None
    return text if isinstance(text, str) else None

# the unix groups `haflow acl enable` grants the roles to (haclient: every cluster user)
ACL_VIEWER_GROUP = "haclient"
ACL_OPERATOR_GROUP = "haflow-operators"
