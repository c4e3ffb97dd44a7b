"""A real ``haflow serve`` on the session's 1-node lab, its users and a template."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from haflow.lab.layout import LabLayout
from tests.service.apitools import LabHttp, cli, serving, token, wait_healthy

PORT = 18443


@dataclass
class Api:
    layout: LabLayout
    http: LabHttp
    tokens: dict[str, str]
    tmp: Path
    log: Path
    workflows: list[str] = field(default_factory=list)

    def cleanup(self) -> None:
        for name in self.workflows:
            cli(self.layout, "abort", name)
            cli(self.layout, "wait", name, "--timeout", "60")
            cli(self.layout, "remove", name, "--force")
        self.workflows.clear()


@pytest.fixture(scope="module")
def api(lab1: LabLayout, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("api")
    os.chmod(tmp, 0o755)
    tokens = {role: token(lab1, f"t-{role}", role) for role in ("viewer", "operator", "admin")}
    log = tmp / "serve.log"
    try:
        with serving(lab1, "node1", f"127.0.0.1:{PORT}", log):
            http = LabHttp(lab1, "node1", f"http://127.0.0.1:{PORT}")
            wait_healthy(http)
            found = Api(lab1, http, tokens, tmp, log)
            try:
                yield found
            finally:
                found.cleanup()
                http.close()
    finally:
        for role in tokens:
            cli(lab1, "users", "remove", f"t-{role}")
