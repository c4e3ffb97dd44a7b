"""The API: FastAPI routes that parse requests, call the commands and render their data.

Reads answer from the shared snapshot (snapshot.py); writes call the command the CLI
calls, then refresh the snapshot so the answer and the next read show the change.
Errors are the commands' reports, with an HTTP status that follows their exit code.
No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations,
some of them local to ``create_app``.
"""


import dataclasses
import hashlib
import json
import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from haflow.coordinator.cluster.env import Env
from haflow.coordinator.codes import Code
from haflow.coordinator.exitcodes import ExitCode
from haflow.coordinator.reports import HaflowError, Report, error
from haflow.coordinator.service import models
from haflow.coordinator.service.auth import (
    Caller,
    FailedLogins,
    bearer,
    forbidden,
    unauthenticated,
)
from haflow.coordinator.service.events import Broadcaster, changes
from haflow.coordinator.service.snapshot import Snapshot, View
from haflow.encoding.ids import NAME_MAX, NAME_PATTERN

SECRET_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"

MAX_BODY = 512 * 1024  # bytes of a request body (a template is at most 256 KiB of YAML)
IDEMPOTENCY_KEY_MAX = 200
KEY_LOCKS = 64
THREADS = 200
USER_REFRESH_S = 1.0  # an unknown token re-reads the users when the view is older

# exit code -> HTTP status; a few codes say more than their exit code
STATUS_OF_EXIT = {ExitCode.USAGE: 400, ExitCode.INVALID: 422, ExitCode.NOT_FOUND: 404,
                  ExitCode.CONFLICT: 409, ExitCode.NO_QUORUM: 503, ExitCode.TIMEOUT: 504,
                  ExitCode.DENIED: 403}
STATUS_OF_CODE = {Code.AUTH_REQUIRED: 401, Code.TOO_MANY_FAILED_LOGINS: 429,
                  Code.REQUEST_TOO_LARGE: 413, Code.BAD_REQUEST: 400,
                  Code.VIEW_NOT_SYNCED: 503, Code.CIB_UNAVAILABLE: 503,
                  Code.NO_SUCH_ENDPOINT: 404, Code.METHOD_NOT_ALLOWED: 405}
ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": models.ErrorAnswer} for s in (400, 401, 403, 404, 409, 413, 422, 429, 503)}
NamePath = Annotated[str, Path(pattern=f"^{NAME_PATTERN}$", max_length=NAME_MAX)]


def http_status(err: HaflowError) -> int:
    code = err.reports[0].code
    return STATUS_OF_CODE.get(code) or STATUS_OF_EXIT.get(err.exit_code, 500)


def error_answer(err: HaflowError) -> JSONResponse:
    headers = {}
    first = err.reports[0]
    if first.code == Code.AUTH_REQUIRED:
        headers["WWW-Authenticate"] = "Bearer"
    if "retry_after" in first.details:
        headers["Retry-After"] = str(first.details["retry_after"])
    return JSONResponse({"errors": [r.to_dict() for r in err.reports]},
                        status_code=http_status(err), headers=headers)


class Service:
    """What the routes share: where the commands run, the snapshot, the event stream."""

    def __init__(self, env: Env, watch: bool = True) -> None:
        self.env = env
        self.events = Broadcaster()
        self.snapshot = Snapshot(env, on_view=self._changed)
        self.logins = FailedLogins()
        self.watch = watch
        # requests with the same Idempotency-Key take turns (a bounded set of locks, so
        # that keys never seen again cost nothing)
        self._key_locks = [threading.Lock() for _ in range(KEY_LOCKS)]
        self._answers: dict[str, bytes] = {}
        self._answers_version = -1
        self._answers_lock = threading.Lock()

    def _changed(self, old: View, new: View) -> None:
        if old.version:  # the first read is the baseline, not a change
            self.events.publish(changes(old, new))

    def view(self) -> View:
        """The last view; its read's error when that failed (no quorum, not synced): an
        older view is no answer to give while the cluster may have moved on."""
        view = self.snapshot.current()
        if view.error is not None and self._stale(view):  # try again, at most once a second
            view = self.snapshot.refresh()
        if view.error is not None:
            raise view.error
        if view.cib is None:
            raise error(Code.CIB_UNAVAILABLE, "no view of the cluster yet")
        return view

    def answer(self, view: View, key: str, build: Callable[[], Any]) -> Response:
        """``build()`` as JSON, made once per view: between two changes of the cluster
        every client that polls gets the same bytes (50 pollers of a 500-step workflow
        would otherwise serialize it 50 times a second)."""
        with self._answers_lock:
            if self._answers_version < view.version:  # a newer view: the old bytes go
                self._answers.clear()
                self._answers_version = view.version
            body = self._answers.get(key) if self._answers_version == view.version else None
        if body is None:
            body = json.dumps(build(), separators=(",", ":")).encode()
            with self._answers_lock:
                if self._answers_version == view.version:
                    self._answers[key] = body
        return Response(body, media_type="application/json")

    def wrote(self) -> None:
        """A command of ours changed the cluster: read it now."""
        self.snapshot.refresh()

    def key_lock(self, key: str) -> threading.Lock:
        return self._key_locks[hash(key) % KEY_LOCKS]

    def authenticate(self, request: Request) -> Caller:
        from haflow.coordinator.commands.users import users_in, verify

        address = request.client.host if request.client else "?"
        self.logins.check(address)
        token = bearer(request.headers.get("authorization"))
        if token is None:
            raise unauthenticated("no token")
        view = self.view()
        assert view.cib is not None
        found = verify(users_in(view.cib), token)
        if found is None and self._stale(view):  # a user added a moment ago
            view = self.snapshot.refresh()
            found = verify(users_in(view.cib), token) if view.cib is not None else None
        if found is None:
            self.logins.failed(address)
            raise unauthenticated("the token authenticates nobody (a wrong, rotated or "
                                  "removed token)")
        return Caller(*found)

    def _stale(self, view: View) -> bool:
        import time

        return bool(time.monotonic() - view.read_at > USER_REFRESH_S)


def create_app(env: Env, watch: bool = True) -> FastAPI:
    """The API over ``env``'s cluster; ``watch``: keep the snapshot fresh (threads)."""
    from contextlib import asynccontextmanager

    service = Service(env, watch)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        import asyncio

        service.events.loop = asyncio.get_running_loop()
        # routes that call commands run in threads: enough for many pollers at once
        # (anyio's default is 40; a 41st concurrent request waited for a thread)
        from anyio import to_thread

        to_thread.current_default_thread_limiter().total_tokens = THREADS
        if service.watch:
            service.snapshot.start()
        yield
        service.snapshot.stop()

    app = FastAPI(title="haflow", version="1", lifespan=lifespan, responses=ERRORS,
                  description="Highly available orchestration workflows on Pacemaker: run "
                  "templates, follow workflows, abort and retry them. Authenticate with "
                  "'Authorization: Bearer TOKEN'. A POST retried with the same "
                  "Idempotency-Key does its work once; a client should retry on a "
                  "connection error or a 503 (the API moves to a survivor when its node "
                  "fails).")
    app.state.service = service

    @app.exception_handler(HaflowError)
    async def haflow_error(request: Request, exc: HaflowError) -> JSONResponse:
        return error_answer(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        reports = []
        for problem in exc.errors():
            where = ".".join(str(p) for p in problem.get("loc", ()))
            reports.append(Report(Code.BAD_REQUEST, f"{where}: {problem.get('msg', 'invalid')}",
                                  details={"field": where, "type": problem.get("type")}))
        status = 400 if any(p.get("type") == "json_invalid" for p in exc.errors()) else 422
        answer = error_answer(HaflowError(*reports))
        answer.status_code = status
        return answer

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: Code.NO_SUCH_ENDPOINT, 405: Code.METHOD_NOT_ALLOWED}.get(
            exc.status_code, Code.BAD_REQUEST)
        answer = error_answer(error(code, f"{request.method} {request.url.path}: "
                                    f"{exc.detail}"))
        answer.status_code = exc.status_code
        return answer

    app.add_middleware(BodyLimit)

    def role(needed: str, what: str) -> Callable[[Request], Caller]:
        def check(request: Request) -> Caller:
            caller = service.authenticate(request)
            if not caller.may(needed):
                raise forbidden(caller, needed, what)
            return caller
        return check

    Viewer = Annotated[Caller, Depends(role("viewer", "read workflows"))]
    Operator = Annotated[Caller, Depends(role("operator", "run or change workflows"))]
    Admin = Annotated[Caller, Depends(role("admin", "manage templates and users"))]

    def acting(caller: Caller) -> Env:
        """The commands' environment for a caller's change: its history names the token's
        user, not the unix user the API runs as."""
        return dataclasses.replace(env, actor=f"{caller.user} through the API")

    @app.get("/v1/health", tags=["service"])
    def health() -> JSONResponse:
        """Whether this API has a view of the cluster (no token needed; 503 when not)."""
        view = service.snapshot.current()
        ok = view.error is None and view.cib is not None
        return JSONResponse({"status": "ok" if ok else "unavailable",
                             "node": env.node_name, "snapshot": service.snapshot.status(),
                             "event_clients": service.events.clients},
                            status_code=200 if ok else 503)

    @app.get("/v1/whoami", tags=["service"])
    def whoami(caller: Viewer) -> dict[str, str]:
        return {"user": caller.user, "role": caller.role}

    @app.get("/v1/workflows", tags=["workflows"], response_model=list[models.WorkflowRow])
    def list_workflows(caller: Viewer) -> Response:
        """Every workflow, one row each (``haflow list --output-as json``), with its policy,
        description and when it was submitted (its history's first event: the web view's
        list shows its age)."""
        from haflow.encoding.read import events

        view = service.view()
        cib = view.cib
        assert cib is not None
        return service.answer(view, "workflows", lambda: [
            {"name": w.name, "state": w.state.value, "counts": w.counts,
             "steps": len(w.steps), "problems": [s.name for s in w.problems],
             "policy": w.policy, "description": w.description,
             "submitted": next((e.time for e in events(cib, w.name)), None)}
            for w in view.workflows.values()])

    @app.get("/v1/workflows/{name}", tags=["workflows"], response_model=models.WorkflowModel)
    def get_workflow(name: NamePath, caller: Viewer) -> Response:
        """A workflow's status (``haflow status WF --output-as json``)."""
        from haflow.coordinator.commands.workflow_cib import require_workflow

        view = service.view()
        found = view.workflows.get(name)
        if found is None:
            assert view.cib is not None
            require_workflow(view.cib, name)  # raises WORKFLOW_NOT_FOUND
            raise error(Code.WORKFLOW_NOT_FOUND, f"no workflow '{name}'")
        return service.answer(view, f"workflow {name}", found.to_dict)

    @app.get("/v1/workflows/{name}/history", tags=["workflows"],
             response_model=list[models.HistoryEvent])
    def get_history(name: NamePath, caller: Viewer) -> JSONResponse:
        """What ran where and when, with fencing (``haflow history WF``)."""
        from haflow.coordinator.commands.history import history, read_fencing
        from haflow.coordinator.commands.workflow_cib import require_workflow

        view = service.view()
        assert view.cib is not None
        require_workflow(view.cib, name)
        fence_xml, _ = read_fencing(env)
        return JSONResponse([e.to_dict() for e in history(view.cib, fence_xml, name)])

    @app.post("/v1/workflows", tags=["workflows"], status_code=201,
              response_model=models.Submitted)
    def post_workflow(body: models.SubmitRequest, caller: Operator,
                      idempotency_key: Annotated[str | None, Header(
                          max_length=IDEMPOTENCY_KEY_MAX,
                          description="retrying with the same key never makes a second "
                          "workflow")] = None) -> JSONResponse:
        """Run a template with inputs, as workflow ``name`` (one atomic change)."""
        from haflow.coordinator.commands.templates import instantiate

        idempotency = None
        if idempotency_key is not None:
            idempotency = f"{_check_key(idempotency_key)} {_digest(body)}"
        lock = service.key_lock(idempotency_key) if idempotency_key else threading.Lock()
        with lock:
            done = instantiate(acting(caller), body.template, body.inputs, body.name,
                               idempotency)
        if not done.replayed:
            service.wrote()
        data = {"workflow": done.workflow, "submission": done.submission,
                "replaced": done.replaced, "changed": done.changed,
                "resources": done.resources, "replayed": done.replayed}
        return JSONResponse(data, status_code=200 if done.replayed else 201,
                            headers={"Location": f"/v1/workflows/{done.workflow}"})

    @app.post("/v1/workflows/{name}/abort", tags=["workflows"])
    def abort(name: NamePath, caller: Operator) -> dict[str, Any]:
        """Undo every step, in reverse order (``haflow abort``)."""
        from haflow.coordinator.commands.abort import abort

        changed = abort(acting(caller), name)
        service.wrote()
        return {"workflow": name, "aborted": True, "changed": changed}

    @app.post("/v1/workflows/{name}/retry", tags=["workflows"])
    def retry(name: NamePath, caller: Operator,
              body: models.RetryRequest | None = None) -> dict[str, Any]:
        """Clear failures so the steps run again; un-abort (``haflow retry``)."""
        from haflow.coordinator.commands.abort import retry

        cleared = retry(acting(caller), name, body.step if body else None)
        service.wrote()
        return {"workflow": name, "cleared": cleared}

    @app.post("/v1/workflows/{name}/approve", tags=["workflows"])
    def approve(name: NamePath, caller: Operator, body: models.ApproveRequest
                ) -> dict[str, Any]:
        """Grant a step's approval gate; who approved goes to the history
        (``haflow approve``)."""
        from haflow.coordinator.commands.gates import approve

        approve(acting(caller), name, body.step)
        service.wrote()
        return {"workflow": name, "step": body.step, "approved": True}

    @app.post("/v1/workflows/{name}/pause", tags=["workflows"])
    def pause(name: NamePath, caller: Operator) -> dict[str, Any]:
        """No step starts or stops until resumed; running ones finish (``haflow pause``)."""
        from haflow.coordinator.commands.gates import pause

        pause(acting(caller), name)
        service.wrote()
        return {"workflow": name, "paused": True}

    @app.post("/v1/workflows/{name}/resume", tags=["workflows"])
    def resume(name: NamePath, caller: Operator) -> dict[str, Any]:
        """Steps start and stop again (``haflow resume``)."""
        from haflow.coordinator.commands.gates import resume

        resume(acting(caller), name)
        service.wrote()
        return {"workflow": name, "paused": False}

    @app.delete("/v1/workflows/{name}", tags=["workflows"])
    def delete(name: NamePath, caller: Operator, force: bool = False) -> dict[str, Any]:
        """Remove an undone workflow (``haflow remove``)."""
        from haflow.coordinator.commands.remove import remove

        leftovers = remove(acting(caller), name, force=force)
        service.wrote()
        return {"workflow": name, "removed": True, "effects_remain": leftovers}

    @app.get("/v1/workflows/{name}/graph", tags=["workflows"])
    def get_graph(name: NamePath, caller: Viewer) -> JSONResponse:
        """The workflow's steps and ``after`` edges laid out by Graphviz (the web view's
        graph): positions, edges' paths and groups, in CSS pixels."""
        from haflow.coordinator.commands.graph import layout, workflow_graph

        view = service.view()
        assert view.cib is not None
        return JSONResponse(layout(workflow_graph(view.cib, name)))

    @app.get("/v1/events", tags=["events"], response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {
                 "schema": models.Event.model_json_schema()}},
                 "description": "server-sent events, each data a JSON Event"}})
    async def events(caller: Viewer, last_event_id: Annotated[
            int | None, Header(description="resume after this event id")] = None
                     ) -> StreamingResponse:
        """Step and workflow state changes as server-sent events, as they happen."""
        return StreamingResponse(service.events.stream(last_event_id),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    @app.get("/v1/templates", tags=["templates"], response_model=list[models.TemplateModel])
    def list_templates(caller: Viewer) -> JSONResponse:
        from haflow.coordinator.commands.templates import templates_in

        view = service.view()
        assert view.cib is not None
        return JSONResponse([t.to_dict(text=False) for _, t in
                             sorted(templates_in(view.cib).items())])

    @app.get("/v1/templates/{name}", tags=["templates"], response_model=models.TemplateModel)
    def get_template(name: NamePath, caller: Viewer) -> JSONResponse:
        from haflow.coordinator.commands.templates import get

        view = service.view()
        assert view.cib is not None
        return JSONResponse(get(view.cib, name).to_dict())

    @app.post("/v1/templates", tags=["templates"], status_code=201,
              response_model=models.TemplateModel)
    def post_template(body: models.TemplateRequest, caller: Admin) -> JSONResponse:
        """Add a template (validated first; admin)."""
        from haflow.coordinator.commands.templates import add_text

        found = add_text(env, body.text, "<request>", body.replace)
        service.wrote()
        return JSONResponse(found.to_dict(text=False), status_code=201)

    @app.delete("/v1/templates/{name}", tags=["templates"])
    def delete_template(name: NamePath, caller: Admin) -> dict[str, Any]:
        from haflow.coordinator.commands.templates import remove

        remove(env, name)
        service.wrote()
        return {"template": name, "removed": True}

    @app.get("/v1/secrets", tags=["secrets"], response_model=list[models.SecretModel])
    def list_secrets(caller: Admin) -> JSONResponse:
        """Every secret's name and version (never a value)."""
        from haflow.coordinator.commands.secrets import secrets_in

        view = service.view()
        assert view.cib is not None
        return JSONResponse([s.to_dict() for s in secrets_in(view.cib)])

    @app.put("/v1/secrets/{name}", tags=["secrets"], response_model=models.SecretModel)
    def put_secret(name: Annotated[str, Path(pattern=SECRET_PATTERN)],
                   body: models.SecretRequest, caller: Admin) -> JSONResponse:
        """Store a secret on every node (admin); the answer never holds the value."""
        from haflow.coordinator.commands.secrets import set_secret

        found = set_secret(env, name, body.value)
        service.wrote()
        return JSONResponse(found.to_dict())

    @app.delete("/v1/secrets/{name}", tags=["secrets"])
    def delete_secret(name: Annotated[str, Path(pattern=SECRET_PATTERN)],
                      caller: Admin) -> dict[str, Any]:
        from haflow.coordinator.commands.secrets import remove_secret

        remove_secret(env, name)
        service.wrote()
        return {"secret": name, "removed": True}

    @app.get("/v1/users", tags=["users"], response_model=list[models.UserModel])
    def list_users(caller: Admin) -> JSONResponse:
        from haflow.coordinator.commands.users import listed

        view = service.view()
        assert view.cib is not None
        return JSONResponse([u.to_dict() for u in listed(view.cib)])

    from haflow.coordinator.web import mount

    mount(app)  # the web view at /
    return app


def _check_key(key: str) -> str:
    if not key or not all(33 <= ord(c) < 127 for c in key):
        raise error(Code.BAD_REQUEST, "Idempotency-Key: 1 to 200 printable ASCII characters, "
                    "no spaces")
    return key


def _digest(body: models.SubmitRequest) -> str:
    """What identifies a request beside its key: the same key with another body is refused."""
    text = json.dumps(body.model_dump(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class BodyLimit:
    """Refuses a request body over MAX_BODY bytes (declared or streamed) with 413."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            await self._refuse(send)
            return
        seen = 0

        async def limited() -> dict[str, Any]:
            nonlocal seen
            message: dict[str, Any] = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY:
                raise error(Code.REQUEST_TOO_LARGE, f"the request body is over {MAX_BODY} "
                            "bytes")
            return message

        await self.app(scope, limited, send)

    async def _refuse(self, send: Any) -> None:
        answer = error_answer(error(Code.REQUEST_TOO_LARGE, f"the request body is over "
                                    f"{MAX_BODY} bytes"))
        await send({"type": "http.response.start", "status": answer.status_code,
                    "headers": answer.raw_headers})
        await send({"type": "http.response.body", "body": answer.body})
