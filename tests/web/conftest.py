"""Fixtures for the web view's browser tests: a real ``haflow serve`` on the session's lab,
users of each role, a template, and Debian's chromium driven by Playwright.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (quickstart.sh
installs Debian's package), headless, with a fresh profile, and nothing reaches beyond
loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from haflow.lab.layout import LabLayout

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
# the README's pictures are refreshed only on request (HAFLOW_SCREENSHOTS=docs): a test
# run otherwise left them as whichever tests had run before drew them, in the checkout
SCREENSHOTS_ENV = "HAFLOW_SCREENSHOTS"
TEMPLATE = "webchain"
GATED = "webgated"  # the same chain, its middle step behind an approval gate


def end_group(process: subprocess.Popen[bytes]) -> None:
    """End a process started with a session of its own, and all it started, by its PID."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(15)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Service:
    """``haflow serve`` on loopback against a lab, with a token per role."""

    layout: LabLayout
    tmp: Path
    port: int = field(default_factory=free_port)
    tokens: dict[str, str] = field(default_factory=dict)  # role -> token
    users: dict[str, str] = field(default_factory=dict)  # role -> user name
    process: subprocess.Popen[bytes] | None = None
    submitted: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "haflow.coordinator.cli", *args,
                "--lab", self.layout.name, "--lab-root", str(self.layout.root)]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=180)
        if check:
            assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}"
        return result

    def start(self) -> None:
        log = (self.tmp / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "haflow.coordinator.cli", "serve",
             "--listen", f"127.0.0.1:{self.port}",
             "--lab", self.layout.name, "--lab-root", str(self.layout.root)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"haflow serve exited: {self.log()}"
            try:
                with urllib.request.urlopen(f"{self.url}/v1/health", timeout=2):
                    return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        raise AssertionError(f"haflow serve did not answer within 60 s: {self.log()}")

    def stop(self) -> None:
        if self.process is not None:
            end_group(self.process)
        self.process = None

    def log(self) -> str:
        return (self.tmp / "serve.log").read_text(errors="replace")[-4000:]

    def api(self, method: str, path: str, role: str = "operator",
            body: dict[str, Any] | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {self.tokens[role]}",
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def submit(self, name: str, template: str = TEMPLATE) -> None:
        self.submitted.append(name)
        status, answer = self.api("POST", "/v1/workflows", body={
            "template": template, "name": name, "inputs": {}})
        assert status in (200, 201, 202), answer

    def state(self, name: str) -> Any:
        status, answer = self.api("GET", f"/v1/workflows/{name}", role="viewer")
        assert status == 200, answer
        return answer


def template_file(tmp: Path, state_dir: Path, name: str = TEMPLATE,
                  gate: str | None = None) -> Path:
    """Three ``test`` steps in a chain, each start 1 s and each undo 2 s: slow enough for
    a browser to see every state, fast enough for the suite; ``gate``: the step that
    waits for an approval."""
    steps: dict[str, Any] = {}
    previous: str | None = None
    for step in ("create", "configure", "announce"):
        steps[step] = {"agent": "test", "params": {
            "state_dir": str(state_dir), "duration": 1, "undo_duration": 2}}
        if previous:
            steps[step]["after"] = [previous]
        if step == gate:
            steps[step]["approval"] = True
        previous = step
    path = tmp / f"{name}.yaml"
    # JSON is YAML: no YAML writer needed
    path.write_text(json.dumps({"name": name, "failure_policy": "rollback",
                                "steps": steps}))
    return path


@pytest.fixture(scope="module")
def service(lab1: LabLayout, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("web")
    state_dir = tmp / "state"
    state_dir.mkdir(mode=0o755)
    svc = Service(lab1, tmp)
    users = svc.users = {role: f"web{role}{os.getpid() % 10000}"
                         for role in ("viewer", "operator")}
    try:
        for role, user in users.items():
            added = json.loads(svc.cli("users", "add", user, "--role", role,
                                       "--output-as", "json").stdout)
            svc.tokens[role] = added["token"]
        svc.cli("templates", "add", str(template_file(tmp, state_dir)), "--replace")
        svc.cli("templates", "add", str(template_file(tmp, state_dir, GATED, "configure")),
                "--replace")
        svc.start()
        yield svc
    finally:
        svc.stop()
        for name in svc.submitted:
            svc.cli("abort", name, check=False)
        for name in svc.submitted:
            svc.cli("wait", name, "--timeout", "120", check=False)
            svc.cli("remove", name, "--force", check=False)
        for user in users.values():
            svc.cli("users", "remove", user, check=False)
        for template in (TEMPLATE, GATED):
            svc.cli("templates", "remove", template, check=False)


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's chromium, headless, with a fresh profile: no browser is downloaded."""
    if not shutil.which(CHROMIUM):
        pytest.fail("Debian's chromium is missing: run the README's test command")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
            headless=True, args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 860})
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    """A fresh tab (its own sessionStorage); page errors fail the test."""
    tab = browser_context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    tab.close()
    assert not errors, errors


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests save their screenshots: a temporary folder, or the one
    ``HAFLOW_SCREENSHOTS`` names (``docs`` refreshes the README's)."""
    wanted = os.environ.get(SCREENSHOTS_ENV)
    return Path(wanted).resolve() if wanted else tmp_path_factory.mktemp("screenshots")
