"""XML templates for CIB content haflow writes: bootstrap properties, fencing, alerts."""

from __future__ import annotations

from importlib.resources import files
from string import Template


def render(name: str, **values: str) -> str:
    """The template ``name`` (e.g. ``lab-bootstrap.xml``) with ``$placeholders`` filled in."""
    text = files(__name__).joinpath(name).read_text(encoding="utf-8")
    return Template(text).substitute(values)
