"""The live CIB: read it, and change it as one atomic patch that loses nothing.

A change is computed as the difference between the CIB we read and the CIB we
want (``crm_diff --no-version``, as pcs does) and applied with one
``cibadmin --patch``. Pacemaker applies a patch whole or not at all; a
versionless patch only touches what it changes, so concurrent changes by pcs,
crm or another haflow survive; and creating an id that someone created
meanwhile fails schema validation, so two writers can never both "create" the
same workflow.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from lxml import etree

from haflow.coordinator.cluster.env import Env
from haflow.coordinator.codes import Code
from haflow.coordinator.reports import HaflowError, error
from haflow.encoding import live, read

# cibadmin exit codes (crm_error) we translate
CIB_NOT_CONNECTED = 102
CIB_SCHEMA_VIOLATION = 78
CIB_INSUFFICIENT_PRIV = 4  # crm_exit_t CRM_EX_INSUFFICIENT_PRIV: an ACL refused
CIB_DIFF_FAILED = 1
CIB_OLD_DATA = 103  # a versioned patch for a CIB that changed since
CIB_TIMED_OUT = 124  # crm_exit_t CRM_EX_TIMEOUT: cibadmin stopped waiting, the CIB did not
COMPACT_TRIES = 3
# elements one change may create under one parent: Pacemaker 2.1.5 costs each CIB manager
# and fencer about k*k*k/3 steps for k of them (compiler.merge_into; measured with cibadmin
# on a file: 1,000 steps 2 s, 1,500 9 s, 2,000 26 s, 3,000 102 s, while pacemakerd kills a
# daemon that does not answer for 35 s)
MAX_CREATED = 1500
SETTLE_WAIT = 300  # s to wait for the CIB's answer after cibadmin stopped waiting


QUERY = ("cibadmin", "--query")


def query(env: Env, xpath: str | None = None) -> etree._Element:
    """The whole live CIB (or the element at ``xpath``), parsed, as the node's CIB manager
    has it, synced or not: commands decide from :func:`live_view.query` instead."""
    return parse_query(env, env.run([*QUERY] + (["--xpath", xpath] if xpath else [])))


def parse_query(env: Env, result: subprocess.CompletedProcess[str]) -> etree._Element:
    """What a ``cibadmin --query`` printed, parsed; a clear error if it failed."""
    if result.returncode != 0:
        raise cib_error("reading the CIB", env, result.returncode, result.stderr)
    return etree.fromstring(result.stdout.encode())


def diff(old: etree._Element, new: etree._Element) -> str | None:
    """The versionless patchset from ``old`` to ``new`` (None when they are equal).

    crm_diff runs here, not on the cluster node: it only compares two files.
    """
    with tempfile.TemporaryDirectory(prefix="haflow-diff-") as tmp:
        paths = []
        for name, tree in (("old.xml", old), ("new.xml", new)):
            path = Path(tmp) / name
            path.write_bytes(etree.tostring(tree))
            paths.append(str(path))
        result = Env().run(["crm_diff", "--no-version", "--original", paths[0],
                            "--new", paths[1]])
    if result.returncode == 0:
        return None
    if result.returncode == 1 and result.stdout.strip():
        return result.stdout  # crm_diff says 1 when the files differ
    raise error(Code.CIB_DIFF_FAILED, f"crm_diff failed: {result.stderr.strip()}")


def push(env: Env, old: etree._Element, new: etree._Element, what: str) -> bool:
    """Apply the change from ``old`` to ``new`` as one atomic patch; False if nothing changed.

    cibadmin stops waiting after its timeout while the CIB manager goes on with the
    patch: then the CIB is asked (behind the patch, in its queue) whether it holds the
    change, and only what it says is reported."""
    patch = diff(old, new)
    if patch is None:
        return False
    changes = etree.fromstring(patch.encode())
    crowded = most_created(changes)
    if crowded is not None and crowded[1] > MAX_CREATED:
        raise error(Code.CHANGE_TOO_LARGE, f"{what}: the change would create {crowded[1]} "
                    f"elements under {crowded[0]}, more than the {MAX_CREATED} one change may "
                    "(Pacemaker 2.1.5 applies k new elements in time growing as k*k*k on "
                    "every node; 3,000 took 100 s, and pacemakerd restarts a daemon busy for "
                    "35 s): split it, e.g. submit the files in several commands; nothing was "
                    "changed")
    try:
        result = env.run(["cibadmin", "--patch", "--xml-pipe"], input=patch)
    except HaflowError as exc:
        if exc.reports[0].code != Code.TOOL_TIMEOUT:
            raise
        return _settled(env, changes, what, "cibadmin did not return")
    if result.returncode == CIB_TIMED_OUT:
        return _settled(env, changes, what, "cibadmin stopped waiting for the CIB")
    if result.returncode != 0:
        raise cib_error(what, env, result.returncode, result.stderr)
    return True


def most_created(patch: etree._Element) -> tuple[str, int] | None:
    """The parent under which a patch (crm_diff's v2 format) creates the most elements,
    and how many; None if it creates none."""
    counts: dict[str, int] = {}
    for change in patch.iter("change"):
        if change.get("operation") == "create":
            path = change.get("path", "")
            counts[path] = counts.get(path, 0) + 1
    if not counts:
        return None
    return max(counts.items(), key=lambda item: item[1])


def _settled(env: Env, changes: etree._Element, what: str, why: str) -> bool:
    """What became of a patch whose cibadmin gave up: True if the CIB holds it, an
    error saying so if it does not (or cannot tell)."""
    try:
        cib = parse_query(env, env.run([*QUERY, "--timeout", str(SETTLE_WAIT)],
                                       timeout=SETTLE_WAIT + 30))
    except HaflowError:
        found = None
    else:
        found = landed(cib, changes)
    if found:
        return True
    if found is False:
        raise error(Code.CIB_UPDATE_FAILED, f"{what} failed on {env.description}: {why}, "
                    "and the CIB, asked after it, does not hold the change; nothing was "
                    "changed")
    raise error(Code.CIB_UPDATE_UNKNOWN, f"{what}: {why} on {env.description}, and the CIB "
                "cannot tell whether it applied the change (it does not answer, or holds "
                "part of it: someone else changed the same elements); it may still be "
                "applied: see `haflow status`")


def landed(cib: etree._Element, patch: etree._Element) -> bool | None:
    """Whether ``cib`` holds what a patch (crm_diff's v2 format) changes: True if all of
    it, False if none, None if part (moves, which change no content, are left out)."""
    held = []
    for change in patch.iter("change"):
        operation, path = change.get("operation"), change.get("path", "")
        if operation == "move" or not path:
            continue
        found = cib.xpath(path)
        assert isinstance(found, list)
        if operation == "delete":
            held.append(not found)
        elif operation == "create":
            made = change[0] if len(change) else None
            held.append(made is not None and any(
                child.tag == made.tag and child.get("id") == made.get("id")
                for parent in found if isinstance(parent, etree._Element) for child in parent))
        elif operation == "modify":
            element = found[0] if found and isinstance(found[0], etree._Element) else None
            held.append(element is not None and all(
                element.get(a.get("name", "")) == (a.get("value")
                                                    if a.get("operation") == "set" else None)
                for a in change.iter("change-attr")))
    if all(held):
        return True
    return None if any(held) else False


def compact_status(env: Env) -> int:
    """Drop what nothing needs any more from the steps' live state (what
    agents recorded there for steps and workflows no longer configured, and what a
    checkpoint copied: encoding.live.droppable); how many.

    Only a patch checked against the CIB's version can drop an attribute without losing
    one written meanwhile (live.compaction_patch); a CIB that changed since it was read
    refuses it, and it is read again, up to COMPACT_TRIES times. Best effort: what is
    left (a busy cluster, a user whose ACL roles do not write the status section) the
    next workflow's agents drop."""
    for _ in range(COMPACT_TRIES):
        cib = query(env)  # version, configuration and status in one read
        status = cib.find("status")
        if status is None:
            return 0
        compaction = live.compaction_patch(cib, status, read.durable_copies(cib))
        if compaction is None:
            return 0
        result = env.run(["cibadmin", "--patch", "--xml-pipe"],
                         input=etree.tostring(compaction[0], encoding="unicode"))
        if result.returncode == 0:
            return compaction[1]
        if result.returncode != CIB_OLD_DATA:
            return 0
    return 0


def cib_error(what: str, env: Env, code: int, stderr: str) -> HaflowError:
    detail = stderr.strip().removeprefix("Call failed: ")
    if code == CIB_NOT_CONNECTED or "Transport endpoint" in stderr or "connect" in stderr.lower():
        return error(Code.CIB_UNAVAILABLE, f"{what}: the CIB on {env.description} does not answer "
                     f"({detail}); is pacemaker running?")
    if code == CIB_INSUFFICIENT_PRIV or "Permission denied" in stderr or \
            "Insufficient privileges" in stderr:
        import getpass

        return error(Code.PERMISSION_DENIED, f"{what}: the cluster refused user "
                     f"'{getpass.getuser()}' ({detail}): its Pacemaker ACL roles do not allow "
                     "this ('haflow acl enable' sets them up; root or hacluster may always)")
    if code == CIB_SCHEMA_VIOLATION:
        return error(Code.CIB_CONFLICT, f"{what}: the cluster refused the change ({detail}); an id "
                     "it creates may have been created meanwhile by someone else; nothing was "
                     "changed")
    return error(Code.CIB_UPDATE_FAILED, f"{what} failed on {env.description}: {detail} "
                 f"(cibadmin exit {code}); nothing was changed")
