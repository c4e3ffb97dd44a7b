"""The API against a real ``haflow serve`` on the 1-node lab: every endpoint, tokens and
roles, idempotent submits, the event stream from submit to done, hostile requests."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from haflow.coordinator.cluster.env import for_lab
from tests.live.conftest import Live
from tests.service.apitools import LabHttp, cli
from tests.service.conftest import PORT, Api

pytestmark = pytest.mark.tier1

TEMPLATE = """\
name: greet
description: writes a message, after a first step
inputs:
  message: {{type: string}}
steps:
  first:
    agent: test
    params: {{state_dir: "{state}"}}
  say:
    agent: exec
    after: [first]
    params:
      env: "MSG=${{inputs.message}}"
      do: 'printf "%s" "$MSG" > "{state}/said-$HAFLOW_WORKFLOW"'
      undo: 'rm -f "{state}/said-$HAFLOW_WORKFLOW"'
"""
# shell and XML metacharacters: none of it may run, all of it must arrive as written
HOSTILE = ("a'; touch {tmp}/pwned1; echo '$(touch {tmp}/pwned2)`touch {tmp}/pwned3`"
           "\"<x a='1'>&amp;</x>]]>${{steps.first.x}}${{secrets.nope}} |&;")


def _template(api: Api) -> str:
    return TEMPLATE.format(state=api.tmp)


@pytest.fixture(scope="module")
def greet(api: Api) -> Iterator[str]:
    answer = api.http.post("/v1/templates", api.tokens["admin"],
                           json={"text": _template(api)})
    assert answer.status_code == 201, answer.text
    yield "greet"
    cli(api.layout, "templates", "remove", "greet")


def _configuration(api: Api) -> bytes:
    """The CIB's configuration without what running steps write (tests/live's)."""
    env = for_lab(api.layout.name, root=str(api.layout.root))
    return Live(api.layout, api.tmp, env).configuration()


def _codes(answer: Any) -> list[str]:
    return [e["code"] for e in answer.json()["errors"]]


def test_health_and_openapi_document_every_endpoint(api: Api) -> None:
    health = api.http.get("/v1/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    doc = api.http.get("/openapi.json").json()
    assert set(doc["paths"]) >= {
        "/v1/health", "/v1/workflows", "/v1/workflows/{name}", "/v1/workflows/{name}/abort",
        "/v1/workflows/{name}/retry", "/v1/workflows/{name}/history", "/v1/events",
        "/v1/templates", "/v1/templates/{name}", "/v1/users"}
    schemas = doc["components"]["schemas"]
    assert {"WorkflowModel", "StepModel", "SubmitRequest", "ErrorAnswer"} <= set(schemas)
    events = doc["paths"]["/v1/events"]["get"]["responses"]["200"]["content"]
    assert "text/event-stream" in events


def test_no_token_401_and_each_role_only_what_it_may(api: Api, greet: str) -> None:
    calls = [("GET", "/v1/workflows", None), ("GET", "/v1/templates", None),
             ("GET", "/v1/events", None),
             ("POST", "/v1/workflows", {"template": "greet", "inputs": {"message": "x"},
                                        "name": "rolecheck"}),
             ("POST", "/v1/workflows/nosuch/abort", None),
             ("DELETE", "/v1/workflows/nosuch", None),
             ("POST", "/v1/templates", {"text": "name: t\nsteps: {}\n"}),
             ("GET", "/v1/users", None)]
    # wrong tokens from an address of their own: 8 failures stay under the login limit
    stranger = LabHttp(api.layout, "node1", f"http://127.0.0.1:{PORT}", workers=1,
                       local_address="127.0.0.8")
    wrong = ("t-viewer.wrong", "nobody.x", "garbage", "t-admin.")
    try:
        for index, (method, path, body) in enumerate(calls):
            for bad in (None, wrong[index % len(wrong)]):
                answer = stranger.request(method, path, bad, json=body)
                assert answer.status_code == 401, (method, path, bad, answer.text)
                assert answer.headers["www-authenticate"] == "Bearer"
                assert _codes(answer) == ["AUTH_REQUIRED"]
    finally:
        stranger.close()
    allowed = {"viewer": 3, "operator": 6, "admin": 8}  # a prefix of ``calls`` each
    for role, count in allowed.items():
        for index, (method, path, body) in enumerate(calls):
            if method == "GET" and path == "/v1/events":
                continue  # a stream: its 200 is shown by the events test
            answer = api.http.request(method, path, api.tokens[role], json=body)
            if index < count:
                assert answer.status_code not in (401, 403), (role, path, answer.text)
            else:
                assert answer.status_code == 403, (role, path, answer.text)
                assert _codes(answer) == ["FORBIDDEN"]
    api.workflows.append("rolecheck")
    cli(api.layout, "templates", "remove", "t")
    assert api.http.get("/v1/whoami", api.tokens["operator"]).json() == {
        "user": "t-operator", "role": "operator"}


def test_failed_logins_are_rate_limited_per_address(api: Api) -> None:
    # from an address of its own: the other tests' client keeps working
    other = LabHttp(api.layout, "node1", f"http://127.0.0.1:{PORT}", workers=1,
                    local_address="127.0.0.7")
    try:
        codes = [other.get("/v1/workflows", f"t-admin.guess{i}").status_code
                 for i in range(12)]
        assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
        locked = other.get("/v1/workflows", api.tokens["admin"])  # even a good token waits
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        assert _codes(locked) == ["TOO_MANY_FAILED_LOGINS"]
        assert api.http.get("/v1/workflows", api.tokens["admin"]).status_code == 200
    finally:
        other.close()


def test_a_template_runs_to_done_once_with_retries_seen_on_the_event_stream(
        api: Api, greet: str) -> None:
    events: list[dict[str, Any]] = []
    stop = threading.Event()
    api.http.events(api.tokens["viewer"], events, stop)
    time.sleep(1)
    body = {"template": "greet", "inputs": {"message": "hello"}, "name": "greet1"}
    key = {"Idempotency-Key": "req-greet1"}
    first = api.http.post("/v1/workflows", api.tokens["operator"], json=body, headers=key)
    api.workflows.append("greet1")
    assert first.status_code == 201, first.text
    again = api.http.post("/v1/workflows", api.tokens["operator"], json=body, headers=key)
    assert again.status_code == 200 and again.json()["replayed"]
    assert again.json()["submission"] == first.json()["submission"]
    other = api.http.post("/v1/workflows", api.tokens["operator"],
                          json={**body, "inputs": {"message": "bye"}}, headers=key)
    assert other.status_code == 409 and _codes(other) == ["IDEMPOTENCY_KEY_REUSED"]
    deadline = time.monotonic() + 90
    while not any(e["type"] == "workflow" and e["workflow"] == "greet1"
                  and e["state"] == "done" for e in events):
        assert time.monotonic() < deadline, events
        time.sleep(0.5)
    stop.set()
    mine = [e for e in events if e["workflow"] == "greet1"]
    assert mine[0]["type"] == "workflow" and mine[0]["state"] == "running"
    assert {(e["step"], e["state"]) for e in mine if e["type"] == "step"} >= {
        ("first", "done"), ("say", "done")}
    assert (api.tmp / "said-greet1").read_text() == "hello"
    listed = api.http.get("/v1/workflows", api.tokens["viewer"]).json()
    assert next(w for w in listed if w["name"] == "greet1")["state"] == "done"
    # one workflow, whatever the retries: the CLI agrees with the API
    shown = api.http.get("/v1/workflows/greet1", api.tokens["viewer"]).json()
    cli_view = json.loads(cli(api.layout, "status", "greet1", "--output-as", "json").stdout)
    assert shown["submission"] == cli_view["submission"] == first.json()["submission"]
    assert [(s["name"], s["state"]) for s in shown["steps"]] == [
        (s["name"], s["state"]) for s in cli_view["steps"]]
    history = api.http.get("/v1/workflows/greet1/history", api.tokens["viewer"]).json()
    assert [e["task"] for e in history].count("submit") == 1
    # the history names the token's user, not the unix user the API runs as
    submitted = next(e for e in history if e["task"] == "submit")
    assert submitted["text"].endswith("(by t-operator through the API)"), submitted
    # abort, retry, abort again and remove, through the API
    assert api.http.post("/v1/workflows/greet1/abort", api.tokens["operator"]).status_code \
        == 200
    assert api.http.post("/v1/workflows/greet1/abort", api.tokens["operator"]).status_code \
        == 409
    _wait_state(api, "greet1", "rolled back")
    assert not (api.tmp / "said-greet1").exists()
    retried = api.http.post("/v1/workflows/greet1/retry", api.tokens["operator"], json={})
    assert retried.status_code == 200, retried.text
    _wait_state(api, "greet1", "done")
    api.http.post("/v1/workflows/greet1/abort", api.tokens["operator"])
    _wait_state(api, "greet1", "rolled back")
    gone = api.http.request("DELETE", "/v1/workflows/greet1", api.tokens["operator"])
    assert gone.status_code == 200, gone.text
    missing = api.http.get("/v1/workflows/greet1", api.tokens["viewer"])
    assert missing.status_code == 404 and _codes(missing) == ["WORKFLOW_NOT_FOUND"]


def _wait_state(api: Api, name: str, state: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        found = api.http.get(f"/v1/workflows/{name}", api.tokens["viewer"]).json()
        if found.get("state") == state:
            return
        assert time.monotonic() < deadline, found
        time.sleep(0.5)


def test_inputs_of_shell_and_xml_metacharacters_arrive_as_data(api: Api, greet: str) -> None:
    message = HOSTILE.format(tmp=api.tmp)
    body = {"template": "greet", "inputs": {"message": message}, "name": "greet2"}
    answer = api.http.post("/v1/workflows", api.tokens["operator"], json=body)
    api.workflows.append("greet2")
    assert answer.status_code == 201, answer.text
    _wait_state(api, "greet2", "done")
    assert (api.tmp / "said-greet2").read_text() == message
    assert not list(api.tmp.glob("pwned*"))


def test_hostile_requests_are_clear_4xx_and_change_nothing(api: Api, greet: str) -> None:
    before = _configuration(api)
    operator, admin = api.tokens["operator"], api.tokens["admin"]
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("POST", "/v1/workflows", {"content": b"x" * (600 * 1024),
                                   "headers": {"content-type": "application/json"}},
         413, "REQUEST_TOO_LARGE"),
        ("POST", "/v1/workflows", {"content": b'{"template": "greet",',
                                   "headers": {"content-type": "application/json"}},
         400, "BAD_REQUEST"),
        ("POST", "/v1/workflows", {"json": {"template": "greet", "inputs": {"message": "x"},
                                            "command": "rm -rf /"}}, 422, "BAD_REQUEST"),
        ("POST", "/v1/workflows", {"json": {"template": "../../etc/passwd"}}, 422,
         "BAD_REQUEST"),
        ("POST", "/v1/workflows", {"json": {"template": "greet", "name": "a.b",
                                            "inputs": {"message": "x"}}}, 422, "BAD_REQUEST"),
        ("POST", "/v1/workflows", {"json": {"template": "greet",
                                            "inputs": {"message": "a\nPATH=/tmp"}}},
         422, "BAD_INPUTS"),
        ("POST", "/v1/workflows", {"json": {"template": "greet",
                                            "inputs": {"message": "x", "shell": "/bin/x"}}},
         422, "INPUT_UNKNOWN"),
        ("POST", "/v1/workflows", {"json": {"template": "nosuch"}}, 404, "TEMPLATE_NOT_FOUND"),
        ("POST", "/v1/workflows", {"json": ["not", "an", "object"]}, 422, "BAD_REQUEST"),
        ("GET", "/v1/workflows/..%2F..%2Fetc%2Fpasswd", {}, 404, "NO_SUCH_ENDPOINT"),
        ("GET", "/v1/workflows/a.root", {}, 422, "BAD_REQUEST"),
        ("POST", "/v1/workflows/%3Cx%3E/abort", {}, 422, "BAD_REQUEST"),
        ("POST", "/v1/templates", {"json": {"text": "name: t\nsteps:\n  a:\n    agent: exec\n"
                                            "    params: {do: 'echo ${inputs.x}'}\n"
                                            "inputs: {x: {type: string}}\n"}},
         422, "BAD_REFERENCE"),
        ("POST", "/v1/templates", {"json": {"text": "name: greet\nsteps:\n  a: {agent: test, "
                                            "params: {state_dir: /tmp}}\n"}}, 409,
         "TEMPLATE_EXISTS"),
    ]
    for method, path, kwargs, status, code in cases:
        token = admin if "/v1/templates" in path else operator
        answer = api.http.request(method, path, token, **kwargs)
        assert answer.status_code == status, (path, kwargs, answer.text)
        assert code in _codes(answer), (path, answer.text)
        assert all(e["message"] for e in answer.json()["errors"])
    assert _configuration(api) == before


def test_no_secret_or_token_in_answers(api: Api, greet: str) -> None:
    admin = api.tokens["admin"]
    value = "v-" + "9f3a" * 8
    put = api.http.request("PUT", "/v1/secrets/dbpass", admin, json={"value": value})
    assert put.status_code == 200, put.text
    try:
        assert put.json()["name"] == "dbpass" and value not in put.text
        bad = api.http.request("PUT", "/v1/secrets/a.b", admin, json={"value": "x"})
        assert bad.status_code == 422
        assert api.http.request("PUT", "/v1/secrets/dbpass", api.tokens["operator"],
                                json={"value": "x"}).status_code == 403
        answers = [api.http.get(path, admin).text for path in (
            "/v1/secrets", "/v1/users", "/v1/templates", "/v1/templates/greet",
            "/v1/workflows", "/v1/health", "/openapi.json")]
        assert "dbpass" in answers[0]
        users = api.http.get("/v1/users", admin).json()
        assert {"t-viewer", "t-operator", "t-admin"} <= {u["name"] for u in users}
        for text in answers:
            assert value not in text
            for token in api.tokens.values():
                assert token.partition(".")[2] not in text
        store = api.layout.dir / "nodes/node1/fs/var/lib/pacemaker/lrm/secrets/haflow/dbpass"
        assert store.read_text() == value
    finally:
        gone = api.http.request("DELETE", "/v1/secrets/dbpass", admin)
        assert gone.status_code == 200, gone.text




def test_acl_lets_a_haclient_member_read_status_but_not_write(api: Api) -> None:
    """`haflow acl enable`: a user that is not root and only a member of haclient (its own
    group first, as it logs in) runs `haflow status`; its submit and abort are refused by
    the CIB manager, and haflow says so. Joining haflow-operators lets it abort; `acl
    grant` gives one user a role without a group."""
    import tempfile

    from haflow.lab import control

    # where the users can read it (pytest's own directories are root's alone)
    readable = Path(tempfile.mkdtemp(prefix="haflow-acl-"))
    readable.chmod(0o755)
    workflow = readable / "aclwf.yaml"
    workflow.write_text(json.dumps({"name": "aclwf", "steps": {
        "a": {"agent": "test", "params": {"state_dir": str(api.tmp)}}}}))
    workflow.chmod(0o644)
    api.workflows.append("aclwf")
    assert cli(api.layout, "submit", str(workflow)).returncode == 0
    haflow = str(Path(sys.executable).with_name("haflow"))
    user = "haflow-acl-member"

    def on_node(*argv: str) -> subprocess.CompletedProcess[str]:
        # the lab's nodes share one /etc of their own: a user made here is the lab's alone
        done = control.run_on(api.layout, "node1", list(argv), timeout=120)
        assert done.returncode == 0, done.stderr
        return done

    def as_member(*argv: str) -> subprocess.CompletedProcess[str]:
        return control.run_on(api.layout, "node1", ["setpriv", f"--reuid={user}",
                                                    f"--regid={user}", "--init-groups",
                                                    *argv], timeout=120)

    def as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
        # a user in no group of the cluster's, that only a grant of its own lets in
        return control.run_on(api.layout, "node1", ["setpriv", "--reuid=nobody",
                                                    "--regid=haclient", "--clear-groups",
                                                    *argv], timeout=120)

    on_node("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group",
            "--groups", "haclient", user)
    try:
        assert cli(api.layout, "acl", "enable").returncode == 0
        shown = as_member(haflow, "status", "aclwf", "--output-as", "json")
        assert shown.returncode in (0, 7), shown.stderr
        assert json.loads(shown.stdout)["name"] == "aclwf"
        # a real change: replacing a workflow by itself writes nothing, so nothing to refuse
        workflow.write_text(json.dumps({"name": "aclwf", "description": "changed", "steps": {
            "a": {"agent": "test", "params": {"state_dir": str(api.tmp)}}}}))
        for argv in (("abort", "aclwf"), ("submit", str(workflow), "--replace")):
            refused = as_member(haflow, *argv, "--output-as", "json")
            assert refused.returncode == 9, refused.stdout + refused.stderr
            assert json.loads(refused.stdout)["errors"][0]["code"] == "PERMISSION_DENIED"
        assert "haflow-user-" not in as_member("cibadmin", "--query").stdout
        # not in haclient, no grant: the CIB manager lets nobody read nothing
        assert as_nobody(haflow, "status", "aclwf").returncode != 0
        assert cli(api.layout, "acl", "grant", "nobody", "--role", "viewer").returncode == 0
        assert as_nobody(haflow, "status", "aclwf").returncode in (0, 7)
        on_node("groupadd", "--force", "haflow-operators")
        on_node("usermod", "--append", "--groups", "haflow-operators", user)
        aborted = as_member(haflow, "abort", "aclwf")
        assert aborted.returncode == 0, aborted.stdout + aborted.stderr
        # an operator's submit also (re)writes haflow's shared defaults
        config = for_lab(api.layout.name, root=str(api.layout.root))
        assert config.run(["cibadmin", "--delete", "--xml-text",
                           "<meta_attributes id='haflow-defaults'/>"]).returncode == 0
        submitted = as_member(haflow, "submit", str(workflow), "--replace")
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        assert "haflow-defaults" in config.run(["cibadmin", "--query", "--scope",
                                                "rsc_defaults"]).stdout
    finally:
        workflow.unlink()
        readable.rmdir()
        config = for_lab(api.layout.name, root=str(api.layout.root))
        config.run(["cibadmin", "--delete", "--xml-text", "<acls/>"])
        config.run(["crm_attribute", "--type", "crm_config", "--name", "enable-acl",
                    "--delete"])
        control.run_on(api.layout, "node1", ["userdel", user])
        control.run_on(api.layout, "node1", ["groupdel", "haflow-operators"])


def test_serve_speaks_tls_with_the_certificate_it_is_given(api: Api) -> None:
    """`haflow serve --tls-cert F --tls-key F`: HTTPS that a client checking the certificate
    trusts, and no plain HTTP on the same port."""
    import ssl

    import httpx

    from tests.service.apitools import serving, wait_healthy

    cert, key = api.tmp / "tls.crt", api.tmp / "tls.key"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                           "-days", "1", "-subj", "/CN=haflow-test", "-addext",
                           "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                           str(cert)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    port = PORT + 1
    log = api.tmp / "serve-tls.log"
    with serving(api.layout, "node1", f"127.0.0.1:{port}", log, "--tls-cert", str(cert),
                 "--tls-key", str(key)):
        trusting = ssl.create_default_context(cafile=str(cert))
        https = LabHttp(api.layout, "node1", f"https://127.0.0.1:{port}", verify=trusting)
        plain = LabHttp(api.layout, "node1", f"http://127.0.0.1:{port}")
        untrusting = LabHttp(api.layout, "node1", f"https://127.0.0.1:{port}")
        try:
            assert wait_healthy(https)["status"] == "ok"
            listed = https.get("/v1/workflows", api.tokens["viewer"])
            assert listed.status_code == 200, listed.text
            with pytest.raises(httpx.HTTPError):
                plain.get("/v1/health")
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                untrusting.get("/v1/health")
        finally:
            for client in (https, plain, untrusting):
                client.close()
    half = cli(api.layout, "serve", "--listen", f"127.0.0.1:{port}", "--tls-cert", str(cert))
    assert half.returncode == 2 and "go together" in half.stdout + half.stderr


GATED = """\
name: gated
steps:
  a: {{agent: test, params: {{state_dir: "{state}"}}}}
  b: {{agent: test, after: [a], approval: true, params: {{state_dir: "{state}"}}}}
"""


def test_approve_pause_and_resume_through_the_api(api: Api) -> None:
    admin, operator, viewer = (api.tokens[r] for r in ("admin", "operator", "viewer"))
    added = api.http.post("/v1/templates", admin, json={"text": GATED.format(state=api.tmp)})
    assert added.status_code == 201, added.text
    try:
        made = api.http.post("/v1/workflows", operator, json={"template": "gated"})
        api.workflows.append("gated")
        assert made.status_code == 201, made.text
        deadline = time.monotonic() + 60
        while True:  # a runs, b waits for its approval
            steps = {s["name"]: s for s in api.http.get("/v1/workflows/gated",
                                                        viewer).json()["steps"]}
            if steps["a"]["state"] == "done":
                break
            assert time.monotonic() < deadline, steps
            time.sleep(0.5)
        assert steps["b"]["state"] != "done"
        path = "/v1/workflows/gated"
        assert api.http.post(f"{path}/approve", viewer, json={"step": "b"}).status_code == 403
        for action, code in (("pause", 200), ("pause", 409), ("resume", 200),
                             ("resume", 409)):
            answer = api.http.post(f"{path}/{action}", operator)
            assert answer.status_code == code, (action, answer.text)
        missing = api.http.post(f"{path}/approve", operator, json={"step": "nosuch"})
        assert missing.status_code == 404 and _codes(missing) == ["STEP_NOT_FOUND"]
        no_gate = api.http.post(f"{path}/approve", operator, json={"step": "a"})
        assert no_gate.status_code == 400 and _codes(no_gate) == ["NOT_A_GATE"]
        approved = api.http.post(f"{path}/approve", operator, json={"step": "b"})
        assert approved.status_code == 200, approved.text
        again = api.http.post(f"{path}/approve", operator, json={"step": "b"})
        assert again.status_code == 409 and _codes(again) == ["ALREADY_APPROVED"]
        _wait_state(api, "gated", "done")
        history = api.http.get(f"{path}/history", viewer).json()
        assert any(e["task"] == "approve" and "t-operator" in e["text"] for e in history)
    finally:
        template = "/v1/templates/gated"
        assert api.http.request("DELETE", template, operator).status_code == 403
        assert api.http.request("DELETE", template, admin).status_code == 200
        assert api.http.get(template, viewer).status_code == 404
