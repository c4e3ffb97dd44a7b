"""Every node's copy of the secrets, kept in step over Corosync.

Each node keeps the secrets in its own root-only store (haflow.agents.secrets: Pacemaker's
cibsecret directory, resource ``haflow``); a value never enters the CIB. A keeper on every
node (``ocf:haflow:keeper``, a clone) is a member of the CPG group ``haflow-secrets``:

- ``put``/``drop`` messages (from ``haflow secrets set|remove``, which writes its own
  node's store first) are applied by every keeper, in Corosync's agreed order;
- each entry carries a version (nanoseconds, node id): the newer one wins, and a removal
  stays as a version without a value, so an old copy never brings a secret back;
- when a member joins (a node that was down, or joins the cluster later), every keeper
  sends what it holds, so the newcomer catches up; its agent is ready once it has.

CPG traffic is Corosync's own: between the cluster's members only, authenticated with the
cluster's key (and encrypted where knet crypto is configured, pcs's default).

``python -m haflow.coordinator.cluster.secret_store put NAME|drop NAME|keep`` runs these as
a node (the commands reach a lab node through its Env, as corosync_remote does).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

from haflow.agents.secrets import MAX_VALUE, NAME_RE, STORE

GROUP = "haflow-secrets"
SEND_WAIT_S = 10.0

Entry = tuple[str, str | None]  # (version, value; None: removed)


def _newer(a: str, b: str | None) -> bool:
    """Whether version ``a`` is newer than ``b`` (``NANOSECONDS-NODEID``)."""
    if b is None:
        return True

    def key(v: str) -> tuple[int, int]:
        ns, _, node = v.partition("-")
        return int(ns) if ns.isdigit() else 0, int(node) if node.isdigit() else 0

    return key(a) > key(b)


def local() -> dict[str, Entry]:
    """This node's store: name -> (version, value or None)."""
    store = Path(STORE)
    found: dict[str, Entry] = {}
    if not store.is_dir():
        return found
    for marker in store.glob("*.version"):
        name = marker.name.removesuffix(".version")
        value_path = store / name
        value = value_path.read_text() if value_path.exists() else None
        found[name] = (marker.read_text().strip(), value)
    return found


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def apply(name: str, version: str, value: str | None) -> bool:
    """Store (or remove) ``name`` at ``version`` if newer than what is here; True if so."""
    if not NAME_RE.fullmatch(name):
        return False
    current = local().get(name)
    if current is not None and not _newer(version, current[0]):
        return False
    store = Path(STORE)
    old = os.umask(0o077)
    try:
        store.mkdir(parents=True, exist_ok=True, mode=0o700)
        store.chmod(0o700)
        if value is None:
            for suffix in ("", ".sign"):
                (store / f"{name}{suffix}").unlink(missing_ok=True)
        else:
            _write(store / name, value)
            # cibsecret's check: the MD5 of the value, beside it
            _write(store / f"{name}.sign", hashlib.md5(value.encode()).hexdigest() + "\n")
        _write(store / f"{name}.version", version + "\n")
    finally:
        os.umask(old)
    return True


def _message(op: str, name: str, version: str, value: str | None) -> bytes:
    return json.dumps({"op": op, "name": name, "version": version, "value": value}).encode()


def _send(data: bytes) -> None:
    """Multicast ``data`` to the keepers and wait until Corosync delivered it back to us
    (agreed order: every member got it before)."""
    from haflow.coordinator.corosync.cpg import Cpg, CpgMessage

    with Cpg() as cpg:
        cpg.join(GROUP)
        me = (cpg.local_nodeid(), os.getpid())
        cpg.send(data)
        deadline = time.monotonic() + SEND_WAIT_S
        while time.monotonic() < deadline:
            cpg.wait(0.5)
            while cpg.events:
                event = cpg.events.popleft()
                if isinstance(event, CpgMessage) and (event.nodeid, event.pid) == me:
                    cpg.leave(GROUP)
                    return
        raise TimeoutError("corosync did not deliver the secret's message in time")


def _version() -> str:
    from haflow.coordinator.corosync.cpg import Cpg

    with Cpg() as cpg:
        node = cpg.local_nodeid()
    return f"{time.time_ns()}-{node}"


def put(name: str, value: str) -> str:
    """Store the secret here, then on every node whose keeper runs; its version."""
    version = _version()
    apply(name, version, value)
    _send(_message("put", name, version, value))
    return version


def drop(name: str) -> str:
    version = _version()
    apply(name, version, None)
    _send(_message("put", name, version, None))
    return version


def keep(ready_file: str | None) -> None:
    """The keeper: apply what members send; when one joins, send everything held here."""
    from haflow.coordinator.corosync.cpg import Cpg, CpgConfchg, CpgMessage

    with Cpg() as cpg:
        cpg.join(GROUP)
        me = (cpg.local_nodeid(), os.getpid())
        waiting_for: set[tuple[int, int]] | None = None  # members to hear from once joined
        while True:
            cpg.wait(None)
            while cpg.events:
                event = cpg.events.popleft()
                if isinstance(event, CpgConfchg) and event.joined:
                    for name, (version, value) in sorted(local().items()):
                        cpg.send(_message("put", name, version, value))
                    cpg.send(json.dumps({"op": "sent"}).encode())
                    if waiting_for is None and any((a.nodeid, a.pid) == me
                                                   for a in event.joined):
                        waiting_for = {(a.nodeid, a.pid) for a in event.members} - {me}
                elif isinstance(event, CpgMessage):
                    data = json.loads(event.data)
                    if data.get("op") == "put":
                        apply(str(data["name"]), str(data["version"]), data.get("value"))
                    elif data.get("op") == "sent" and waiting_for is not None:
                        waiting_for.discard((event.nodeid, event.pid))
                if waiting_for is not None and not waiting_for and ready_file:
                    Path(ready_file).parent.mkdir(parents=True, exist_ok=True)
                    Path(ready_file).touch()


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] in ("put", "drop") and NAME_RE.fullmatch(argv[1]):
        if argv[0] == "put":
            value = sys.stdin.read(MAX_VALUE + 1)
            if len(value) > MAX_VALUE:
                print(f"a secret is at most {MAX_VALUE} bytes", file=sys.stderr)
                return 3
            print(put(argv[1], value))
        else:
            print(drop(argv[1]))
        return 0
    if argv[:1] == ["keep"]:
        ready = argv[2] if len(argv) == 3 and argv[1] == "--ready-file" else None
        if ready:
            Path(ready).unlink(missing_ok=True)
        keep(ready)
        return 0
    print("usage: secret_store put NAME (value on stdin) | drop NAME | keep [--ready-file F]",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
