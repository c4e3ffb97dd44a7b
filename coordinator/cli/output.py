"""Render command results as text or JSON (the CLI's only printing helper)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from haflow.coordinator.reports import HaflowError

FORMATS = ("text", "json")


def emit(data: Any, fmt: str, text: Callable[[Any], str], out: TextIO | None = None) -> None:
    """Print ``data`` as JSON, or as the text that ``text(data)`` renders."""
    stream = out or sys.stdout
    if fmt == "json":
        json.dump(data, stream, indent=2, sort_keys=True, default=str)
        stream.write("\n")
    else:
        rendered = text(data)
        if rendered:
            stream.write(rendered if rendered.endswith("\n") else rendered + "\n")
    stream.flush()


def emit_error(err: HaflowError, fmt: str) -> None:
    """Errors go to stderr as text, or to stdout as JSON so scripts can parse them."""
    if fmt == "json":
        json.dump({"errors": [r.to_dict() for r in err.reports]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for report in err.reports:
            sys.stderr.write(f"haflow: {report}\n")
