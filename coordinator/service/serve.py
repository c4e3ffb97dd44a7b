"""Run the API with uvicorn: on HOST:PORT (TLS when given a certificate and key) or a unix
socket (``unix:PATH``)."""

from __future__ import annotations

from dataclasses import dataclass

from haflow.coordinator.cluster.env import Env
from haflow.coordinator.codes import Code
from haflow.coordinator.reports import error

DEFAULT_PORT = 8443


@dataclass(frozen=True)
class Listen:
    host: str | None = None
    port: int | None = None
    uds: str | None = None


def parse_listen(text: str) -> Listen:
    """``HOST:PORT``, ``[V6]:PORT``, ``:PORT`` (every address) or ``unix:PATH``."""
    if text.startswith("unix:"):
        return Listen(uds=text[5:])
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise error(Code.BAD_ADDRESS, f"--listen {text!r}: write HOST:PORT or unix:PATH")
    return Listen(host=host.strip("[]") or "0.0.0.0", port=int(port))


def serve(env: Env, listen: Listen, tls_cert: str | None = None,
          tls_key: str | None = None) -> None:
    """Serve until interrupted (SIGTERM, SIGINT)."""
    import uvicorn

    from haflow.coordinator.service.app import create_app

    if (tls_cert is None) != (tls_key is None):
        raise error(Code.USAGE, "--tls-cert and --tls-key go together")
    config = uvicorn.Config(create_app(env), host=listen.host or "127.0.0.1",
                            port=listen.port or DEFAULT_PORT, uds=listen.uds,
                            ssl_certfile=tls_cert, ssl_keyfile=tls_key, log_level="warning",
                            access_log=False, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run()
