"""Debian's Firefox ESR driven over WebDriver BiDi, the W3C protocol it speaks itself.

Playwright drives Firefox only through a build of its own (to download) or a BiDi
channel that expects a newer Firefox than Debian's ESR (it sends commands ESR 153
does not know), and Debian ships no geckodriver. Firefox needs neither: started with
``--remote-debugging-port`` it serves BiDi on a WebSocket. This is the handful of
commands the web view's test needs (navigate, evaluate, the console's errors), over
the ``websockets`` library; nothing is downloaded and nothing leaves loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

FIREFOX = "/usr/bin/firefox-esr"
# a fresh profile that reaches nothing beyond loopback: no updates, telemetry, safe
# browsing, captive-portal or remote-settings checks (the remote agent adds its own)
PREFS = {
    "app.update.enabled": False, "app.normandy.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.shell.checkDefaultBrowser": False, "datareporting.policy.dataSubmissionEnabled": False,
    "extensions.update.enabled": False, "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False, "toolkit.telemetry.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/", "network.proxy.type": 0,
}
LISTENING = re.compile(r"WebDriver BiDi listening on (ws://\S+)")


class BidiError(Exception):
    pass


class Firefox:
    """One headless Firefox, one tab; ``close`` ends it by its own PID."""

    def __init__(self, profile: Path, timeout: float = 60) -> None:
        from websockets.sync.client import connect

        profile.mkdir(parents=True, exist_ok=True)
        (profile / "user.js").write_text("".join(
            f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items()))
        self.log = profile / "firefox.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [FIREFOX, "--headless", "--no-remote", "--profile", str(profile),
                 "--remote-debugging-port", "0", "about:blank"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1"})
        self.errors: list[str] = []  # the page's uncaught errors and console errors
        self._opened = contextlib.ExitStack()  # the WebSocket, closed by close()
        self._next = 0
        try:
            url = self._wait_listening(timeout)
            self.socket = self._opened.enter_context(
                connect(f"{url}/session", max_size=None, open_timeout=timeout))
            self.command("session.new", {"capabilities": {}})
            self.command("session.subscribe", {"events": ["log.entryAdded"]})
            tree = self.command("browsingContext.getTree", {})
            self.context = tree["contexts"][0]["context"]
        except BaseException:
            self.close()
            raise

    def _wait_listening(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = LISTENING.search(self.log.read_text(errors="replace"))
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise BidiError(f"Firefox did not serve BiDi: {self.log.read_text(errors='replace')}")

    def command(self, method: str, params: dict[str, Any], timeout: float = 60) -> Any:
        self._next += 1
        ident = self._next
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BidiError(f"{method}: no answer within {timeout} s")
            message = json.loads(self.socket.recv(timeout=left))
            if message.get("type") == "event":
                self._event(message)
            elif message.get("id") == ident:
                if message.get("type") == "error":
                    raise BidiError(f"{method}: {message.get('error')}: "
                                    f"{message.get('message')}")
                return message.get("result")

    def _event(self, message: dict[str, Any]) -> None:
        entry = message.get("params", {})
        if message.get("method") == "log.entryAdded" and entry.get("level") == "error":
            self.errors.append(str(entry.get("text")))

    def navigate(self, url: str) -> None:
        self.command("browsingContext.navigate",
                     {"context": self.context, "url": url, "wait": "complete"})

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (awaited when a promise), as JSON."""
        result = self.command("script.evaluate", {
            "expression": f"(async () => JSON.stringify(await ({expression})))()",
            "target": {"context": self.context}, "awaitPromise": True})
        if result.get("type") != "success":
            raise BidiError(f"{expression}: {result.get('exceptionDetails')}")
        value = result["result"].get("value")
        return None if value is None else json.loads(value)

    def wait_for(self, expression: str, timeout: float = 90) -> Any:
        """Poll ``expression`` until it is truthy; its last value otherwise (an error)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BidiError(f"never held within {timeout} s: {expression} (last {value!r})")
            time.sleep(0.2)

    def close(self) -> None:
        from tests.web.conftest import end_group

        self._opened.close()
        end_group(self.process)
