"""agents/xmltext: saxutils' escaping without saxutils' imports."""

from __future__ import annotations

import subprocess
import sys
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haflow.agents import xmltext

pytestmark = pytest.mark.tier0


@given(st.text(alphabet=st.sampled_from("ab&<>\"'\n\r\t ]é")))
def test_same_text_as_saxutils(text: str) -> None:
    assert xmltext.escape(text) == escape(text)
    assert xmltext.quoteattr(text) == quoteattr(text)


def test_the_alert_agent_and_cib_access_import_no_http_stack() -> None:
    """saxutils imports urllib.request, http.client, email and ssl: 36 ms per alert."""
    code = ("import sys, haflow.agents.alert.agent, haflow.agents.cibio, "
            "haflow.agents.ocf_metadata; print(sorted(m for m in ('urllib.request', "
            "'http.client', 'email', 'ssl') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
