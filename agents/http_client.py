"""The HTTP client of ``ocf:haflow:http``: one request, no redirects, no proxies.

Imports stay minimal (the http agent's monitor path): ``plain_get`` speaks
HTTP/1.1 over a bare socket, and only ``request`` imports http.client (with
email and ssl, about as long as the interpreter takes to start), urllib.parse
and, for https, ssl.
"""

from __future__ import annotations

# typing costs milliseconds at import: annotations only
TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket

MAX_RESPONSE_BYTES = 1 << 20  # a REST answer, not a download
# sent with every request, unless the caller's headers replace them
DEFAULT_HEADERS = {"Accept": "application/json", "User-Agent": "haflow-http/1.0"}
UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers  # names lower-cased
        self.body = body


class RequestFailed(Exception):
    """No answer; the message names the request. ``configured``: the configuration is at
    fault (a bad URL, header or TLS file), not the service or the network."""

    def __init__(self, message: str, configured: bool = False) -> None:
        super().__init__(message)
        self.configured = configured


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()  # "²".isdigit() is true, int("²") fails


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def quote(value: str) -> str:
    """Percent-encoding of a path segment (urllib.parse.quote(value, safe=""), without re)."""
    return "".join(chr(b) if b in UNRESERVED else f"%{b:02X}" for b in value.encode())


def split_http(url: str) -> tuple[str, int, str, str]:
    """(host, port, Host header, request target) of an http:// URL, without urllib.parse."""
    rest = url[7:].split("#", 1)[0]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, target = rest[:cut].rpartition("@")[2], rest[cut:]
    target = target if target.startswith("/") else "/" + target
    if authority.startswith("["):  # [IPv6]:port
        host, _, after = authority[1:].partition("]")
        port_text = after[1:] if after.startswith(":") else ""
    else:
        host, _, port_text = authority.partition(":")
    if not host or (port_text and not _digits(port_text)) or int(port_text or 80) > 65535:
        raise ValueError(f"bad host or port in {url!r}")
    return host, int(port_text or 80), authority, target


def _read_answer(sock: _socket.socket) -> bytes:
    """Bytes of an answer until EOF, the end of a Content-Length body, or the size cap."""
    data = b""
    expected = MAX_RESPONSE_BYTES
    head_seen = False
    while len(data) < expected:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if not head_seen and b"\r\n\r\n" in data:
            head_seen = True
            head = data.split(b"\r\n\r\n", 1)[0]
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length" and value.strip().isdigit():
                    expected = min(expected, len(head) + 4 + int(value.strip()))
    return data


def plain_get(url: str, headers: list[tuple[str, str]], timeout: float) -> Response:
    """GET of an http:// URL over a bare socket: the monitor only needs a status.
    ``Connection: close``, so the answer ends at EOF (or at Content-Length)."""
    import _socket

    try:
        host, port, authority, target = split_http(url)
    except ValueError as exc:
        raise RequestFailed(str(exc), configured=True) from None
    lines = [f"GET {target} HTTP/1.1", f"Host: {authority}",
             *(f"{name}: {value}" for name, value in DEFAULT_HEADERS.items()),
             "Connection: close", *(f"{name}: {value}" for name, value in headers)]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    data = b""
    try:
        error: OSError = OSError(f"no address for {host}")
        # an ASCII name as bytes: a str makes getaddrinfo import the idna codec (and re)
        name: str | bytes = host.encode("ascii") if host.isascii() else host
        for family, kind, proto, _, address in _socket.getaddrinfo(
                name, port, 0, _socket.SOCK_STREAM):
            sock = _socket.socket(family, kind, proto)
            try:
                sock.settimeout(timeout)
                sock.connect(address)
                sock.sendall(request)
                data = _read_answer(sock)
                break
            except OSError as exc:
                error = exc
            finally:
                sock.close()
        else:
            raise error
    except OSError as exc:
        raise RequestFailed(f"GET {url} failed: {_reason(exc)}") from None
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/") \
            or not _digits(status_line[1].decode("latin-1")):
        raise RequestFailed(f"GET {url}: not an HTTP answer ({head[:60]!r})")
    return Response(int(status_line[1]), {}, body)


def request(method: str, url: str, body: bytes, headers: dict[str, str], timeout: float, *,
            ca_file: str | None = None, insecure: bool = False, client_cert: str | None = None,
            client_key: str | None = None) -> Response:
    """One request with http.client (http or https), ``headers`` exactly as given."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    tls = None
    if parts.scheme == "https":
        # set up here, not in a helper: an ssl annotation would need typing at import
        import ssl

        try:
            tls = ssl.create_default_context(cafile=ca_file)
            if insecure:
                tls.check_hostname = False
                tls.verify_mode = ssl.CERT_NONE
            if client_cert:
                tls.load_cert_chain(client_cert, client_key)
        except (OSError, ssl.SSLError) as exc:
            raise RequestFailed(f"TLS set-up for {url} failed (ca_file, client_cert, "
                                f"client_key): {exc}", configured=True) from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    try:
        if tls is not None:
            connection = http.client.HTTPSConnection(parts.hostname or "", parts.port,
                                                     timeout=timeout, context=tls)
        else:
            connection = http.client.HTTPConnection(parts.hostname or "", parts.port,
                                                    timeout=timeout)
    except ValueError as exc:  # e.g. a port that is not a number
        raise RequestFailed(f"bad URL {url!r}: {exc}", configured=True) from None
    try:
        connection.request(method, target, body=body or None, headers=headers)
        answer = connection.getresponse()
        data = answer.read(MAX_RESPONSE_BYTES)
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)
    except (OSError, http.client.HTTPException) as exc:
        raise RequestFailed(f"{method} {url} failed: {_reason(exc)}") from None
    except ValueError as exc:  # http.client refusing a header or URL: configuration
        raise RequestFailed(f"{method} {url}: {exc}", configured=True) from None
    finally:
        connection.close()
