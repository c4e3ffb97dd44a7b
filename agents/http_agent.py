"""``ocf:haflow:http``: a REST step — create with POST/PUT, check with GET, undo with DELETE.

``start`` sends ``method`` to ``url`` with ``body`` and an idempotency header
(``Idempotency-Key: <the step's key>``), so a retried create is deduplicated
by servers that honour it. The response's status must be one of
``expected_status``; outputs are picked from its JSON body by ``outputs``
items ``NAME=PATH`` (separated by newlines, spaces or ``;``).

Paths are a tiny subset of JSONPath: an optional ``$``, then names separated
by ``.`` and list indexes as ``[N]`` (or ``.N``): ``$.id``, ``data.id``,
``$.items[0].name``. Strings are stored as they are, other values as compact
JSON (``true``, ``42``, ``{"a":1}``); ``null`` as an empty string.

The resource URL (where the created object lives) is, in this order: the
``Location`` header of the create response (relative to ``url``); ``url/ID``
when an output ``id`` was picked; ``url`` itself for a PUT. It is stored as
the output ``url`` (reserved: an ``outputs`` line may not name it), so later
steps can use ``${steps.S.url}``. ``check_url`` and ``undo_url`` default to
it; when set, they are templates whose ``{NAME}`` placeholders are filled
from the outputs (percent-encoded, except ``{url}`` which is inserted as is),
e.g. ``https://api/v1/vms/{id}``.

``check`` (monitor, and start before creating) GETs the check URL: a status
in ``check_status`` means the object exists, 404 or 410 that it is gone, any
other status is an error. Start adopts an object whose URL it already knows
(from this node's marker, or the outputs in the CIB after a failover)
instead of creating a second one. ``undo`` DELETEs the undo URL: a status in
``undo_status`` or 404/410 (already gone) is success, so undo is idempotent.
An undo that knows nothing of the object (no marker, no outputs) DELETEs
``undo_url`` when it has no placeholders, or ``url`` for a PUT (a PUT step
owns its URL); otherwise there is nothing it can name, and it says so.

The idempotency key is the step's (workflow/step/submission), so a create
whose answer was lost is deduplicated by the service when the start is
retried. When start finds the object it knew deleted behind its back
(drift), it creates anew with a key derived from the gone object's URL, so
a service that replays answers to a repeated key cannot hand back the
deleted object. No redirects are followed and no proxies are used.

Module imports stay minimal (this is on the monitor's path): the HTTP client
(agents/http_client.py) imports http.client and ssl, and the agent json, only
in the calls that use them.
"""

from __future__ import annotations

import sys

from haflow.agents import http_client, ocfcodes
from haflow.agents.framework import OcfError, run
from haflow.agents.http_client import Response, quote
from haflow.agents.params import BOOLEAN, INTEGER, Param
from haflow.agents.step import Outputs, StepAgent, StepContext

# typing and collections.abc cost milliseconds at import: annotations only
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

URL_OUTPUT = "url"  # the reserved output holding the resource URL
METHODS = ("POST", "PUT")
GONE = (404, 410)  # the object does not exist (check: not there; undo: already undone)
DEFAULT_REQUEST_TIMEOUT = 30.0  # when the action has no deadline (run by hand)
OUTPUT_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")

PathPart = str | int


# ---- small parsers (shared by validate and the actions) ---------------------------------------


def parse_statuses(text: str) -> set[int]:
    """``"200,201 202"`` -> {200, 201, 202}; ValueError naming the bad item."""
    found: set[int] = set()
    for item in text.replace(",", " ").split():
        if not _digits(item) or not 100 <= int(item) <= 599:
            raise ValueError(f"{item!r} is not an HTTP status (100-599)")
        found.add(int(item))
    if not found:
        raise ValueError("no status given")
    return found


def parse_path(text: str) -> list[PathPart]:
    """A JSON path (``$.a.b[0]``, ``a.b.0``) as keys and indexes; ValueError if malformed."""
    path = text.strip()
    if path.startswith("$"):
        path = path[1:]
    parts: list[PathPart] = []
    i = 0
    while i < len(path):
        if path[i] == ".":
            i += 1
            end = i
            while end < len(path) and path[end] not in ".[":
                end += 1
            name = path[i:end]
            if not name or "]" in name:
                raise ValueError(f"empty or malformed name in path {text!r}")
            parts.append(int(name) if _digits(name) else name)
            i = end
        elif path[i] == "[":
            end = path.find("]", i)
            index = path[i + 1:end] if end > 0 else ""
            if not _digits(index):
                raise ValueError(f"expected [N] with a list index in path {text!r}")
            parts.append(int(index))
            i = end + 1
        elif i == 0 and not text.strip().startswith("$"):
            path = "." + path  # "data.id": a leading name without "$."
        else:
            raise ValueError(f"expected '.' or '[' at {path[i:]!r} in path {text!r}")
    if not parts:
        raise ValueError(f"path {text!r} selects nothing")
    return parts


def parse_outputs(text: str) -> dict[str, list[PathPart]]:
    """``NAME=PATH`` items; ValueError naming the bad one.

    Items are separated by newlines, spaces or ``;`` (pcs and ocf-tester make
    newlines in a parameter awkward); ``#`` starts a comment to the end of a line.
    """
    result: dict[str, list[PathPart]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        for item in line.split("#", 1)[0].replace(";", " ").split():
            name, sep, path = item.partition("=")
            if not sep or not _is_key(name):
                raise ValueError(f"line {number}: expected NAME=PATH, got {item[:60]!r}")
            if name == URL_OUTPUT:
                raise ValueError(f"line {number}: output '{URL_OUTPUT}' is reserved for the "
                                 "resource URL")
            try:
                result[name] = parse_path(path)
            except ValueError as exc:
                raise ValueError(f"line {number}: {exc}") from None
    return result


def parse_headers(text: str) -> list[tuple[str, str]]:
    """``Name: value`` lines; ValueError naming the line."""
    result: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition(":")
        name = name.strip()
        if not sep or not name or any(c.isspace() or not c.isprintable() for c in name):
            raise ValueError(f"line {number}: expected 'Name: value', got {line[:60]!r}")
        result.append((name, value.strip()))
    return result


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()  # "²".isdigit() is true, int("²") fails


def _is_key(name: str) -> bool:
    # outputs.KEY_RE without importing re on the monitor path
    return (0 < len(name) <= 64 and not name[0].isdigit()
            and all(c in OUTPUT_KEY_CHARS for c in name))


def pick(document: object, path: list[PathPart]) -> object:
    """The value at ``path`` in a parsed JSON document; KeyError if absent."""
    node = document
    for part in path:
        if isinstance(node, dict) and str(part) in node:
            node = node[str(part)]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            raise KeyError(part)
    return node


def fill(template: str, outputs: Outputs) -> str | None:
    """``template`` with ``{NAME}`` filled from ``outputs``; None when one is missing."""
    result: list[str] = []
    rest = template
    while True:
        start = rest.find("{")
        end = rest.find("}", start + 1) if start >= 0 else -1
        if start < 0 or end < 0:
            result.append(rest)
            return "".join(result)
        name = rest[start + 1:end]
        if not _is_key(name):  # not a placeholder: keep the text
            result.append(rest[:end + 1])
            rest = rest[end + 1:]
            continue
        value = outputs.get(name)
        if value is None:
            return None
        result.append(rest[:start])
        result.append(value if name == URL_OUTPUT else quote(value))
        rest = rest[end + 1:]


def _scheme_problem(name: str, value: str) -> str | None:
    """Why ``value`` is not an http(s) URL (None if it is, or if it is filled in later)."""
    if value.startswith(("${", "{")):
        return None  # from an output reference or placeholder: checked when it is known
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return f"parameter '{name}': expected an http:// or https:// URL, got {value[:80]!r}"
    if not rest or rest.startswith(("/", "?", "#")):
        return f"parameter '{name}': the URL {value[:80]!r} has no host"
    return None


# ---- the agent ---------------------------------------------------------------------------------


class HttpAgent(StepAgent):
    name = "http"
    version = "1.0"
    shortdesc = "REST step: create with POST/PUT, check with GET, undo with DELETE"
    longdesc = (
        "A step whose effect is an object on an HTTP(S) REST service. start sends 'method' "
        "to 'url' with 'body' and an idempotency header carrying the step's idempotency key; "
        "the status must be in 'expected_status'; outputs are picked from the JSON response. "
        "The resource URL is the Location header of the response, else url/ID when an output "
        "'id' was picked, else url itself for a PUT; it is stored as output 'url'. monitor "
        "GETs 'check_url' (default: the resource URL), stop (when an undo is meant) DELETEs "
        "'undo_url' (default: the resource URL); 404/410 on DELETE means already undone. "
        "check_url and undo_url may hold {NAME} placeholders filled from the outputs. Output "
        "paths: $.a.b[0] or a.b.0.")
    params = (
        Param("url", required=True, shortdesc="Where to create (collection or object URL)",
              longdesc="http:// or https:// URL the create request goes to: a collection for "
              "POST, the object itself for PUT. May reference outputs of earlier steps."),
        # a string, not a select: ra-api-1.dtd declares <content> EMPTY, so options fail
        # ocf-tester's DTD check
        Param("method", shortdesc="Create method: POST or PUT", default="POST",
              longdesc="POST to a collection (the service names the object) or PUT to the "
              "object's own URL. One of: POST, PUT."),
        Param("body", shortdesc="Request body of the create",
              longdesc="Sent as is with the create request; may reference outputs of "
              "earlier steps as ${steps.STEP.KEY}.", default=""),
        Param("content_type", shortdesc="Content-Type of the body", default="application/json",
              longdesc="Content-Type header sent with a non-empty body."),
        Param("headers", shortdesc="Extra request headers (Name: value lines)", default="",
              longdesc="One 'Name: value' per line, sent with every request (create, check, "
              "undo), e.g. Authorization. Blank lines and # comments are ignored."),
        Param("check_url", shortdesc="URL the check GETs (default: the resource URL)",
              default="",
              longdesc="GET here tells whether the object exists. {NAME} placeholders are "
              "filled from the outputs (e.g. https://api/items/{id}). Default: the resource "
              "URL (Location header, url/ID, or url for a PUT)."),
        Param("undo_url", shortdesc="URL the undo DELETEs (default: the resource URL)",
              default="",
              longdesc="DELETE here undoes the step. {NAME} placeholders are filled from the "
              "outputs. Default: the resource URL."),
        Param("expected_status", shortdesc="Statuses a create may answer",
              default="200,201,202",
              longdesc="Comma-separated HTTP statuses that mean the create succeeded; any "
              "other fails the start with the status in the reason."),
        Param("check_status", shortdesc="Statuses of the check meaning 'exists'", default="200",
              longdesc="Comma-separated statuses of the GET that mean the object exists; "
              "404 and 410 mean it is gone; anything else is an error."),
        Param("undo_status", shortdesc="Statuses of the DELETE meaning 'undone'",
              default="200,202,204",
              longdesc="Comma-separated statuses of the DELETE that mean the object was "
              "deleted; 404 and 410 (already gone) are always accepted."),
        Param("idempotency_header", shortdesc="Header carrying the idempotency key",
              default="Idempotency-Key",
              longdesc="Name of the header sent with the create, whose value is the step's "
              "idempotency key (workflow/step/submission); empty: not sent."),
        Param("outputs", shortdesc="Outputs picked from the JSON response (NAME=PATH items)",
              default="",
              longdesc="NAME=PATH items separated by newlines, spaces or ';' (e.g. "
              "'id=$.id ip=$.data.ip'); PATH is $.a.b[0] or a.b.0 into the JSON body "
              "of the create response (refreshed from the check's response). Strings are "
              "stored as is, other values as JSON. 'url' is reserved for the resource URL."),
        Param("ca_file", shortdesc="CA certificates (PEM) to verify the server with",
              default="",
              longdesc="PEM file of CA certificates trusted for https; default: the system's."),
        Param("client_cert", shortdesc="Client certificate (PEM) for TLS", default="",
              longdesc="PEM file with the client certificate (and its key, unless client_key "
              "is set), for services that require client authentication."),
        Param("client_key", shortdesc="Private key (PEM) of the client certificate",
              default="", longdesc="PEM file with the private key of client_cert."),
        Param("insecure", BOOLEAN, shortdesc="Do not verify the server's certificate",
              default=False,
              longdesc="Accept any server certificate and host name (testing only)."),
        Param("request_timeout", INTEGER, shortdesc="Seconds one request may take",
              default=0,
              longdesc="Timeout of each HTTP request; 0: what is left of the action's own "
              "timeout."),
    )
    # Mapping (immutable to ruff), not ClassVar: typing is not imported on the monitor path
    timeouts: Mapping[str, int] = {**StepAgent.timeouts, "start": 60, "stop": 60}
    # the URL of an object this start found gone (drift), whose create it must not replay
    _gone: str | None = None

    # ---- validation -----------------------------------------------------------------------

    def validate(self) -> list[str]:
        problems: list[str] = []
        for name in ("url", "check_url", "undo_url"):
            value = str(self.values.get(name) or "")
            if value and (problem := _scheme_problem(name, value)):
                problems.append(problem)
        method = str(self.values.get("method") or "")
        if method.upper() not in METHODS:
            problems.append(f"parameter 'method': expected one of {', '.join(METHODS)}, "
                            f"got {method!r}")
        for name in ("expected_status", "check_status", "undo_status"):
            try:
                parse_statuses(str(self.values.get(name) or ""))
            except ValueError as exc:
                problems.append(f"parameter '{name}': {exc}")
        for name, parser in (("outputs", parse_outputs), ("headers", parse_headers)):
            try:
                parser(str(self.values.get(name) or ""))
            except ValueError as exc:
                problems.append(f"parameter '{name}': {exc}")
        import os

        for name in ("ca_file", "client_cert", "client_key"):
            path = str(self.values.get(name) or "")
            if path and "${" not in path and not os.path.isfile(path):
                problems.append(f"parameter '{name}': no such file {path!r}")
        if self.values.get("client_key") and not self.values.get("client_cert"):
            problems.append("parameter 'client_key' is set without 'client_cert'")
        header = str(self.values.get("idempotency_header") or "")
        if header and any(c.isspace() or c == ":" or not c.isprintable() for c in header):
            problems.append(f"parameter 'idempotency_header': {header!r} is not a header name")
        content_type = str(self.values.get("content_type") or "")
        if "\n" in content_type or "\r" in content_type:
            problems.append("parameter 'content_type' must be one line")
        timeout = self.values.get("request_timeout")
        if isinstance(timeout, int) and timeout < 0:
            problems.append(f"parameter 'request_timeout' must not be negative (got {timeout})")
        return problems

    # ---- the contract ---------------------------------------------------------------------

    def do(self, ctx: StepContext) -> Outputs | None:
        url = self._param(ctx, "url")
        method = (self._param(ctx, "method") or "POST").upper()
        self._check_scheme("url", url)
        body = self._param(ctx, "body").encode()
        headers: dict[str, str] = {}
        if body:
            headers["Content-Type"] = self._param(ctx, "content_type")
        key_header = self._param(ctx, "idempotency_header")
        if key_header:
            headers[key_header] = self._create_key(ctx)
        ctx.progress(None, f"{method} {url}")
        response = self.request(ctx, method, url, body, headers)
        # record where the object is as soon as we know, so a failure below can still be undone
        location = self._location(url, response)
        if location:
            ctx.outputs[URL_OUTPUT] = location
        if response.status not in parse_statuses(self._param(ctx, "expected_status")):
            raise OcfError(ocfcodes.ERR_GENERIC, f"{method} {url} answered {response.status}, "
                           f"expected {self._param(ctx, 'expected_status')}"
                           f"{_snippet(response.body)}")
        outputs = self._pick(ctx, response, strict=True, what=f"{method} {url}")
        location = location or self._resource_url(ctx, outputs)
        if location:
            outputs[URL_OUTPUT] = location
        ctx.outputs.update(outputs)
        for name in ("check_url", "undo_url"):
            if not self._target(ctx, name, outputs):
                raise OcfError(ocfcodes.ERR_CONFIGURED,
                               f"{method} {url} made an object but its URL is unknown: no "
                               f"Location header, no output 'id', and '{name}' is "
                               f"{'unset' if not self._param(ctx, name) else 'not fillable'}"
                               f" (outputs: {', '.join(sorted(outputs)) or 'none'})")
        self.log("INFO", f"{method} {url}: {response.status}, object at {location or '?'}")
        return outputs

    def check(self, ctx: StepContext) -> bool | Outputs:
        known = self._known_outputs(ctx)
        # knowing nothing of an object (not even a static check_url), do not guess: for a
        # PUT, the next start re-applies it (idempotent) rather than adopting what is there
        url = self._target(ctx, "check_url", known) if known or self._param(
            ctx, "check_url") else None
        if not url:
            # nothing created yet that we know of; the create's idempotency key covers a
            # create whose answer was lost
            return False
        if ctx.action == "monitor" and url[:7].lower() == "http://":
            response = self.plain_get(ctx, url)  # the lean path for the frequent action
        else:
            response = self.request(ctx, "GET", url, b"", {})
        if response.status in GONE:
            self.log("INFO" if ctx.action == "start" else "WARNING",
                     f"GET {url} answered {response.status}: the object is gone")
            if ctx.action == "start":
                self._gone = url
            return False
        if response.status not in parse_statuses(self._param(ctx, "check_status")):
            raise OcfError(ocfcodes.ERR_GENERIC, f"GET {url} answered {response.status}, "
                           f"expected {self._param(ctx, 'check_status')} (or 404/410 for "
                           f"gone){_snippet(response.body)}")
        if ctx.action == "monitor":
            return True  # the monitor needs only yes/no: skip the JSON parsing
        refreshed = dict(known)
        refreshed.update(self._pick(ctx, response, strict=False, what=f"GET {url}"))
        resource = self._resource_url(ctx, refreshed)
        if resource:  # adopted without knowing it (a static check_url): undo needs it
            refreshed[URL_OUTPUT] = resource
        return refreshed or True

    def undo(self, ctx: StepContext) -> None:
        known = self._known_outputs(ctx)
        url = self._target(ctx, "undo_url", known)
        if not url:
            self.log("WARNING", f"nothing to undo for {ctx.key}: the object's URL is unknown "
                     "(it was never created, or its create answered nothing usable)")
            return
        ctx.progress(None, f"DELETE {url}")
        response = self.request(ctx, "DELETE", url, b"", {})
        if response.status in GONE:
            self.log("INFO", f"DELETE {url} answered {response.status}: already undone")
            return
        if response.status not in parse_statuses(self._param(ctx, "undo_status")):
            raise OcfError(ocfcodes.ERR_GENERIC, f"DELETE {url} answered {response.status}, "
                           f"expected {self._param(ctx, 'undo_status')} (or 404/410)"
                           f"{_snippet(response.body)}")
        self.log("INFO", f"DELETE {url}: {response.status}")

    # ---- helpers ----------------------------------------------------------------------------

    def _create_key(self, ctx: StepContext) -> str:
        """The idempotency key of this create: the step's, or a new one after a drift.

        A service that honours the key replays the first answer to a retry; after
        the object was deleted behind our back that answer names the deleted
        object. A redo derives its key from the gone object's URL: still stable
        if the redo itself is retried (the CIB keeps that URL until a redo succeeds).
        """
        if not self._gone:
            return ctx.key
        import hashlib

        digest = hashlib.sha256(self._gone.encode()).hexdigest()[:16]
        self.log("INFO", f"{self._gone} is gone: creating anew, with key {ctx.key}+{digest}")
        return f"{ctx.key}+{digest}"

    def _param(self, ctx: StepContext, name: str) -> str:
        value = ctx.params.get(name)
        return "" if value is None else str(value)

    def _check_scheme(self, name: str, url: str) -> None:
        problem = _scheme_problem(name, url)
        if problem:  # a reference resolved to something that is not a URL
            raise OcfError(ocfcodes.ERR_CONFIGURED, problem)

    def _known_outputs(self, ctx: StepContext) -> Outputs:
        """What we know about the object: ctx's outputs, else this node's marker, else the CIB."""
        if ctx.outputs:
            return ctx.outputs
        if ctx.action not in ("start", "migrate_from"):
            return {}  # monitor: the marker's outputs are in ctx; never a CIB query there
        from haflow.agents import marker

        found = marker.read(self.instance)
        if found is not None and found.key == ctx.key and found.outputs:
            return dict(found.outputs)  # a second start on the node that made it
        # after a failover: the outputs the first node stored in the CIB
        return self._stored_outputs()

    def _target(self, ctx: StepContext, name: str, outputs: Outputs) -> str | None:
        """The URL ``check_url``/``undo_url`` names (template filled), else the resource URL."""
        template = self._param(ctx, name)
        url = fill(template, outputs) if template else self._resource_url(ctx, outputs)
        if url:
            self._check_scheme(name if template else "url", url)
        return url or None

    def _resource_url(self, ctx: StepContext, outputs: Outputs) -> str | None:
        """Output ``url`` (set by do), else the rule do follows: url/ID, or url for a PUT."""
        if outputs.get(URL_OUTPUT):
            return outputs[URL_OUTPUT]
        url = self._param(ctx, "url")
        if "id" in outputs:
            return url.rstrip("/") + "/" + quote(outputs["id"])
        if self._param(ctx, "method").upper() == "PUT":
            return url
        return None

    def _location(self, url: str, response: Response) -> str | None:
        location = response.headers.get("location")
        if not location:
            return None
        from urllib.parse import urljoin

        return urljoin(url, location)

    def _pick(self, ctx: StepContext, response: Response, strict: bool, what: str) -> Outputs:
        """Outputs picked from the JSON body; ``strict``: a missing one is an error."""
        wanted = parse_outputs(self._param(ctx, "outputs"))
        if not wanted:
            return {}
        import json

        try:
            document = json.loads(response.body.decode("utf-8")) if response.body else None
        except (ValueError, UnicodeDecodeError) as exc:
            if not strict:
                return {}
            raise OcfError(ocfcodes.ERR_GENERIC, f"{what} answered {response.status} with a "
                           f"body that is not JSON ({exc}); cannot pick outputs") from None
        from haflow.agents.outputs import MAX_OUTPUT_BYTES

        picked: Outputs = {}
        for name, path in wanted.items():
            try:
                value = pick(document, path)
            except KeyError:
                if strict:
                    raise OcfError(ocfcodes.ERR_GENERIC, f"{what} answered {response.status} "
                                   f"without output '{name}' (nothing at "
                                   f"{_path_text(path)} in the JSON)") from None
                continue
            text = value if isinstance(value, str) else (
                "" if value is None else json.dumps(value, separators=(",", ":")))
            if len(text.encode()) > MAX_OUTPUT_BYTES:
                raise OcfError(ocfcodes.ERR_GENERIC, f"output '{name}' from {what} is "
                               f"{len(text.encode())} bytes; at most {MAX_OUTPUT_BYTES}")
            picked[name] = text
        return picked

    def _timeout(self, ctx: StepContext) -> float:
        explicit = float(self.values.get("request_timeout") or 0)
        left = ctx.remaining()
        if left is None:
            return explicit or DEFAULT_REQUEST_TIMEOUT
        left = max(0.1, left)
        return min(explicit, left) if explicit else left

    def plain_get(self, ctx: StepContext, url: str) -> Response:
        """GET over a bare socket, for the monitor of an http:// URL (http_client.py)."""
        try:
            return http_client.plain_get(url, parse_headers(self._param(ctx, "headers")),
                                         self._timeout(ctx))
        except http_client.RequestFailed as exc:
            raise _ocf_error(exc) from None

    def request(self, ctx: StepContext, method: str, url: str, body: bytes,
                headers: dict[str, str]) -> Response:
        """One request, no redirects, no proxies; OcfError naming the URL on failure."""
        sent = {**http_client.DEFAULT_HEADERS, **headers}
        for name, value in parse_headers(self._param(ctx, "headers")):
            sent.setdefault(name, value)  # the idempotency key and Content-Type win
        if method in ("POST", "PUT") or body:
            sent["Content-Length"] = str(len(body))
        try:
            return http_client.request(
                method, url, body, sent, self._timeout(ctx),
                ca_file=self._param(ctx, "ca_file") or None,
                insecure=bool(ctx.params.get("insecure")),
                client_cert=self._param(ctx, "client_cert") or None,
                client_key=self._param(ctx, "client_key") or None)
        except http_client.RequestFailed as exc:
            raise _ocf_error(exc) from None


def _ocf_error(exc: http_client.RequestFailed) -> OcfError:
    return OcfError(ocfcodes.ERR_CONFIGURED if exc.configured else ocfcodes.ERR_GENERIC,
                    str(exc))


def _path_text(path: list[PathPart]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _snippet(body: bytes) -> str:
    """The start of a response body for an exit reason (servers often say why there)."""
    text = " ".join(body[:200].decode("utf-8", "replace").split())
    return f": {text}" if text else ""


def main() -> int:
    return run(HttpAgent)


if __name__ == "__main__":
    sys.exit(main())
