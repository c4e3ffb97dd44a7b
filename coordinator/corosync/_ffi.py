"""Loads the compiled cffi module, or explains why it is not there."""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from haflow.coordinator.corosync.errors import CorosyncUnavailable


@cache
def load() -> tuple[Any, Any]:
    """``(ffi, lib)`` of the compiled extension (untyped: cffi generates it)."""
    try:
        module = importlib.import_module("haflow.coordinator.corosync._corosync_cffi")
    except ImportError as exc:
        # built without the headers (no module), or the runtime libraries are gone
        raise CorosyncUnavailable(str(exc)) from exc
    return module.ffi, module.lib


def available() -> bool:
    try:
        load()
    except CorosyncUnavailable:
        return False
    return True
