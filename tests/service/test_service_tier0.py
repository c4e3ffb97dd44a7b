"""The service's parts without a cluster: tokens, templates' input rules, events, the login
limit, HTTP statuses, the service's resources (crm_verify), secrets' resolution, redaction
and the store's merge."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from haflow.coordinator.codes import Code
from haflow.coordinator.reports import HaflowError, error
from haflow.encoding.service import UserRecord, token_digest

pytestmark = pytest.mark.tier0


def test_a_token_authenticates_its_user_only_with_its_secret() -> None:
    from haflow.coordinator.commands.users import verify

    users = {"alice": UserRecord("operator", "salt", token_digest("salt", "s3cret"), 1)}
    assert verify(users, "alice.s3cret") == ("alice", "operator")
    for wrong in ("alice.s3cre", "alice.", "alice", "bob.s3cret", ".s3cret", ""):
        assert verify(users, wrong) is None
    record = users["alice"]
    assert UserRecord.parse(record.encode()).encode() == record.encode()  # type: ignore[union-attr]
    assert UserRecord.parse("root x y 1") is None  # no such role


TEMPLATE = """\
name: t
inputs:
  x: {type: string}
steps:
  a:
    agent: exec
    params:
      env: "X=${inputs.x}"
      do: 'printf "%s" "$X"'
"""


def test_templates_pass_inputs_to_commands_as_environment_only() -> None:
    from haflow.coordinator.commands.templates import check

    assert check(TEMPLATE, "t.yaml").inputs == {"x": {"type": "string"}}
    for bad in ('      do: \'echo ${inputs.x}\'', '      env: "X=a${inputs.x}"',
                '      shell: "${inputs.x}"'):
        text = TEMPLATE.replace('      do: \'printf "%s" "$X"\'', bad) if "do:" in bad else \
            TEMPLATE.replace('      env: "X=${inputs.x}"', bad)
        with pytest.raises(HaflowError) as err:
            check(text, "t.yaml")
        assert Code.BAD_REFERENCE in [r.code for r in err.value.reports], bad


def test_inputs_with_line_breaks_are_refused() -> None:
    from haflow.coordinator.commands.templates import check_inputs

    check_inputs({"x": "a b ' \" ; $(x) <y/>", "n": 3, "l": ["a", 1]})
    for bad in ("a\nPATH=/x", "a\rb", "a\0b"):
        with pytest.raises(HaflowError) as err:
            check_inputs({"x": bad})
        assert err.value.reports[0].code == Code.BAD_INPUTS


def test_events_are_the_changes_between_two_views() -> None:
    from haflow.coordinator.service.events import changes
    from haflow.coordinator.service.snapshot import View
    from haflow.coordinator.status import StepState, StepStatus, WorkflowState, WorkflowStatus

    def wf(state: WorkflowState, *steps: tuple[str, StepState]) -> WorkflowStatus:
        return WorkflowStatus("w", state, "rollback", False, "s",
                              [StepStatus(n, f"w.{n}", "test", s, "rollback", node="n1")
                               for n, s in steps])

    old = View(workflows={"w": wf(WorkflowState.RUNNING, ("a", StepState.STARTING))})
    new = View(workflows={"w": wf(WorkflowState.DONE, ("a", StepState.DONE))})
    assert changes(old, new) == [
        {"type": "workflow", "workflow": "w", "state": "done", "was": "running"},
        {"type": "step", "workflow": "w", "step": "a", "state": "done", "node": "n1",
         "was": "starting"}]
    assert changes(new, View()) == [{"type": "workflow", "workflow": "w", "state": "removed",
                                     "was": "done"}]
    assert changes(new, new) == []


def test_failed_logins_are_limited_per_address() -> None:
    from haflow.coordinator.service.auth import FailedLogins

    limit = FailedLogins(limit=3, window=60)
    for _ in range(3):
        limit.check("10.0.0.1")
        limit.failed("10.0.0.1")
    with pytest.raises(HaflowError) as err:
        limit.check("10.0.0.1")
    assert err.value.reports[0].code == Code.TOO_MANY_FAILED_LOGINS
    limit.check("10.0.0.2")  # another address is not held back


@pytest.mark.parametrize(("code", "status"), [
    (Code.WORKFLOW_NOT_FOUND, 404), (Code.WORKFLOW_EXISTS, 409), (Code.NO_QUORUM, 503),
    (Code.BAD_NAME, 422), (Code.AUTH_REQUIRED, 401), (Code.FORBIDDEN, 403),
    (Code.TOO_MANY_FAILED_LOGINS, 429), (Code.REQUEST_TOO_LARGE, 413),
    (Code.VIEW_NOT_SYNCED, 503), (Code.CIB_UPDATE_FAILED, 500), (Code.TOOL_TIMEOUT, 504)])
def test_http_statuses_follow_exit_codes(code: Code, status: int) -> None:
    from haflow.coordinator.service.app import http_status

    assert http_status(error(code, "x")) == status


def test_the_service_resources_pass_crm_verify() -> None:
    from haflow.coordinator.commands.service import service_elements
    from tests.workflow.cibtools import crm_verify, skeleton

    cib = skeleton(3)
    made = service_elements("10.99.0.100/24", 8443)
    cib.find("configuration/resources").extend(made[:2])  # type: ignore[union-attr]
    cib.find("configuration/constraints").extend(made[2:])  # type: ignore[union-attr]
    result = crm_verify(cib)
    assert result.returncode == 0, result.stdout + result.stderr
    listen = cib.find(".//nvpair[@name='listen']")
    assert listen is not None and listen.get("value") == "10.99.0.100:8443"
    for bad in ("10.99.0.100", "10.99.0.300/24", "x/y"):
        with pytest.raises(HaflowError) as err:
            service_elements(bad, 8443)
        assert err.value.reports[0].code == Code.BAD_ADDRESS


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "secrets"
    monkeypatch.setenv("HAFLOW_SECRETS_DIR", str(folder))
    from haflow.agents import secrets

    importlib.reload(secrets)
    yield folder
    monkeypatch.delenv("HAFLOW_SECRETS_DIR")
    importlib.reload(secrets)


def test_secrets_resolve_from_the_store_and_are_redacted(store: Path) -> None:
    from haflow.agents import framework, secrets
    from haflow.coordinator.cluster import secret_store

    importlib.reload(secret_store)
    assert secret_store.apply("tok", "5-1", "v${steps.a.b}al")
    assert (store.stat().st_mode & 0o777, (store / "tok").stat().st_mode & 0o777) == \
        (0o700, 0o600)
    resolved = secrets.resolve("Bearer ${secrets.tok} $${secrets.tok}", wait=0)
    # a secret's own "${" is escaped, an escaped reference stays for the step to unescape
    assert resolved == "Bearer v$${steps.a.b}al $${secrets.tok}"
    assert framework.redacted("failed: v${steps.a.b}al") == "failed: ${secrets.tok}"
    with pytest.raises(secrets.SecretMissing):
        secrets.resolve("${secrets.nope}", wait=0)


def test_the_store_keeps_the_newest_version_and_removals(store: Path) -> None:
    from haflow.coordinator.cluster import secret_store

    importlib.reload(secret_store)
    assert secret_store.apply("k", "10-1", "new")
    assert not secret_store.apply("k", "9-3", "old")  # older: ignored
    assert secret_store.apply("k", "10-2", None)  # same time, higher node: a removal
    assert not (store / "k").exists()
    assert not secret_store.apply("k", "10-1", "new")  # the removal is remembered
    assert secret_store.local() == {"k": ("10-2", None)}
    assert not secret_store.apply("../x", "11-1", "v")
    assert os.listdir(store) == ["k.version"]


def test_the_acl_roles_pass_crm_verify() -> None:
    from haflow.coordinator.commands import acl
    from tests.workflow.cibtools import crm_verify, skeleton

    cib = skeleton(3)
    acls = acl._acls(cib)
    for element in (acl._role("haflow-viewer", ()), acl._role("haflow-operator", acl.WRITABLE),
                    acl._grant("acl_group", "haclient", "haflow-viewer")):
        acls.append(element)
    result = crm_verify(cib)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p.get("kind") for p in acls.iter("acl_permission")] == [
        "deny", "read", "deny", "read", *["write"] * 6]
