"""The web view in a real browser (Debian's chromium) against a real ``haflow serve`` on
the 1-node lab: sign-in, a workflow followed live to done, an abort from the page undone
in reverse order, roles, a bad token, and a restart of the service."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import GATED, Service

pytestmark = pytest.mark.tier1
STEPS = ["create", "configure", "announce"]  # the template's chain, in order
TIMEOUT_MS = 90_000

# every data-state a step takes, as the page shows it, with the time it changed
WATCH_STATES = """() => {
  window.__seen = [];
  window.__loadedAt = performance.timeOrigin;
  const note = (el) => window.__seen.push([el.dataset.step, el.dataset.state, performance.now()]);
  document.querySelectorAll(".step[data-step]").forEach(note);
  new MutationObserver((records) => records.forEach((r) => {
    if (r.target.classList.contains("step") && r.target.dataset.step) note(r.target);
  })).observe(document.body, {subtree: true, attributes: true, attributeFilter: ["data-state"]});
}"""


def sign_in(page: Any, service: Service, role: str) -> None:
    page.goto(service.url + "/")
    page.fill("#token", service.tokens[role])
    page.click("#signin-button")
    page.wait_for_selector("#who", state="visible")
    page.wait_for_function("(role) => document.getElementById('who').textContent.includes(role)",
                           arg=f"({role})")


def step_states(page: Any) -> dict[str, str]:
    states: dict[str, str] = page.eval_on_selector_all(
        ".step[data-step]", "els => Object.fromEntries(els.map(e => [e.dataset.step, "
        "e.dataset.state]))")
    return states


def wait_page(page: Any, service: Service, name: str, predicate: str,
              arg: Any = None) -> None:
    """Wait until ``predicate`` holds in the page; if it never does, say what the page
    and the service showed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(predicate, arg=arg, timeout=TIMEOUT_MS)
    except PlaywrightTimeout:
        seen = page.evaluate("window.__seen || []")
        shown = {"steps": step_states(page), "stream": page.inner_text("#stream"),
                 "report": page.inner_text("#report") if page.query_selector("#report")
                 else None, "seen": seen[-30:]}
        raise AssertionError(f"{predicate} never held: page {shown}; service "
                             f"{[(s['name'], s['state']) for s in service.state(name)['steps']]}"
                             f"\n{service.log()}") from None


def wait_all(page: Any, service: Service, name: str, state: str) -> None:
    wait_page(page, service, name,
              "([state, n]) => { const els = document.querySelectorAll('.step[data-step]');"
              " return els.length === n && [...els].every(e => e.dataset.state === state); }",
              [state, len(STEPS)])


def test_a_bad_token_is_refused(page: Any, service: Service) -> None:
    page.goto(service.url + "/")
    page.fill("#token", "not-a-token-of-anyone")
    page.click("#signin-button")
    error = page.wait_for_selector("#signin-error:not([hidden])")
    assert re.search(r"refused.*401", error.inner_text()), error.inner_text()
    assert page.evaluate("sessionStorage.getItem('haflow.token')") is None
    assert page.query_selector("#workflows") is None


def test_operator_follows_a_workflow_live_and_aborts_it_from_the_page(
        page: Any, service: Service, screenshots: Path) -> None:
    sign_in(page, service, "operator")
    page.wait_for_selector("#workflows")
    page.evaluate("window.__sameDocument = true")
    name = f"webrun{os.getpid() % 10000}"
    service.submit(name)
    # the list learns of it from the event stream: no reload
    row = f'#workflows tr[data-workflow="{name}"]'
    page.wait_for_selector(row, timeout=TIMEOUT_MS)
    page.fill("#filter", name)
    page.wait_for_function("() => document.querySelectorAll('#workflows tbody tr').length === 1")
    page.click(f"{row} a")  # a locator: the list is redrawn as events come
    page.wait_for_selector('.step[data-step="announce"]')
    page.evaluate(WATCH_STATES)
    wait_all(page, service, name, "done")
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    assert service.state(name)["state"] == "done"
    seen = page.evaluate("window.__seen")
    for step in STEPS:  # each step seen done; none went back
        mine = [s for n, s, _ in seen if n == step]
        assert mine[-1] == "done" and "undoing" not in mine, (step, mine)

    page.evaluate(WATCH_STATES)
    page.click('#actions button[data-action="abort"]')
    page.wait_for_selector("#confirm[open]")
    page.click("#confirm-ok")
    # mid-rollback: the last step undone while the ones before it are still undoing
    wait_page(page, service, name,
              "() => document.querySelector('.step[data-step=announce][data-state=undone]')"
              " && document.querySelector('.step[data-step=create][data-state=undoing]')")
    page.screenshot(path=str(screenshots / "web-rollback.png"), full_page=True)
    wait_all(page, service, name, "undone")
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    seen = page.evaluate("window.__seen")
    undone_at: dict[str, float] = {}
    for step in STEPS:
        mine = [(s, t) for n, s, t in seen if n == step]
        states = [s for s, _ in mine]
        assert "undoing" in states, (step, states)
        assert states.index("undoing") < len(states) - 1 - states[::-1].index("undone"), states
        undone_at[step] = min(t for s, t in mine if s == "undone")
    # reverse order: the last step is undone first
    assert sorted(STEPS, key=undone_at.__getitem__) == STEPS[::-1], undone_at
    page.wait_for_selector("#wf-state[data-state='rolled back']", timeout=TIMEOUT_MS)
    # the history below shows the undos
    page.wait_for_selector('#history tr[data-step="create"]', timeout=TIMEOUT_MS)


def test_a_refused_action_shows_the_commands_report(page: Any, service: Service) -> None:
    name = f"webrefuse{os.getpid() % 10000}"
    service.submit(name)
    assert service.api("POST", f"/v1/workflows/{name}/abort")[0] in (200, 202)
    sign_in(page, service, "operator")
    page.goto(f"{service.url}/#/workflow/{name}")
    page.wait_for_selector('.step[data-step="create"]')
    page.click('#actions button[data-action="abort"]')
    page.click("#confirm-ok")
    report = page.wait_for_selector('#report[data-kind="refused"]:not([hidden])')
    assert "ALREADY_ABORTED" in report.inner_text(), report.inner_text()


def test_operator_approves_a_gate_then_pauses_and_resumes_from_the_page(
        page: Any, service: Service) -> None:
    name = f"webgate{os.getpid() % 10000}"
    service.submit(name, GATED)
    sign_in(page, service, "operator")
    page.goto(f"{service.url}/#/workflow/{name}")
    # the gate is drawn as one, and holds its step and everything after it
    gate = '.step.gate[data-step="configure"]'
    wait_page(page, service, name, "(gate) => { const g = document.querySelector(gate);"
              " return g && g.dataset.state === 'awaiting approval' &&"
              " document.querySelector('.step[data-step=create]').dataset.state === 'done'; }",
              gate)
    assert page.query_selector('.step.gate[data-step="announce"]') is None
    assert "awaiting approval" in page.inner_text(gate)
    page.click(gate)
    page.click("#approve-step")
    assert "configure" in page.inner_text("#confirm-text")
    page.click("#confirm-ok")
    wait_all(page, service, name, "done")
    history = service.api("GET", f"/v1/workflows/{name}/history", role="viewer")[1]
    # who approved, in the history
    assert any(e["task"] == "approve" and e["step"] == "configure" and
               service.users["operator"] in e["text"] for e in history), history
    for action, state in (("pause", "paused"), ("resume", "done")):
        page.click(f'#actions button[data-action="{action}"]')
        page.click("#confirm-ok")
        page.wait_for_selector(f'#wf-state[data-state="{state}"]', timeout=TIMEOUT_MS)
    # a second resume is refused, and the page says why
    page.click('#actions button[data-action="resume"]')
    page.click("#confirm-ok")
    report = page.wait_for_selector('#report[data-kind="refused"]:not([hidden])')
    assert "NOT_PAUSED" in report.inner_text(), report.inner_text()


def test_a_viewer_sees_no_action(page: Any, service: Service) -> None:
    name = f"webview{os.getpid() % 10000}"
    service.submit(name)
    sign_in(page, service, "viewer")
    page.goto(f"{service.url}/#/workflow/{name}")
    page.wait_for_selector('.step[data-step="create"][data-state]:not([data-state=""])')
    assert page.query_selector("#actions") is None
    assert page.query_selector("button[data-action]") is None
    assert page.query_selector("#approve-step") is None


def test_the_page_recovers_after_haflow_serve_restarts(page: Any, service: Service,
                                                       screenshots: Path) -> None:
    sign_in(page, service, "viewer")
    page.wait_for_selector('#stream[data-stream="live"]')
    page.evaluate("window.__sameDocument = true")
    service.stop()
    page.wait_for_selector('#stream[data-stream="lost"]', timeout=30_000)
    assert "lost" in page.inner_text("#stream")
    name = f"webback{os.getpid() % 10000}"
    service.start()
    page.wait_for_selector('#stream[data-stream="back"]', timeout=30_000)
    service.submit(name)  # after the restart: the page must hear of it live
    page.wait_for_selector(f'#workflows tr[data-workflow="{name}"]', timeout=TIMEOUT_MS)
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    started = time.monotonic()
    page.wait_for_selector(f'#workflows tr[data-workflow="{name}"][data-state="done"]',
                           timeout=TIMEOUT_MS)
    assert time.monotonic() - started < TIMEOUT_MS / 1000
    # the list with what this module's tests left in it: done, rolled back...
    page.screenshot(path=str(screenshots / "web-list.png"))
