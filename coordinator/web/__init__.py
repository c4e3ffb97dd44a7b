"""The web view served by ``haflow serve`` at ``/``: static files only (``static/``), which
use the service's API and event stream like any other client. The graph's layout comes
from the API (commands/graph.py: Graphviz on the server); nothing is fetched from the
internet at run time, and the page loads nothing but its own files (its CSP says so)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

STATIC_DIR = Path(__file__).parent / "static"
INDEX = STATIC_DIR / "index.html"
# the page's own scripts and the API only; inline styles place the graph's boxes
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
          "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
          "frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def mount(app: FastAPI) -> None:
    """``/`` (the page) and ``/ui/`` (its scripts and styles) on the API's app."""
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.responses import Response
    from starlette.types import Scope

    page = INDEX.read_text()

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page, headers=HEADERS)

    class Static(StaticFiles):
        async def get_response(self, path: str, scope: Scope) -> Response:
            response = await super().get_response(path, scope)
            response.headers.update(HEADERS)
            return response

    app.mount("/ui", Static(directory=STATIC_DIR), name="ui")
