"""A real ``haflow serve`` in a lab node, and an HTTP client inside the lab's network.

The lab's addresses exist only in its namespaces, so the client's calls run in threads
that joined a node's network namespace (setns affects the calling thread alone): every
socket they open lives there. No address is ever added to the host's namespace.
"""

from __future__ import annotations

import ctypes
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

from haflow.lab import control, power
from haflow.lab.layout import LabLayout

CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def join_netns(pid: int) -> None:
    """Move the calling thread into the network namespace of process ``pid``."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
    finally:
        os.close(fd)


class LabHttp:
    """httpx calls made from inside ``node``'s network namespace."""

    def __init__(self, layout: LabLayout, node: str, base: str, workers: int = 4,
                 local_address: str | None = None,
                 verify: ssl.SSLContext | bool = True) -> None:
        pid = power.init_pid(layout, node)
        assert pid is not None, f"{node} is off"
        self.pid = pid
        self.base = base
        self.local_address = local_address
        self.verify = verify  # trusts a server of the test's own certificate
        self._local = threading.local()
        self.pool = ThreadPoolExecutor(workers, initializer=join_netns, initargs=(pid,))

    def _client(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            transport = httpx.HTTPTransport(local_address=self.local_address,
                                            verify=self.verify)
            client = self._local.client = httpx.Client(base_url=self.base, timeout=30,
                                                       transport=transport)
        return client

    def call(self, fn: Callable[[httpx.Client], T]) -> T:
        return self.pool.submit(lambda: fn(self._client())).result()

    def request(self, method: str, path: str, token: str | None = None,
                **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.call(lambda c: c.request(method, path, headers=headers, **kwargs))

    def get(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        return self.request("GET", path, token, **kw)

    def post(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        return self.request("POST", path, token, **kw)

    def events(self, token: str, sink: list[dict[str, Any]], stop: threading.Event) -> None:
        """Collect ``GET /v1/events`` into ``sink`` until ``stop`` (in a thread of its own)."""

        def follow() -> None:
            join_netns(self.pid)
            try:
                _follow()
            except httpx.HTTPError:
                if not stop.is_set():  # the server went away while the test still listened
                    sink.append({"type": "error", "workflow": "", "state": "disconnected"})

        def _follow() -> None:
            with httpx.Client(base_url=self.base, timeout=None) as client, client.stream(
                    "GET", "/v1/events", headers={"Authorization": f"Bearer {token}"}
                    ) as answer:
                assert answer.status_code == 200, answer.read()
                for line in answer.iter_lines():
                    if line.startswith("data: "):
                        sink.append(json.loads(line[6:]))
                    if stop.is_set():
                        return

        threading.Thread(target=follow, daemon=True).start()

    def close(self) -> None:
        self.pool.shutdown(wait=False)


@contextmanager
def serving(layout: LabLayout, node: str, listen: str, log: Path, *options: str) -> Iterator[
        subprocess.Popen[bytes]]:
    """``haflow serve --listen LISTEN [OPTIONS]`` as ``node``, ended by its own handle
    afterwards."""
    argv = control.node_command(layout, node, [sys.executable, "-m", "haflow.coordinator.cli",
                                               "serve", "--listen", listen, *options])
    with open(log, "ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=out)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_healthy(http: LabHttp, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            answer = http.get("/v1/health")
            if answer.status_code == 200:
                data: dict[str, Any] = answer.json()
                return data
            last = answer.text
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"the API did not become healthy: {last}")


def cli(layout: LabLayout, *args: str, input: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    """The haflow CLI against the lab (as an admin on a node runs it)."""
    return subprocess.run([sys.executable, "-m", "haflow.coordinator.cli", *args, "--lab",
                           layout.name, "--lab-root", str(layout.root)], capture_output=True,
                          text=True, timeout=180, input=input)


def token(layout: LabLayout, user: str, role: str) -> str:
    result = cli(layout, "users", "add", user, "--role", role, "--output-as", "json")
    assert result.returncode == 0, result.stderr
    value: str = json.loads(result.stdout)["token"]
    return value
