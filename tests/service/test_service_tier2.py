"""The service on the 3-node lab: the API's node crashes and a retrying client loses
nothing; secrets reach the agent on any node, a node that was down gets them, and their
values are nowhere else (CIB, saved scheduler inputs, crm_report, logs, API answers)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from haflow.lab import control
from haflow.lab.layout import LabLayout
from tests.service.apitools import LabHttp, cli, token

pytestmark = pytest.mark.tier2

VIP = "10.99.0.200"
PORT = 18444


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr + result.stdout
    return result


def _api_node(layout: LabLayout, ask: str = "node1") -> str | None:
    """Where the API runs, as node ``ask`` sees it (a node that is up)."""
    located = control.run_on(layout, ask, ["crm_resource", "--locate", "--resource",
                                           "haflow-api"]).stdout
    return located.strip().rpartition(" ")[2] or None if "running on" in located else None


def _retrying(http: LabHttp, method: str, path: str, tok: str, timeout: float = 90,
              **kw: Any) -> httpx.Response:
    """What a client does, as the API documents: retry on a connection error or a 503."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = http.request(method, path, tok, timeout=5, **kw)
            if answer.status_code != 503:
                return answer
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{method} {path}: no answer in {timeout} s"
        time.sleep(0.5)


@pytest.fixture
def tmp_shared(tmp_path: Path) -> Path:
    os.chmod(tmp_path, 0o755)
    return tmp_path


@pytest.fixture
def service(lab3: LabLayout, tmp_shared: Path) -> Iterator[dict[str, str]]:
    """Users, a template, and the service enabled on the lab; all removed afterwards."""
    tokens = {role: token(lab3, f"ha-{role}", role) for role in ("viewer", "operator")}
    template = tmp_shared / "steps.yaml"
    template.write_text(json.dumps({
        "name": "steps", "inputs": {"n": {"type": "string"}},
        "steps": {"a": {"agent": "test", "params": {"state_dir": str(tmp_shared),
                                                   "output": "${inputs.n}"}},
                  "b": {"agent": "test", "after": ["a"],
                        "params": {"state_dir": str(tmp_shared)}}}}))
    _ok(cli(lab3, "templates", "add", str(template)))
    _ok(cli(lab3, "service", "enable", "--vip", f"{VIP}/24", "--port", str(PORT)))
    try:
        yield tokens
    finally:
        for name in ("ha1", "ha2"):
            cli(lab3, "abort", name)
            cli(lab3, "wait", name, "--timeout", "90")
            cli(lab3, "remove", name, "--force")
        cli(lab3, "service", "disable")
        cli(lab3, "templates", "remove", "steps")
        for role in tokens:
            cli(lab3, "users", "remove", f"ha-{role}")


def test_the_api_moves_to_a_survivor_and_a_retrying_client_loses_nothing(
        lab3: LabLayout, service: dict[str, str]) -> None:
    deadline = time.monotonic() + 60
    while (node := _api_node(lab3)) is None:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(1)
    client_node = next(n for n in control.nodes_of(lab3) if n != node)
    http = LabHttp(lab3, client_node, f"http://{VIP}:{PORT}")
    operator, viewer = service["operator"], service["viewer"]
    try:
        first = _retrying(http, "POST", "/v1/workflows", operator,
                          json={"template": "steps", "inputs": {"n": "1"}, "name": "ha1"},
                          headers={"Idempotency-Key": "ha-key-1"})
        assert first.status_code == 201, first.text
        control.crash(lab3, node)
        # the client does not know whether its next request was made: it retries with
        # the same key until a survivor's API answers
        body = {"template": "steps", "inputs": {"n": "2"}, "name": "ha2"}
        second = _retrying(http, "POST", "/v1/workflows", operator, json=body,
                           headers={"Idempotency-Key": "ha-key-2"})
        assert second.status_code in (200, 201), second.text
        # asked of the client's node: the crashed one may be node1
        assert _api_node(lab3, client_node) not in (None, node)
        again = _retrying(http, "POST", "/v1/workflows", operator, json=body,
                          headers={"Idempotency-Key": "ha-key-2"})
        assert again.status_code == 200 and again.json()["replayed"], again.text
        replay = _retrying(http, "POST", "/v1/workflows", operator,
                           json={"template": "steps", "inputs": {"n": "1"}, "name": "ha1"},
                           headers={"Idempotency-Key": "ha-key-1"})
        assert replay.json()["submission"] == first.json()["submission"]
        deadline = time.monotonic() + 120
        while True:
            rows = _retrying(http, "GET", "/v1/workflows", viewer).json()
            mine = sorted((r["name"], r["state"]) for r in rows if r["name"] in ("ha1", "ha2"))
            if mine == [("ha1", "done"), ("ha2", "done")]:
                break
            assert time.monotonic() < deadline, rows
            time.sleep(1)
        for name in ("ha1", "ha2"):
            history = _retrying(http, "GET", f"/v1/workflows/{name}/history", viewer).json()
            assert [e["task"] for e in history].count("submit") == 1, history
    finally:
        http.close()
        control.reboot(lab3, node)


def _grep_tree(root: Path, needle: bytes) -> list[str]:
    import bz2

    found = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".bz2":
            data = bz2.decompress(data)
        if needle in data:
            found.append(str(path))
    return found


def test_secrets_reach_the_agent_and_are_nowhere_else(lab3: LabLayout,
                                                      tmp_shared: Path) -> None:
    value = f"s3cr3t-{secrets.token_hex(12)}"
    late = f"late-{secrets.token_hex(12)}"
    workflow = tmp_shared / "usesecret.yaml"
    workflow.write_text(json.dumps({"name": "usesecret", "steps": {"use": {
        "agent": "exec", "params": {
            "env": "TOKEN=${secrets.apitoken}",
            "do": f'printf "%s" "$TOKEN" > {tmp_shared}/got; echo "told: $TOKEN" >&2; exit 3'}}}}))
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime(time.time() - 60))
    try:
        _ok(cli(lab3, "secrets", "set", "apitoken", input=value))
        # a node down when a secret is set gets it when it comes back
        control.crash(lab3, "node3")
        _ok(cli(lab3, "secrets", "set", "latecomer", input=late))
        control.reboot(lab3, "node3")
        store = lab3.dir / "nodes" / "node3" / "fs/var/lib/pacemaker/lrm/secrets/haflow"
        deadline = time.monotonic() + 30
        while not (store / "latecomer").exists():
            assert time.monotonic() < deadline, "node3's keeper did not catch up"
            time.sleep(0.5)
        assert (store / "latecomer").read_text() == late
        assert (store.stat().st_mode & 0o777, (store / "latecomer").stat().st_mode & 0o777) \
            == (0o700, 0o600)
        listed = json.loads(_ok(cli(lab3, "secrets", "list", "--output-as", "json")).stdout)
        assert {s["name"] for s in listed} >= {"apitoken", "latecomer"}
        # the agent gets the value when the step runs; its failure report does not
        _ok(cli(lab3, "submit", str(workflow)))
        deadline = time.monotonic() + 90
        while not (tmp_shared / "got").exists():
            assert time.monotonic() < deadline, "the step never ran"
            time.sleep(0.5)
        assert (tmp_shared / "got").read_text() == value
        cli(lab3, "wait", "usesecret", "--timeout", "90")
        status = cli(lab3, "status", "usesecret", "--output-as", "json").stdout  # 7: failed
        assert "told: ${secrets.apitoken}" in status
        shown = [status, cli(lab3, "history", "usesecret", "--output-as", "json").stdout,
                 cli(lab3, "plan", str(workflow), "--output-as", "json").stdout,
                 cli(lab3, "export", "--pcs", str(workflow)).stdout]
        for node in control.nodes_of(lab3):
            shown.append(control.run_on(lab3, node, ["cibadmin", "--query"]).stdout)
        for text in shown:
            assert value not in text and late not in text
        for node in control.nodes_of(lab3):
            base = lab3.dir / "nodes" / node / "fs"
            for where in ("var/lib/pacemaker/pengine", "var/lib/pacemaker/cib",
                          "var/log/pacemaker", "var/log/cluster"):
                assert not _grep_tree(base / where, value.encode()), (node, where)
        report = tmp_shared / "report"
        control.run_on(lab3, "node1", ["crm_report", "-S", "-f", started, str(report)],
                       timeout=300)
        (tmp_shared / "extracted").mkdir()
        subprocess.run(["tar", "-xjf", f"{report}.tar.bz2", "-C", str(tmp_shared / "extracted")],
                       check=True)
        assert list((tmp_shared / "extracted").rglob("*"))
        assert not _grep_tree(tmp_shared / "extracted", value.encode())
    finally:
        cli(lab3, "abort", "usesecret")
        cli(lab3, "wait", "usesecret", "--timeout", "90")
        cli(lab3, "remove", "usesecret", "--force")
        for name in ("apitoken", "latecomer"):
            cli(lab3, "secrets", "remove", name)
