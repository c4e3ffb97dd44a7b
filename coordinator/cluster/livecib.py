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
COMPACT_TRIES = 3


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
    """Apply the change from ``old`` to ``new`` as one atomic patch; False if nothing changed."""
    patch = diff(old, new)
    if patch is None:
        return False
    result = env.run(["cibadmin", "--patch", "--xml-pipe"], input=patch)
    if result.returncode != 0:
        raise cib_error(what, env, result.returncode, result.stderr)
    return True


def compact_status(env: Env) -> int:
    """Drop what nothing needs any more from the ``<status>`` element's attributes (what
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
        patch = live.compaction_patch(cib, status, read.durable_copies(cib))
        if patch is None:
            return 0
        result = env.run(["cibadmin", "--patch", "--xml-pipe"],
                         input=etree.tostring(patch, encoding="unicode"))
        if result.returncode == 0:
            return len(patch.findall("change/change-list/change-attr"))
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
