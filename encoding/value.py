"""Attribute values the CIB keeps as they were given.

Pacemaker 2.1.5 writes XML with its own escaping, and every read of the CIB (the CIB
manager's replies, the copies it sends the controller and the scheduler) goes through
it. That escaping changes some values and breaks others (seen with ``cibadmin`` on a CIB
file; tests/encoding/test_value.py):
- a line break or carriage return becomes the two characters ``\\n`` or ``\\r``, a tab
  spaces, DEL ``\\177``: an ``exec`` command written as a YAML block would reach the
  agent changed, and ``\\n`` typed on purpose could not be told from a line break;
- after the first non-ASCII character it escapes nothing: ``é"`` or ``é<`` is written
  raw, which is not XML any more (or adds an attribute).
So such a value is kept as a JSON string in ASCII (quotes included, everything else
escaped), and so is any value that starts with a quote, so that reading back is never
ambiguous. Every other value is kept as it is, readable in crm_mon and pcs.

Only haflow's own agents read values this way (the agent framework, the step outputs):
a foreign agent's parameter cannot hold such a value (the validator says so). Stdlib
only, no ``re``: every agent action runs ``from_cib`` on its parameters.
"""

from __future__ import annotations

QUOTE = '"'
# what Pacemaker's writer leaves unescaped after a non-ASCII character and XML cannot hold
_MARKUP = '<&"'
_NAMES = {"\n": "a line break", "\t": "a tab", "\r": "a carriage return"}


def _control(c: str) -> bool:
    return c < " " or c == "\x7f"


def unkeepable(value: str) -> str | None:
    """What Pacemaker's writer would change or break in ``value``, in words; None when
    nothing."""
    if value.isascii() and value.isprintable():  # the common case, without a scan in Python
        return None
    char = next((c for c in value if _control(c)), None)
    if char is not None:
        return _NAMES.get(char, f"the control character U+{ord(char):04X}")
    first = next(i for i, c in enumerate(value) if c > "\x7f")
    markup = next((c for c in value[first:] if c in _MARKUP), None)
    if markup is None:
        return None
    return f"{markup!r} after the non-ASCII character {value[first]!r}"


def to_cib(value: str) -> str:
    """``value`` as it is stored: itself, or as a JSON string (ASCII) when Pacemaker would
    change it (or when it starts with a quote)."""
    if not value.startswith(QUOTE) and unkeepable(value) is None:
        return value
    import json

    return json.dumps(value)


def from_cib(value: str) -> str:
    """The value ``to_cib`` stored. A value haflow did not quote (an admin's own edit that
    starts with a quote but is no JSON string) is taken as it is."""
    if not value.startswith(QUOTE):
        return value
    import json

    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value
