"""Place haflow's agents where Pacemaker and pcs find them: ``$OCF_ROOT/resource.d/haflow/``.

Each agent is a small launcher that starts the interpreter haflow is
installed in, isolated and without site-packages (``-IS``: faster, and
immune to the environment), with an explicit path to a private tree under
``$OCF_ROOT/lib/haflow`` whose ``haflow/agents`` is a link to the installed
package. That works for normal and editable installs alike, and the agents
need nothing outside the standard library.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from haflow.agents.registry import AGENTS
from haflow.encoding.ids import PROVIDER

DEFAULT_OCF_ROOT = "/usr/lib/ocf"
MARK = "# written by `haflow agents install`"

LAUNCHER = """#!{python} -IS
{mark}; do not edit: re-run it instead
import sys
sys.path.insert(0, {libdir!r})
from {module} import main
sys.exit(main())
"""
# Pacemaker runs the alert for every result of every resource on the node; most need
# nothing of haflow (agents/alert/agent.py, handle: a successful monitor, a root's
# success, a cancelled monitor, a start or stop the step's agent recorded itself), and
# the shell tells those apart without starting Python. Numbers are checked before any
# arithmetic: a malformed one goes to Python, which reads it leniently.
ALERT_LAUNCHER = """#!/bin/sh
{mark}; do not edit: re-run it instead
python() {{ exec {python} -IS -c {program}; }}
number() {{ case $1 in ''|*[!0-9]*) return 1 ;; esac; }}
case $CRM_alert_kind in
    fencing) python ;;
    resource) ;;
    *) exit 0 ;;
esac
case $CRM_alert_rsc in *.*) ;; *) exit 0 ;; esac
[ "$CRM_alert_status" = 1 ] && exit 0
if [ "$CRM_alert_rc" != "$CRM_alert_target_rc" ] || [ "${{CRM_alert_status:-0}}" != 0 ]; then
    python
fi
case $CRM_alert_task in
    monitor|notify) exit 0 ;;
    start|stop) ;;
    *) python ;;
esac
case $CRM_alert_rsc in *.root) exit 0 ;; esac
notes=${{HAFLOW_RUN_DIR:-{run_dir}}}
notes=${{notes%/}}
{{ read -r task stamp || [ -n "$task" ]; }} 2>/dev/null < "${{notes%/*}}/recorded/$CRM_alert_rsc" ||
    python
number "$stamp" && number "$CRM_alert_timestamp_epoch" && number "$CRM_alert_exec_time" || python
[ "$task" = "$CRM_alert_task" ] || python
[ "$stamp" -ge $((CRM_alert_timestamp_epoch - CRM_alert_exec_time / 1000 - 2)) ] || python
exit 0
"""
ALERT_AGENT_NAME = "alert_haflow"
ALERT_MODULE = "haflow.agents.alert.agent"
SYSTEM_PYTHON = "/usr/bin/python3"


@dataclass(frozen=True)
class Placed:
    name: str
    path: str
    state: str  # installed, updated, unchanged, removed, absent


def ocf_root(given: str | None = None) -> Path:
    return Path(given or os.environ.get("OCF_ROOT") or DEFAULT_OCF_ROOT)


def agent_dir(root: Path) -> Path:
    return root / "resource.d" / PROVIDER


def lib_dir(root: Path) -> Path:
    return root / "lib" / PROVIDER


def _private_name(path: Path) -> Path:
    """A temporary name next to ``path`` that no other installer uses: several
    installs may run at once (lab start-ups in parallel test workers)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def atomic_write(path: Path, text: str, mode: int) -> str:
    """Write ``path`` by rename, so that a reader (a monitor running now) sees the
    old or the new file, never half of one; returns installed/updated/unchanged."""
    if path.exists() and path.read_text() == text and (path.stat().st_mode & 0o777) == mode:
        return "unchanged"
    state = "updated" if path.exists() else "installed"
    tmp = _private_name(path)
    try:
        tmp.write_text(text)
        tmp.chmod(mode)
        tmp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return state


def _link(link: Path, target: Path) -> str:
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return "unchanged"
    state = "updated" if link.is_symlink() or link.exists() else "installed"
    tmp = _private_name(link)
    try:
        tmp.symlink_to(target, target_is_directory=True)
        tmp.replace(link)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return state


def alert_path(root: Path) -> Path:
    """Where the alert agent's launcher lives (``path`` of haflow's ``<alert>``)."""
    return lib_dir(root) / ALERT_AGENT_NAME


def runnable_by_everyone(path: str) -> bool:
    """Whether any user can run ``path``: Pacemaker reads meta-data and runs alert
    agents as hacluster, and ocf-tester runs meta-data as nobody."""
    real = Path(os.path.realpath(path))
    if not real.exists() or not real.stat().st_mode & 0o001:
        return False
    return all(folder.stat().st_mode & 0o001 for folder in real.parents)


def default_python() -> str:
    """The interpreter haflow runs in, if everyone can run it; else Debian's python3
    (the agents need only the standard library, so any python3 >= 3.11 will do)."""
    if runnable_by_everyone(sys.executable) or not runnable_by_everyone(SYSTEM_PYTHON):
        return sys.executable
    return SYSTEM_PYTHON


def alert_python(fallback: str) -> str:
    return fallback if runnable_by_everyone(fallback) else SYSTEM_PYTHON


def runtime_packages() -> dict[str, Path]:
    """The packages an agent imports (stdlib only, both), by their name under ``haflow``."""
    import haflow.agents
    import haflow.encoding

    return {module.__name__.rpartition(".")[2]: Path(module.__file__ or "").resolve().parent
            for module in (haflow.agents, haflow.encoding)}


def install(root_dir: str | None = None, python: str | None = None,
            seen_as: str | None = None) -> list[Placed]:
    """Install (or refresh) every agent; idempotent. ``seen_as``: the OCF root where
    Pacemaker will find this tree (a lab binds its own over the host's), so the launchers
    import from there and not from a directory only root may enter."""
    root = ocf_root(root_dir)
    python = python or default_python()
    lib = lib_dir(root)
    launcher_lib = lib_dir(ocf_root(seen_as)) if seen_as else lib
    (lib / "haflow").mkdir(parents=True, exist_ok=True)
    placed = [Placed("runtime", str(lib), atomic_write(
        lib / "haflow" / "__init__.py", f'"""haflow agents runtime"""\n{MARK}\n', 0o644))]
    for name, package in runtime_packages().items():
        placed.append(Placed("runtime-link", str(lib / "haflow" / name),
                             _link(lib / "haflow" / name, package)))
    target = agent_dir(root)
    target.mkdir(parents=True, exist_ok=True)
    for name, spec in sorted(AGENTS.items()):
        module = spec.partition(":")[0]
        text = LAUNCHER.format(python=python, mark=MARK, libdir=str(launcher_lib),
                               module=module)
        path = target / name
        placed.append(Placed(name, str(path), atomic_write(path, text, 0o755)))
    # Pacemaker runs alert agents as hacluster, who may not be able to run the
    # interpreter haflow is installed in (e.g. under /root); the alert agent is
    # stdlib only, so the system's python3 does
    text = alert_launcher(alert_python(python), str(launcher_lib))
    placed.append(Placed(ALERT_AGENT_NAME, str(alert_path(root)),
                         atomic_write(alert_path(root), text, 0o755)))
    return placed


def alert_launcher(python: str, libdir: str) -> str:
    """The alert agent's launcher: a shell prefilter (ALERT_LAUNCHER) in front of the
    Python agent."""
    import shlex

    from haflow.agents import marker

    program = (f"import sys; sys.path.insert(0, {libdir!r}); "
               f"from {ALERT_MODULE} import main; sys.exit(main())")
    return ALERT_LAUNCHER.format(mark=MARK, python=shlex.quote(python),
                                 program=shlex.quote(program), run_dir=marker.DEFAULT_DIR)


def _ours(path: Path) -> bool:
    try:
        return MARK in path.read_text(errors="replace")[:400]
    except OSError:
        return False


def uninstall(root_dir: str | None = None) -> list[Placed]:
    """Remove what install placed (only files it wrote)."""
    root = ocf_root(root_dir)
    removed = []
    for name in sorted(AGENTS):
        path = agent_dir(root) / name
        if path.exists() and _ours(path):
            path.unlink()
            removed.append(Placed(name, str(path), "removed"))
        else:
            removed.append(Placed(name, str(path), "absent"))
    lib = lib_dir(root)
    alert = alert_path(root)
    if alert.exists() and _ours(alert):
        alert.unlink()
        removed.append(Placed(ALERT_AGENT_NAME, str(alert), "removed"))
    for name in runtime_packages():
        link = lib / "haflow" / name
        if link.is_symlink():
            link.unlink()
    init = lib / "haflow" / "__init__.py"
    if init.exists() and _ours(init):
        init.unlink()
    for directory in (lib / "haflow" / "__pycache__", lib / "haflow", lib, agent_dir(root)):
        if directory.is_dir():
            for leftover in directory.glob("*.pyc"):
                leftover.unlink()
            with contextlib.suppress(OSError):  # someone else's files: leave them
                directory.rmdir()
    return removed


def listing(root_dir: str | None = None) -> list[Placed]:
    root = ocf_root(root_dir)
    out = []
    for name in sorted(AGENTS):
        path = agent_dir(root) / name
        out.append(Placed(name, str(path), "installed" if _ours(path) else "absent"))
    return out
