"""Typed agent parameters: declared once, parsed from ``OCF_RESKEY_*``, validated all at once.

Plain classes, no dataclasses or typing at run time: this is on every
monitor's path.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

STRING = "string"
INTEGER = "integer"
BOOLEAN = "boolean"
SELECT = "select"
TYPES = (STRING, INTEGER, BOOLEAN, SELECT)

TRUE_WORDS = ("1", "true", "yes", "on", "y")
FALSE_WORDS = ("0", "false", "no", "off", "n", "")

Value = str | int | bool


class Param:
    """One agent parameter, as OCF 1.1 meta-data describes it.

    ``choices`` on a STRING parameter are enforced like a SELECT's but
    advertised as a string (listed in the long description): OCF 1.0's DTD,
    which ocf-tester checks against, has no select.
    """

    __slots__ = ("choices", "default", "deprecated", "longdesc", "name", "reloadable",
                 "replaced_with", "required", "shortdesc", "type", "unique_group")

    def __init__(self, name: str, type: str = STRING, *, shortdesc: str, longdesc: str = "",
                 required: bool = False, default: Value | None = None,
                 unique_group: str | None = None, reloadable: bool = False,
                 deprecated: bool = False, replaced_with: str | None = None,
                 choices: tuple[str, ...] = ()) -> None:
        if type not in TYPES:
            raise ValueError(f"parameter {name}: unknown type {type!r}")
        if type == SELECT and not choices:
            raise ValueError(f"parameter {name}: a select needs choices")
        if choices and type not in (SELECT, STRING):
            raise ValueError(f"parameter {name}: only strings and selects have choices")
        self.name = name
        self.type = type
        self.shortdesc = shortdesc
        self.longdesc = longdesc or shortdesc
        if choices and type == STRING:
            self.longdesc += f" One of: {', '.join(choices)}."
        self.required = required
        self.default = default
        self.unique_group = unique_group
        self.reloadable = reloadable
        self.deprecated = deprecated
        self.replaced_with = replaced_with
        self.choices = choices

    def convert(self, raw: str) -> Value:
        """The typed value of ``raw``; ValueError saying what was expected."""
        if self.type == INTEGER:
            try:
                return int(raw.strip())
            except ValueError:
                raise ValueError(f"expected an integer, got {raw!r}") from None
        if self.type == BOOLEAN:
            word = raw.strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
            raise ValueError(f"expected a boolean (true/false), got {raw!r}")
        if self.choices and raw not in self.choices:
            raise ValueError(f"expected one of {', '.join(self.choices)}, got {raw!r}")
        return raw


def parse(declared: tuple[Param, ...],
          raw: Mapping[str, str]) -> tuple[dict[str, Value], list[str]]:
    """Typed values for every declared parameter, and every problem found (not only the first).

    ``raw`` maps parameter names to their strings (``OCF_RESKEY_`` prefix
    already removed). Unknown names are not errors here: Pacemaker passes its
    own ``CRM_meta_*`` keys in the same namespace, and pcs refuses unknown
    parameters before they reach an agent.
    """
    values: dict[str, Value] = {}
    problems: list[str] = []
    for param in declared:
        text = raw.get(param.name)
        if text is None or (text == "" and param.type != STRING):
            if param.required:
                problems.append(f"parameter '{param.name}' is required ({param.shortdesc})")
                continue
            if param.default is not None:
                values[param.name] = param.default
            continue
        try:
            values[param.name] = param.convert(text)
        except ValueError as exc:
            problems.append(f"parameter '{param.name}': {exc}")
    return values, problems
