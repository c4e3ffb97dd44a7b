"""``${secrets.NAME}`` in a step's parameters: resolved from this node's root-only store when
the action runs, and redacted from whatever the agent reports.

The store is Pacemaker's own directory for secrets that stay out of the CIB,
``/var/lib/pacemaker/lrm/secrets`` (cibsecret's), under the resource name ``haflow``:
``haflow/NAME`` holds the value, ``haflow/NAME.sign`` its MD5 as cibsecret writes it,
``haflow/NAME.version`` which change it is (the keeper, coordinator/cluster/secret_store.py,
keeps every node's store in step over Corosync). The CIB only ever holds the reference:
so do saved scheduler inputs, status, history and plans.

Stdlib only, imported only when a parameter holds ``${secrets.``.
"""

from __future__ import annotations

import re


def _store() -> str:
    import posix

    # HAFLOW_SECRETS_DIR: tests only (as HAFLOW_RUN_DIR for the markers)
    found = posix.environ.get(b"HAFLOW_SECRETS_DIR")
    return found.decode() if found else "/var/lib/pacemaker/lrm/secrets/haflow"


STORE = _store()
NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_-]{0,63}"
# "$${" (an escaped "${", left for the step's own resolution) or ${secrets.NAME}
TOKEN_RE = re.compile(r"\$\$\{|\$\{secrets\.(" + NAME_PATTERN + r")\}")
NAME_RE = re.compile(NAME_PATTERN)
MAX_VALUE = 64 * 1024
WAIT_S = 10.0  # a node's keeper may still be syncing its store when a step starts

# resolved values this process has seen, longest first: redacted from reports and logs
_resolved: dict[str, str] = {}


class SecretMissing(Exception):
    pass


def path(name: str) -> str:
    return f"{STORE}/{name}"


def read(name: str) -> str | None:
    try:
        with open(path(name), encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _read_waiting(name: str, wait: float) -> str:
    import time

    deadline = time.monotonic() + wait
    while True:
        value = read(name)
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            import posix

            raise SecretMissing(f"secret '{name}' is not in {STORE} on "
                                f"{posix.uname().nodename} ('haflow secrets set {name}'; "
                                "every node's haflow-keeper keeps a copy)")
        time.sleep(0.5)


def resolve(value: str, wait: float = WAIT_S) -> str:
    """``value`` with every ``${secrets.NAME}`` replaced by the secret; ``$${`` kept (the
    step's output references treat it). A secret's own ``${`` is escaped the same way, so
    its text is never read as a reference. SecretMissing names a secret not stored here."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if not name:
            return match.group(0)
        secret = _read_waiting(name, wait)
        _resolved[secret] = name
        return secret.replace("${", "$${")

    return TOKEN_RE.sub(substitute, value)


def resolve_params(raw: dict[str, str], wait: bool) -> tuple[dict[str, str], list[str]]:
    """The parameters with secrets resolved, and the problems (a missing secret); ``wait``
    (a start) gives a node's keeper a moment to bring a secret just set."""
    out = dict(raw)
    problems = []
    for key, value in raw.items():
        if "${secrets." in value:
            try:
                out[key] = resolve(value, WAIT_S if wait else 0.0)
            except SecretMissing as exc:
                problems.append(str(exc))
    return out, problems


def redact(text: str) -> str:
    """``text`` with every secret this process resolved replaced by its reference."""
    for secret in sorted(_resolved, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "${secrets." + _resolved[secret] + "}")
    return text


def redacting() -> bool:
    return bool(_resolved)
