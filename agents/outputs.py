"""Step outputs: stored in the CIB, referenced by later steps as ``${steps.STEP.KEY}``.

Stdlib only. A step's outputs are live state under the CIB's ``<status>`` element,
with a durable copy in meta attributes of its primitive (haflow.encoding: live.py,
read.step_outputs), so they are replicated to every node and outlive the node
that made them. A parameter value may
reference an output of a step it depends on; the compiler checks the reference
and leaves the text as is, the agent resolves it when its action runs. ``$${`` is a literal ``${``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

KEY_PATTERN = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
KEY_RE = re.compile(KEY_PATTERN)  # use fullmatch: "$" would let "key\n" through
# "$${" (an escaped "${"), or ${steps.STEP.KEY} with groups 1: step, 2: key
TOKEN_RE = re.compile(r"\$\$\{|\$\{steps\.([A-Za-z][A-Za-z0-9_-]*)\.(" + KEY_PATTERN + r")\}")
# anything that looks like a reference but does not parse, for the validator's message
LOOSE_REFERENCE_RE = re.compile(r"(?<!\$)\$\{[^}]*\}?")

MAX_OUTPUT_BYTES = 4096  # per value: outputs are small; the CIB is not a blob store


def references(value: str) -> Iterator[tuple[str, str, int]]:
    """(step, key, offset) for every unescaped reference in ``value``."""
    for match in TOKEN_RE.finditer(value):
        if match.group(1):
            yield match.group(1), match.group(2), match.start()


def resolve(value: str, lookup: Callable[[str, str], str | None]) -> str:
    """``value`` with references replaced by ``lookup(step, key)`` and ``$${`` by ``${``.

    Raises KeyError(step, key) when an output is missing (the step it comes
    from has not produced it).
    """

    def substitute(match: re.Match[str]) -> str:
        if not match.group(1):
            return "${"
        found = lookup(match.group(1), match.group(2))
        if found is None:
            raise KeyError((match.group(1), match.group(2)))
        return found

    return TOKEN_RE.sub(substitute, value)


def parse_output_lines(text: str) -> dict[str, str]:
    """Outputs a command wrote as ``KEY=VALUE`` lines (the exec agent's format).

    Blank lines and ``#`` comments are ignored; other lines that are not
    ``KEY=VALUE`` with a valid key raise ValueError naming the line.
    """
    result: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, val = stripped.partition("=")
        if not sep or not KEY_RE.fullmatch(key.strip()):
            raise ValueError(f"line {number}: expected KEY=VALUE, got {line[:60]!r}")
        result[key.strip()] = val
    return result
