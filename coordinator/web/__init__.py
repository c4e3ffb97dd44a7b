"""The web view served by ``haflow serve`` at ``/``: static files only (``static/``), which
use the service's API and event stream like any other client. The graph's layout comes
from the API (commands/graph.py: Graphviz on the server); nothing is fetched from the
internet at run time."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
INDEX = STATIC_DIR / "index.html"
