"""``ocf:haflow:http`` run as Pacemaker runs it, against a real REST server on loopback.

The server is a small in-memory collection (``POST /items``, ``GET|DELETE
/items/N``, ``PUT|GET|DELETE /things/NAME``) that records every request,
honours ``Idempotency-Key`` (same key, same object, no second create) and
answers forced statuses on command. The CIB is a file (``CIB_file``) holding
the workflow's root ``wf.root`` and the step ``wf.step``.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from haflow.agents.http_agent import (
    fill,
    parse_headers,
    parse_outputs,
    parse_path,
    parse_statuses,
    pick,
)
from haflow.agents.http_client import split_http
from haflow.encoding.ids import outputs_set_id
from tests.agents.agentrun import AgentResult, Sandbox, cibadmin, ocf_tester

pytestmark = pytest.mark.tier0

MODULE = "haflow.agents.http_agent"
STEP = "wf.step"
KEY = "wf/step/s1"  # the idempotency key of workflow wf, step step, submission s1
RECURRING = {"interval": "10000"}  # a recurring monitor, not a probe


# ---- the REST server ---------------------------------------------------------------------


class Recorded:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"{self.method} {self.path}"


class Rest:
    """State of the server: objects by path, idempotency keys, requests, forced answers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[str, dict[str, object]] = {}
        self.by_key: dict[str, str] = {}  # idempotency key -> path of the object it made
        self.first_answer: dict[str, dict[str, object]] = {}  # key -> what its create said
        self.replay = False  # answer a repeated key even when its object is gone
        self.requests: list[Recorded] = []
        self.forced: dict[str, list[tuple[int, bytes, bool]]] = {}
        self.location = True  # send a Location header on create
        self.delay = 0.0
        self.counter = 0
        self.base = ""

    def force(self, method: str, status: int, body: bytes = b"", close: bool = False) -> None:
        """The next ``method`` request answers ``status`` and does nothing else.

        ``close``: no Content-Length, the answer ends when the connection closes.
        """
        self.forced.setdefault(method, []).append((status, body, close))

    def count(self, method: str, prefix: str = "/") -> int:
        return sum(1 for r in self.requests if r.method == method and r.path.startswith(prefix))

    def url(self, path: str) -> str:
        return self.base + path


class Handler(BaseHTTPRequestHandler):
    server: RestServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest's output clean; requests are recorded instead

    def _answer(self, status: int, body: object = None,
                headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else (
            b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        rest = self.server.rest
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with rest.lock:
            rest.requests.append(Recorded(self.command, self.path, dict(self.headers), body))
            forced = rest.forced.get(self.command)
            answer = forced.pop(0) if forced else None
            delay = rest.delay
        if delay:
            time.sleep(delay)
        if answer and answer[2]:
            self.send_response(answer[0])
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(answer[1])
            self.close_connection = True
            return
        if answer:
            self._answer(answer[0], answer[1])
            return
        with rest.lock:
            getattr(self, "_" + self.command.lower())(rest, body)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def _post(self, rest: Rest, body: bytes) -> None:
        if self.path != "/items":
            self._answer(405)
            return
        key = self.headers.get("Idempotency-Key")
        if key and key in rest.by_key and (rest.replay or rest.by_key[key] in rest.objects):
            # a retried create: the first answer again, not a second object (with replay,
            # even when that object has been deleted since, as some services do)
            path = rest.by_key[key]
            self._answer(200, rest.first_answer[key],
                         {"Location": path} if rest.location else {})
            return
        rest.counter += 1
        path = f"/items/{rest.counter}"
        spec = json.loads(body) if body else {}
        rest.objects[path] = {"id": str(rest.counter), "spec": spec,
                              "data": {"ip": f"10.0.0.{rest.counter}", "ready": True},
                              "tags": ["a", "b"]}
        if key:
            rest.by_key[key] = path
            rest.first_answer[key] = dict(rest.objects[path])
        self._answer(201, rest.objects[path], {"Location": path} if rest.location else {})

    def _put(self, rest: Rest, body: bytes) -> None:
        if not self.path.startswith("/things/"):
            self._answer(405)
            return
        existed = self.path in rest.objects
        rest.objects[self.path] = {"name": self.path.rsplit("/", 1)[1],
                                   "spec": json.loads(body) if body else {}}
        self._answer(200 if existed else 201, rest.objects[self.path])

    def _get(self, rest: Rest, body: bytes) -> None:
        found = rest.objects.get(self.path)
        self._answer(200 if found else 404, found or {"error": "not found"})

    def _delete(self, rest: Rest, body: bytes) -> None:
        if rest.objects.pop(self.path, None) is None:
            self._answer(404, {"error": "not found"})
        else:
            self._answer(204)


class RestServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, rest: Rest, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.rest = rest
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        scheme = "https" if tls else "http"
        rest.base = f"{scheme}://127.0.0.1:{self.server_address[1]}"


@contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[Rest]:
    """A running server (its state), shut down and closed however the test ends."""
    rest = Rest()
    server = RestServer(rest, tls)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield rest
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def rest() -> Iterator[Rest]:
    with serve() as state:
        yield state


def make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made by ``openssl``."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    directory = tmp_path_factory.mktemp("certs")
    return {"server": make_cert(directory, "server"), "client": make_cert(directory, "client")}


def server_tls(certs: dict[str, tuple[Path, Path]], client_auth: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certs["server"])
    if client_auth:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(certs["client"][0]))
    return context


@pytest.fixture
def rest_tls(certs: dict[str, tuple[Path, Path]]) -> Iterator[Rest]:
    with serve(server_tls(certs, client_auth=False)) as state:
        yield state


# ---- the node and its CIB --------------------------------------------------------------------


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    if shutil.which("cibadmin") is None:
        pytest.skip("cibadmin (pacemaker-cli-utils) is not installed")
    sandbox = Sandbox(tmp_path)
    sandbox.add_primitive("wf.root", "workflow")
    sandbox.add_primitive(STEP, "http")
    return sandbox


def step_params(rest: Rest, **extra: str) -> dict[str, str]:
    params = {"workflow": "wf", "step": "step", "submission": "s1",
              "url": rest.url("/items"), "body": '{"name": "vm1"}',
              "outputs": "id=$.id\nip=data.ip\nready=$.data.ready first_tag=$.tags[0]"}
    params.update(extra)
    return params


def run(box: Sandbox, action: str, params: dict[str, str],
        meta: dict[str, str] | None = None) -> AgentResult:
    return box.run(MODULE, action, params, STEP, meta=meta)


# ---- start, adopt, monitor ---------------------------------------------------------------------


def test_start_creates_once_and_stores_outputs(rest: Rest, box: Sandbox) -> None:
    result = run(box, "start", step_params(rest))
    assert result.rc == 0, result
    posts = [r for r in rest.requests if r.method == "POST"]
    assert len(posts) == 1
    assert posts[0].headers["Idempotency-Key"] == KEY
    assert posts[0].headers["Content-Type"] == "application/json"
    assert json.loads(posts[0].body) == {"name": "vm1"}
    assert rest.objects["/items/1"]["spec"] == {"name": "vm1"}
    # outputs picked from the JSON answer are in the CIB, as meta attributes of the step
    assert box.outputs(STEP)["id"] == "1" and box.effect(STEP) == "present"
    assert box.outputs(STEP) == {"id": "1", "ip": "10.0.0.1", "ready": "true",
                                 "first_tag": "a", "url": rest.url("/items/1")}
    assert box.marker(STEP).exists()


def test_second_start_adopts_without_a_second_post(rest: Rest, box: Sandbox) -> None:
    params = step_params(rest)
    assert run(box, "start", params).rc == 0
    result = run(box, "start", params)
    assert result.rc == 0, result
    assert rest.count("POST") == 1
    assert rest.count("GET", "/items/1") >= 1
    assert len(rest.objects) == 1


def test_start_after_failover_adopts_from_the_cib(rest: Rest, box: Sandbox) -> None:
    params = step_params(rest)
    assert run(box, "start", params).rc == 0
    box.forget_markers()  # a survivor: no marker, only the outputs in the CIB
    assert run(box, "monitor", params).rc == 7  # the probe there: not running here
    result = run(box, "start", params)
    assert result.rc == 0, result
    assert rest.count("POST") == 1
    assert box.outputs(STEP)["id"] == "1"


def test_a_lost_create_answer_is_deduplicated_by_the_key(rest: Rest, box: Sandbox) -> None:
    # the object exists but nothing on our side knows its URL: the create is retried
    # with the same idempotency key and the server answers with the same object
    params = step_params(rest)
    assert run(box, "start", params).rc == 0
    box.forget_markers()
    box.set_outputs(STEP, {})
    result = run(box, "start", params)
    assert result.rc == 0, result
    assert rest.count("POST") == 2 and len(rest.objects) == 1
    assert box.outputs(STEP)["url"] == rest.url("/items/1")


def test_monitor_not_running_running_and_drift(rest: Rest, box: Sandbox) -> None:
    params = step_params(rest)
    assert run(box, "monitor", params).rc == 7  # never started here
    assert run(box, "start", params).rc == 0
    assert run(box, "monitor", params, RECURRING).rc == 0
    assert run(box, "monitor", params).rc == 0  # probe after start
    del rest.objects["/items/1"]  # deleted behind the cluster's back
    result = run(box, "monitor", params, RECURRING)
    assert result.rc == 1, result
    assert result.exit_reason and "drift" in result.exit_reason
    # a probe finding our marker without the effect: not running here, marker dropped
    assert run(box, "monitor", params).rc == 7
    assert not box.marker(STEP).exists()


@pytest.mark.parametrize("replay", [False, True])
def test_drift_is_repaired_by_a_new_create(rest: Rest, box: Sandbox, replay: bool) -> None:
    # Pacemaker's recovery: the failed monitor, a stop (a move: no undo), a start
    rest.replay = replay
    params = step_params(rest)
    assert run(box, "start", params).rc == 0
    del rest.objects["/items/1"]
    assert run(box, "monitor", params, RECURRING).rc == 1
    assert run(box, "stop", params).rc == 0
    result = run(box, "start", params)
    assert result.rc == 0, result
    assert list(rest.objects) == ["/items/2"]
    assert box.outputs(STEP)["url"] == rest.url("/items/2")
    keys = [r.headers["Idempotency-Key"] for r in rest.requests if r.method == "POST"]
    assert keys[0] == KEY and keys[1].startswith(KEY + "+") and len(keys) == 2
    assert run(box, "monitor", params, RECURRING).rc == 0
    # a redo whose answer was lost (the CIB still names the gone object) is retried
    # with the same key: the service answers with the object the redo made
    box.forget_markers()
    box.set_outputs(STEP, {**box.outputs(STEP), "url": rest.url("/items/1")})
    assert box.outputs(STEP)["url"] == rest.url("/items/1")
    assert run(box, "start", params).rc == 0
    keys = [r.headers["Idempotency-Key"] for r in rest.requests if r.method == "POST"]
    assert len(keys) == 3 and keys[2] == keys[1]
    assert list(rest.objects) == ["/items/2"]
    assert box.outputs(STEP)["url"] == rest.url("/items/2")


def test_monitor_fails_on_an_unexpected_check_status(rest: Rest, box: Sandbox) -> None:
    params = step_params(rest)
    assert run(box, "start", params).rc == 0
    rest.force("GET", 503, b'{"error": "maintenance"}')
    result = run(box, "monitor", params, RECURRING)
    assert result.rc == 1, result
    assert result.exit_reason is not None
    assert "503" in result.exit_reason and rest.url("/items/1") in result.exit_reason


# ---- stop: a move keeps the effect, an abort undoes it ----------------------------------------


def test_stop_as_a_move_keeps_the_effect(rest: Rest, box: Sandbox) -> None:
    params = step_params(rest)
    assert run(box, "start", params).rc == 0
    result = run(box, "stop", params)
    assert result.rc == 0, result
    assert rest.count("DELETE") == 0
    assert "/items/1" in rest.objects
    assert not box.marker(STEP).exists()
    assert run(box, "monitor", params).rc == 7
    assert run(box, "start", params).rc == 0  # the next start adopts it
    assert rest.count("POST") == 1


def test_stop_with_the_root_stopped_undoes_once(rest: Rest, box: Sandbox) -> None:
    params = step_params(rest)
    assert run(box, "start", params).rc == 0
    box.set_target_role("wf.root", "Stopped")
    result = run(box, "stop", params)
    assert result.rc == 0, result
    assert [r.path for r in rest.requests if r.method == "DELETE"] == ["/items/1"]
    assert rest.objects == {}
    assert box.outputs(STEP) == {}
    assert not box.marker(STEP).exists()
    result = run(box, "stop", params)  # idempotent: nothing left to undo
    assert result.rc == 0, result
    assert rest.count("DELETE") <= 2 and rest.objects == {}


def test_undo_of_an_object_already_gone_succeeds(rest: Rest, box: Sandbox) -> None:
    params = step_params(rest)
    assert run(box, "start", params).rc == 0
    del rest.objects["/items/1"]
    box.set_target_role("wf.root", "Stopped")
    result = run(box, "stop", params)
    assert result.rc == 0, result
    assert rest.count("DELETE") == 1  # answered 404: already undone


def test_undo_on_another_node_uses_the_cib_outputs(rest: Rest, box: Sandbox) -> None:
    params = step_params(rest)
    assert run(box, "start", params).rc == 0
    box.forget_markers()
    box.set_target_role("wf.root", "Stopped")
    result = run(box, "stop", params)
    assert result.rc == 0, result
    assert rest.objects == {}


def test_undo_fails_on_an_unexpected_delete_status(rest: Rest, box: Sandbox) -> None:
    params = step_params(rest)
    assert run(box, "start", params).rc == 0
    box.set_target_role("wf.root", "Stopped")
    rest.force("DELETE", 409, b'{"error": "in use"}')
    result = run(box, "stop", params)
    assert result.rc == 1, result
    assert result.exit_reason is not None
    assert "409" in result.exit_reason and "in use" in result.exit_reason


# ---- failures of the create --------------------------------------------------------------------


def test_unexpected_create_status_fails_naming_it(rest: Rest, box: Sandbox) -> None:
    rest.force("POST", 409, b'{"error": "quota exceeded"}')
    result = run(box, "start", step_params(rest))
    assert result.rc == 1, result
    reason = result.exit_reason or ""
    assert "409" in reason and rest.url("/items") in reason and "quota exceeded" in reason
    assert not box.marker(STEP).exists()


def test_expected_status_is_configurable(rest: Rest, box: Sandbox) -> None:
    result = run(box, "start", step_params(rest, expected_status="200,202"))
    assert result.rc == 1, result
    assert "answered 201" in (result.exit_reason or "")


def test_a_create_missing_an_output_is_undone(rest: Rest, box: Sandbox) -> None:
    # the object was made but the answer lacks an output: under the rollback policy the
    # framework undoes the partial effect, which needs the URL recorded before the failure
    result = run(box, "start", step_params(rest, outputs="id=$.id\nzone=$.data.zone"))
    assert result.rc == 1, result
    assert "zone" in (result.exit_reason or "") and "$.data.zone" in (result.exit_reason or "")
    assert rest.count("DELETE") == 1 and rest.objects == {}


def test_unreachable_server_fails_naming_the_url(rest: Rest, box: Sandbox) -> None:
    url = rest.url("/items")
    port = url.rsplit(":", 1)[1].split("/")[0]
    dead = url.replace(port, "1")  # nothing listens on port 1
    result = run(box, "start", step_params(rest, url=dead))
    assert result.rc == 1, result
    assert dead in (result.exit_reason or "")


def test_request_timeout(rest: Rest, box: Sandbox) -> None:
    rest.delay = 3
    started = time.monotonic()
    result = run(box, "start", step_params(rest, request_timeout="1"))
    assert result.rc == 1, result
    assert "timed out" in (result.exit_reason or "")
    assert time.monotonic() - started < 3


def test_action_deadline_bounds_the_request(rest: Rest, box: Sandbox) -> None:
    rest.delay = 5
    started = time.monotonic()
    result = run(box, "start", step_params(rest), meta={"timeout": "2000"})
    assert result.rc == 1, result
    assert time.monotonic() - started < 4.5


# ---- other ways to name the object -------------------------------------------------------------


def test_without_location_the_url_is_built_from_the_id(rest: Rest, box: Sandbox) -> None:
    rest.location = False
    params = step_params(rest)
    assert run(box, "start", params).rc == 0
    assert box.outputs(STEP)["url"] == rest.url("/items/1")
    assert run(box, "monitor", params, RECURRING).rc == 0


def test_check_and_undo_url_templates(rest: Rest, box: Sandbox) -> None:
    rest.location = False
    params = step_params(rest, outputs="ident=$.id", check_url=rest.url("/items/{ident}"),
                         undo_url=rest.url("/items/{ident}"))
    result = run(box, "start", params)
    assert result.rc == 0, result
    assert box.outputs(STEP) == {"ident": "1"}
    assert run(box, "monitor", params, RECURRING).rc == 0
    box.set_target_role("wf.root", "Stopped")
    assert run(box, "stop", params).rc == 0
    assert rest.objects == {}


def test_unknown_object_url_is_a_configuration_error(rest: Rest, box: Sandbox) -> None:
    rest.location = False
    result = run(box, "start", step_params(rest, outputs="ip=data.ip"))
    assert result.rc == 6, result
    assert "URL is unknown" in (result.exit_reason or "")


def test_put_creates_at_the_url(rest: Rest, box: Sandbox) -> None:
    params = step_params(rest, method="PUT", url=rest.url("/things/web"), outputs="name=name")
    assert run(box, "start", params).rc == 0
    assert box.outputs(STEP) == {"name": "web", "url": rest.url("/things/web")}
    assert run(box, "start", params).rc == 0
    assert rest.count("PUT") == 1
    box.set_target_role(STEP, "Stopped")  # the step itself disabled: undo too
    assert run(box, "stop", params).rc == 0
    assert rest.objects == {}


def forget_everything(box: Sandbox) -> None:
    """No marker on this node and no outputs in the CIB: the agent knows nothing."""
    box.forget_markers()
    box.set_outputs(STEP, {})


def test_put_undo_knowing_nothing_deletes_the_url(rest: Rest, box: Sandbox) -> None:
    params = step_params(rest, method="put", url=rest.url("/things/web"), outputs="")
    assert run(box, "start", params).rc == 0
    forget_everything(box)
    assert run(box, "start", params).rc == 0  # knowing nothing, a PUT is re-applied
    assert rest.count("PUT") == 2 and len(rest.objects) == 1
    forget_everything(box)
    box.set_target_role("wf.root", "Stopped")
    result = run(box, "stop", params)
    assert result.rc == 0, result
    assert [r.path for r in rest.requests if r.method == "DELETE"] == ["/things/web"]
    assert rest.objects == {}


def test_static_check_url_adopts_and_learns_the_object_url(rest: Rest, box: Sandbox) -> None:
    params = step_params(rest, check_url=rest.url("/items/1"))
    assert run(box, "start", params).rc == 0
    forget_everything(box)
    result = run(box, "start", params)
    assert result.rc == 0, result
    assert rest.count("POST") == 1
    assert box.outputs(STEP)["url"] == rest.url("/items/1")  # for the undo


def test_headers_and_references_to_earlier_outputs(rest: Rest, box: Sandbox) -> None:
    box.add_primitive("wf.net", "http")
    cibadmin(box.cib_file, "--modify", "--scope", "resources", "-X",
             f'<primitive id="wf.net"><meta_attributes id="{outputs_set_id("wf.net")}">'
             '<nvpair id="wf.net-o-id" name="haflow-output-id" value="net-7"/>'
             "</meta_attributes></primitive>")
    params = step_params(rest, body='{"net": "${steps.net.id}"}',
                         headers="Authorization: Bearer t0ken\nX-Trace: ${steps.net.id}",
                         idempotency_header="X-Request-Id")
    result = run(box, "start", params)
    assert result.rc == 0, result
    post = next(r for r in rest.requests if r.method == "POST")
    assert json.loads(post.body) == {"net": "net-7"}
    assert post.headers["Authorization"] == "Bearer t0ken"
    assert post.headers["X-Trace"] == "net-7"
    assert post.headers["X-Request-Id"] == KEY and "Idempotency-Key" not in post.headers
    get = [r for r in rest.requests if r.method == "GET"]
    assert all(r.headers.get("Authorization") == "Bearer t0ken" for r in get)


# ---- validate-all and meta-data ----------------------------------------------------------------


def test_validate_all_names_each_bad_parameter(rest: Rest, box: Sandbox) -> None:
    params = step_params(rest, url="ftp://example.org/x", check_url="http:///nohost",
                         expected_status="200,abc", check_status="", undo_status="999",
                         outputs="id=$.id\nnot a line\n", headers="no colon here",
                         ca_file=str(box.root / "missing.pem"),
                         client_key=str(box.root / "missing.key"),
                         method="PATCH", insecure="maybe", request_timeout="-1")
    result = run(box, "validate-all", params)
    assert result.rc == 6, result
    for name in ("url", "check_url", "expected_status", "check_status", "undo_status",
                 "outputs", "headers", "ca_file", "client_key", "method", "insecure",
                 "request_timeout"):
        assert f"parameter '{name}'" in result.stderr, name
    assert "without 'client_cert'" in result.stderr
    assert run(box, "validate-all", step_params(rest)).rc == 0
    # start refuses a bad configuration before sending anything
    assert run(box, "start", params).rc == 6 and rest.requests == []


def test_validate_all_rejects_the_reserved_output(rest: Rest, box: Sandbox) -> None:
    result = run(box, "validate-all", step_params(rest, outputs="url=$.self"))
    assert result.rc == 6 and "reserved" in result.stderr, result


def test_meta_data(box: Sandbox) -> None:
    result = run(box, "meta-data", {})
    assert result.rc == 0, result
    root = ET.fromstring(result.stdout)
    names = {p.get("name") for p in root.iter("parameter")}
    assert {"url", "method", "body", "outputs", "check_url", "undo_url", "ca_file",
            "insecure", "idempotency_header", "workflow", "step", "submission"} <= names
    required = {p.get("name") for p in root.iter("parameter") if p.get("required") == "1"}
    assert required == {"url"}


def test_monitor_stays_lean(rest: Rest, box: Sandbox) -> None:
    # a monitor of an http:// URL needs only a status: no http.client (email, ssl), no json
    params = step_params(rest, headers="Authorization: Bearer t0ken")
    assert run(box, "start", params).rc == 0
    env = box.env(STEP, params, RECURRING)
    code = ("import sys, runpy; sys.argv = ['x', 'monitor']\n"
            "try:\n    runpy.run_module('haflow.agents.http_agent', run_name='__main__')\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "print(sorted(m for m in ('json', 'ssl', 'http.client', 'email') "
            "if m in sys.modules))")
    before = rest.count("GET")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert rest.count("GET") == before + 1
    get = rest.requests[-1]
    assert get.headers["Authorization"] == "Bearer t0ken"
    assert get.headers["Connection"] == "close"


def test_monitor_reads_answers_without_content_length(rest: Rest, box: Sandbox) -> None:
    params = step_params(rest)
    assert run(box, "start", params).rc == 0
    rest.force("GET", 200, b"", close=True)  # HTTP/1.0 style: the body ends at EOF
    assert run(box, "monitor", params, RECURRING).rc == 0
    rest.force("GET", 404, b"", close=True)
    assert run(box, "monitor", params, RECURRING).rc == 1


@pytest.mark.parametrize(("url", "expected"), [
    ("http://h/x", ("h", 80, "h", "/x")),
    ("http://h:8080", ("h", 8080, "h:8080", "/")),
    ("http://u:p@h:81/a?b=c#frag", ("h", 81, "h:81", "/a?b=c")),
    ("http://h?q=1", ("h", 80, "h", "/?q=1")),
    ("http://[::1]:9/x", ("::1", 9, "[::1]:9", "/x")),
])
def test_split_http(url: str, expected: tuple[str, int, str, str]) -> None:
    assert split_http(url) == expected


@pytest.mark.parametrize("url", ["http://", "http://h:x/", "http://h:99999/", "http://:80/"])
def test_split_http_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        split_http(url)


def test_small_parsers() -> None:
    assert parse_path("$.a.b[0].c") == ["a", "b", 0, "c"]
    assert parse_path("a.b.0") == ["a", "b", 0]
    for bad in ("", "$", "$.", "a..b", "$[x]", "$.a[", "$x"):
        with pytest.raises(ValueError):
            parse_path(bad)
    assert pick({"a": [{"b": 1}]}, parse_path("a[0].b")) == 1
    with pytest.raises(KeyError):
        pick({"a": []}, parse_path("a[0]"))
    assert parse_statuses("200, 201 204") == {200, 201, 204}
    for bad in ("", "abc", "99", "600", "²00"):
        with pytest.raises(ValueError):
            parse_statuses(bad)
    assert fill("http://h/items/{id}?z={url}", {"id": "a b/c", "url": "http://x/1"}) == \
        "http://h/items/a%20b%2Fc?z=http://x/1"
    assert fill("http://h/{missing}", {}) is None
    assert fill("http://h/{not a name}", {}) == "http://h/{not a name}"
    assert parse_headers("A: 1\n# c\n\nB:two: three") == [("A", "1"), ("B", "two: three")]
    # outputs: newlines, spaces or ";" between items (newlines are awkward in pcs)
    assert parse_outputs("id=$.id ip=data.ip;n=$.a[1]  # comment\n\nz=z") == {
        "id": ["id"], "ip": ["data", "ip"], "n": ["a", 1], "z": ["z"]}
    for bad in ("id", "id = $.id", "1x=$.a", "url=$.self", "a=$."):
        with pytest.raises(ValueError):
            parse_outputs(bad)


# ---- TLS -----------------------------------------------------------------------------------------


def test_https_with_ca_file(rest_tls: Rest, box: Sandbox,
                            certs: dict[str, tuple[Path, Path]]) -> None:
    params = step_params(rest_tls, ca_file=str(certs["server"][0]))
    result = run(box, "start", params)
    assert result.rc == 0, result
    assert run(box, "monitor", params, RECURRING).rc == 0
    assert box.outputs(STEP)["url"].startswith("https://127.0.0.1:")


def test_https_unknown_ca_fails_and_insecure_accepts(rest_tls: Rest, box: Sandbox) -> None:
    result = run(box, "start", step_params(rest_tls))
    assert result.rc == 1, result
    assert "CERTIFICATE_VERIFY_FAILED" in (result.exit_reason or "")
    assert rest_tls.requests == []
    result = run(box, "start", step_params(rest_tls, insecure="true"))
    assert result.rc == 0, result


def test_https_client_certificate(box: Sandbox, certs: dict[str, tuple[Path, Path]]) -> None:
    with serve(server_tls(certs, client_auth=True)) as rest:
        ca = str(certs["server"][0])
        result = run(box, "start", step_params(rest, ca_file=ca))
        assert result.rc == 1, result  # the server wants a client certificate
        cert, key = certs["client"]
        result = run(box, "start", step_params(rest, ca_file=ca, client_cert=str(cert),
                                               client_key=str(key)))
        assert result.rc == 0, result
        assert rest.count("POST") == 1


# ---- ocf-tester ----------------------------------------------------------------------------------


def test_ocf_tester(rest: Rest, box: Sandbox, everyone_root: Path) -> None:
    params = step_params(rest, outputs="id=$.id ip=data.ip")
    done = ocf_tester(everyone_root / "http", STEP, params, box.env(STEP, {}))
    assert done.returncode == 0, done.stdout + done.stderr
    # its starts adopt, its stops are moves (the root is not stopped): one object, kept
    assert rest.count("POST") == 1 and rest.count("DELETE") == 0
    assert len(rest.objects) == 1
