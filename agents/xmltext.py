"""XML text escaping for the agents, as ``xml.sax.saxutils`` does it.

``xml.sax.saxutils`` imports urllib.request, and with it http.client, email
and ssl: 36 ms on this machine, paid by every alert (one per resource event
on every node), every agent action that reads the CIB, and ``haflow status``.
"""

from __future__ import annotations


def escape(text: str) -> str:
    """``&``, ``<`` and ``>`` as entities (character data)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quoteattr(text: str) -> str:
    """``text`` as a quoted attribute value, exactly as ``saxutils.quoteattr``: single
    quotes when it holds ``"`` but no ``'`` (so the result is also an XPath literal
    whenever one exists)."""
    text = escape(text).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' in text:
        if "'" in text:
            return '"' + text.replace('"', "&quot;") + '"'
        return "'" + text + "'"
    return '"' + text + '"'
