"""The web view in Debian's Firefox ESR (over WebDriver BiDi: tests/web/bidi.py) against a
real ``haflow serve`` on the 1-node lab: sign-in, a workflow followed live to done."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.web.bidi import FIREFOX, Firefox
from tests.web.conftest import Service

pytestmark = pytest.mark.tier1


def test_firefox_signs_in_and_follows_a_workflow_live_to_done(service: Service,
                                                              tmp_path: Path) -> None:
    if not shutil.which(FIREFOX):
        pytest.fail("Debian's firefox-esr is missing: run the README's test command")
    firefox = Firefox(tmp_path / "firefox-profile")
    try:
        firefox.navigate(service.url + "/")
        firefox.evaluate(
            f"(document.getElementById('token').value = {json.dumps(service.tokens['operator'])},"
            " document.getElementById('signin-button').click(), true)")
        firefox.wait_for("document.getElementById('who')?.textContent.includes('(operator)')")
        firefox.evaluate("window.__sameDocument = true")
        name = f"webff{os.getpid() % 10000}"
        service.submit(name)
        # the list learns of it from the event stream: no reload
        link = f"document.querySelector('#workflows tr[data-workflow=\"{name}\"] a')"
        firefox.wait_for(f"!!{link}")
        firefox.evaluate(f"({link}.click(), true)")
        firefox.wait_for("(() => { const els = [...document.querySelectorAll('.step[data-step]')];"
                         " return els.length === 3 && els.every(e => e.dataset.state === 'done'"
                         " && e.getBoundingClientRect().width > 0); })()")
        assert firefox.evaluate("window.__sameDocument") is True, "the page was reloaded"
        assert service.state(name)["state"] == "done"
        assert firefox.errors == []
    finally:
        firefox.close()
