"""Run haflow agents the way Pacemaker does, against a CIB in a file: no cluster needed.

An agent runs as ``python -m MODULE ACTION`` with ``OCF_*`` in its environment.
``CIB_file`` points cibadmin (and so the framework's CIB reads and writes) at
a file; ``HAFLOW_RUN_DIR`` holds the node-local markers. A :class:`Sandbox`
is one "node" with one CIB holding a workflow's root and its steps::

    box = Sandbox(tmp_path)
    box.add_primitive("wf.root", "workflow")
    box.add_primitive("wf.step", "http")
    result = box.run("haflow.agents.http_agent", "start", {"url": ...})
    assert result.rc == 0, result
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import quoteattr

OCF_ROOT = "/usr/lib/ocf"
OUTPUT_META_PREFIX = "haflow-output-"
EFFECT_META = "haflow-effect"
# what agents record on <status> (encoding/live.py): these outrank the durable copies
EFFECT_STATUS_PREFIX = "haflow-effect-"  # pending, present, or "" once undone
OUTPUTS_STATUS_PREFIX = "haflow-outputs-"  # JSON, or "" once cleared
EVENT_STATUS_PREFIX = "haflow-event-"  # + workflow + "." + key: a history record


class AgentResult:
    """Exit code and output of one action; ``str()`` shows all of it for assertion messages."""

    def __init__(self, action: str, rc: int, stdout: str, stderr: str) -> None:
        self.action = action
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    @property
    def exit_reason(self) -> str | None:
        """The last ``ocf-exit-reason:`` line on stderr (what Pacemaker records)."""
        reasons = [line.split(":", 1)[1] for line in self.stderr.splitlines()
                   if line.startswith("ocf-exit-reason:")]
        return reasons[-1] if reasons else None

    def __repr__(self) -> str:
        return (f"<{self.action} rc={self.rc}\n--- stdout\n{self.stdout}\n"
                f"--- stderr\n{self.stderr}>")


def ocf_env(resource: str, params: Mapping[str, str], *, run_dir: Path | None = None,
            cib_file: Path | None = None, meta: Mapping[str, str] | None = None,
            base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment Pacemaker gives an agent: OCF_RESKEY_* params and CRM_meta_*."""
    env = dict(os.environ if base is None else base)
    # nothing of the caller's own OCF settings leaks into the action
    for name in [n for n in env if n.startswith(("OCF_RESKEY_", "CIB_"))]:
        del env[name]
    env.update(OCF_ROOT=OCF_ROOT, OCF_RESOURCE_INSTANCE=resource)
    # checkpoints in the action itself, not by a runner a moment later (agents/checkpointer.py)
    env.setdefault("HAFLOW_CHECKPOINT_QUIET", "0")
    if run_dir is not None:
        env["HAFLOW_RUN_DIR"] = str(run_dir)
    if cib_file is not None:
        env["CIB_file"] = str(cib_file)
    env.update({f"OCF_RESKEY_{k}": v for k, v in params.items()})
    env.update({f"OCF_RESKEY_CRM_meta_{k}": v for k, v in (meta or {}).items()})
    return env


def run_agent(module: str, action: str, env: Mapping[str, str],
              timeout: float = 60.0) -> AgentResult:
    """``python -m MODULE ACTION``: how an installed launcher runs the agent."""
    done = subprocess.run([sys.executable, "-m", module, action], env=dict(env),
                          capture_output=True, text=True, timeout=timeout, cwd="/")
    return AgentResult(action, done.returncode, done.stdout, done.stderr)


def cibadmin(cib_file: Path, *args: str) -> str:
    env = dict(os.environ, CIB_file=str(cib_file))
    done = subprocess.run(["cibadmin", *args], env=env, capture_output=True, text=True,
                          timeout=30)
    if done.returncode != 0:
        raise AssertionError(f"cibadmin {' '.join(args)}: rc={done.returncode} {done.stderr}")
    return done.stdout


class Sandbox:
    """One node's view: a CIB file, a marker directory, and a way to run agents there."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cib_file = root / "cib.xml"
        self.run_dir = root / "run"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        empty = subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True,
                               check=True, timeout=30)
        self.cib_file.write_text(empty.stdout)

    # ---- the CIB ----------------------------------------------------------------------

    def add_primitive(self, rid: str, agent: str, provider: str = "haflow",
                      params: Mapping[str, str] | None = None) -> None:
        attrs = "".join(f"<nvpair id={quoteattr(f'{rid}-ia-{k}')} name={quoteattr(k)} "
                        f"value={quoteattr(v)}/>" for k, v in (params or {}).items())
        xml = (f"<primitive id={quoteattr(rid)} class=\"ocf\" provider={quoteattr(provider)} "
               f"type={quoteattr(agent)}>"
               + (f"<instance_attributes id={quoteattr(rid + '-ia')}>{attrs}"
                  "</instance_attributes>" if attrs else "")
               + "</primitive>")
        cibadmin(self.cib_file, "-C", "-o", "resources", "-X", xml)

    def set_target_role(self, rid: str, role: str) -> None:
        """What ``pcs resource disable`` does: abort/rollback of a workflow's root."""
        self.set_meta(rid, "target-role", role)

    def set_meta(self, rid: str, name: str, value: str) -> None:
        set_id = f"{rid}-meta_attributes"
        xml = (f"<primitive id={quoteattr(rid)}><meta_attributes id={quoteattr(set_id)}>"
               f"<nvpair id={quoteattr(f'{set_id}-{name}')} name={quoteattr(name)} "
               f"value={quoteattr(value)}/></meta_attributes></primitive>")
        cibadmin(self.cib_file, "--modify", "--scope", "resources", "-X", xml)

    def remove_primitive(self, rid: str) -> None:
        cibadmin(self.cib_file, "-D", "-o", "resources", "-X", f"<primitive id={quoteattr(rid)}/>")

    def meta(self, rid: str) -> dict[str, str]:
        """Meta attributes of a primitive, as ``cibadmin -Q`` shows them."""
        resources = ET.fromstring(cibadmin(self.cib_file, "-Q", "--scope", "resources"))
        found: dict[str, str] = {}
        for primitive in resources.iter("primitive"):
            if primitive.get("id") == rid:
                for nvpair in primitive.findall("./meta_attributes/nvpair"):
                    found[nvpair.get("name", "")] = nvpair.get("value", "")
        return found

    def _status(self) -> ET.Element:
        return ET.fromstring(cibadmin(self.cib_file, "-Q", "--scope", "status"))

    def status(self) -> dict[str, str]:
        """The steps' live state: the attributes of the CIB's ``<status>`` element, then
        of each workflow's ``<haflow-live>`` under it but their ids."""
        found = self._status()
        state = dict(found.attrib)
        for element in found.iter("haflow-live"):
            state.update((k, v) for k, v in element.attrib.items() if k != "id")
        return state

    def status_own(self) -> dict[str, str]:
        """The attributes of ``<status>`` itself (where earlier versions wrote)."""
        return dict(self._status().attrib)

    def live_elements(self) -> list[str]:
        """The ids of the ``<haflow-live>`` elements under ``<status>``."""
        return [str(e.get("id")) for e in self._status().iter("haflow-live")]

    def effect(self, rid: str) -> str | None:
        """The step's live effect flag: pending, present, "" once undone; None if unset."""
        return self.status().get(EFFECT_STATUS_PREFIX + rid)

    def set_outputs(self, rid: str, outputs: Mapping[str, str]) -> None:
        """What the step's agent would have recorded as its outputs ({}: none known)."""
        value = json.dumps(dict(outputs)) if outputs else ""
        cibadmin(self.cib_file, "--modify", "--scope", "status", "-X",
                 f"<status><haflow-live id={quoteattr(rid.partition('.')[0])} "
                 f"{OUTPUTS_STATUS_PREFIX}{rid}={quoteattr(value)}/></status>")

    def pending(self, rid: str) -> bool:
        """Whether the step's live flag says its ``do`` began and did not end."""
        return self.status().get(EFFECT_STATUS_PREFIX + rid) == "pending"

    def flagged(self, rid: str) -> bool:
        """Whether a rollback must still undo the step: its live flag (pending, present),
        or without one the durable copy (meta.EFFECT_META; "" once an undo is copied)."""
        value = self.status().get(EFFECT_STATUS_PREFIX + rid)
        return bool(value if value is not None else self.meta(rid).get(EFFECT_META))

    def outputs(self, rid: str) -> dict[str, str]:
        """The step's live outputs, or without them their durable copy."""
        value = self.status().get(OUTPUTS_STATUS_PREFIX + rid)
        if value is not None:
            return dict(json.loads(value)) if value else {}
        return self.durable_outputs(rid)

    def durable_outputs(self, rid: str) -> dict[str, str]:
        return {k[len(OUTPUT_META_PREFIX):]: v for k, v in self.meta(rid).items()
                if k.startswith(OUTPUT_META_PREFIX)}

    def live_events(self, workflow: str) -> dict[str, str]:
        prefix = f"{EVENT_STATUS_PREFIX}{workflow}."
        return {k[len(prefix):]: v for k, v in self.status().items()
                if v and k.startswith(prefix)}

    # ---- markers and actions ------------------------------------------------------------

    def marker(self, instance: str) -> Path:
        return self.run_dir / instance.replace("/", "_")

    def forget_markers(self) -> None:
        """What a reboot or a fencing does to this node (tmpfs): a failover's survivor."""
        for path in self.run_dir.iterdir():
            path.unlink()

    def env(self, resource: str, params: Mapping[str, str],
            meta: Mapping[str, str] | None = None) -> dict[str, str]:
        return ocf_env(resource, params, run_dir=self.run_dir, cib_file=self.cib_file,
                       meta=meta)

    def run(self, module: str, action: str, params: Mapping[str, str], resource: str,
            meta: Mapping[str, str] | None = None, timeout: float = 60.0) -> AgentResult:
        return run_agent(module, action, self.env(resource, params, meta), timeout=timeout)


SYSTEM_PYTHON = "/usr/bin/python3"


def installed_for_everyone(root: Path) -> Path:
    """haflow's agents installed under ``root`` (made world-readable) with Debian's python3.

    ocf-tester runs meta-data as ``nobody``; pytest's temporary directories
    and an interpreter under /root are out of its reach, so the OCF root goes
    where everyone can read it, and the launchers use the system interpreter
    (the agents need only the standard library).
    """
    from haflow.agents import install

    install.install(str(root), SYSTEM_PYTHON)
    for folder in (root, *root.parents):
        if folder == Path("/"):
            break
        folder.chmod(folder.stat().st_mode | 0o005)
    return root / "resource.d" / "haflow"


def ocf_tester(agent: Path, resource: str, params: Mapping[str, str],
               env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """resource-agents' ocf-tester on ``agent`` with ``params`` as its -o options."""
    argv = ["ocf-tester", "-n", resource]
    for name, value in params.items():
        argv += ["-o", f"{name}={value}"]
    return subprocess.run([*argv, str(agent)], env=dict(env), capture_output=True, text=True,
                          timeout=300)
