"""YAML text -> plain data plus the line and column of every key and value.

We compose the node graph ourselves (instead of letting ruamel build dicts)
so that duplicate keys become reports, with both places, not an exception
about the first one, and so that every value keeps its location for the
schema and semantic checks that follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from haflow.coordinator.reports import Report
from haflow.coordinator.workflow.model import Loc

Path = tuple[str | int, ...]


@dataclass
class Source:
    """Parsed YAML: ``data`` and, per path (``("steps", "a", "after", 0)``), where it is."""

    data: Any
    filename: str
    values: dict[Path, Loc] = field(default_factory=dict)
    keys: dict[Path, Loc] = field(default_factory=dict)
    # scalars written in quotes: their text starts one column after the location
    quoted: set[Path] = field(default_factory=set)

    def value_loc(self, path: Path) -> Loc:
        """Where the value at ``path`` is, or its nearest enclosing value."""
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.values:
                return self.values[path[:cut]]
        return Loc(1, 1)

    def key_loc(self, path: Path) -> Loc:
        """Where the key naming ``path`` is (falls back to the value's location)."""
        return self.keys.get(path) or self.value_loc(path)


# far above any real workflow (5,000 steps are ~50,000 values); aliases can expand
# a small file exponentially ("billion laughs")
MAX_VALUES = 400_000
_STR = "tag:yaml.org,2002:str"


class _TooLarge(Exception):
    def __init__(self, node: Node) -> None:
        super().__init__("too many values")
        self.node = node


_MERGE = "tag:yaml.org,2002:merge"


def _loc(node: Node) -> Loc:
    return Loc(node.start_mark.line + 1, node.start_mark.column + 1)


def _tag(node: Node) -> str:
    tag = node.tag
    return str(getattr(tag, "value", tag))


class _Builder:
    def __init__(self, yaml: YAML, filename: str) -> None:
        self.yaml = yaml
        self.source = Source(data=None, filename=filename)
        self.reports: list[Report] = []
        self.budget = MAX_VALUES

    def build(self, node: Node, path: Path) -> Any:
        self.budget -= 1
        if self.budget < 0:
            # aliases can expand exponentially ("billion laughs"): stop, do not hang
            raise _TooLarge(node)
        self.source.values[path] = _loc(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        if node.style in ("'", '"'):
            self.source.quoted.add(path)
        tag = _tag(node)
        if tag == _STR:
            return node.value  # most scalars: skip the constructor's machinery
        if tag.startswith("tag:yaml.org,2002:timestamp"):
            return str(node.value)  # a date is not a thing workflows have: keep the text
        return self.yaml.constructor.construct_object(node, deep=True)

    def _merged(self, node: MappingNode, path: Path) -> dict[Any, Any]:
        """What ``<<: *defaults`` brings in (earlier mappings win), for step templates."""
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not (isinstance(key_node, ScalarNode) and _tag(key_node) == _MERGE):
                continue
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, MappingNode):
                    self.reports.append(
                        self._report(
                            "yaml-merge", "'<<' takes a mapping or a list of mappings", key_node
                        )
                    )
                    continue
                for key, value in self._mapping(source, path).items():
                    result.setdefault(key, value)
        return result

    def _mapping(self, node: MappingNode, path: Path) -> dict[Any, Any]:
        result: dict[Any, Any] = self._merged(node, path)
        explicit: set[Any] = set()
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and _tag(key_node) == _MERGE:
                continue
            if not isinstance(key_node, ScalarNode):
                self.reports.append(
                    self._report("yaml-key", "a key must be a plain scalar", key_node)
                )
                continue
            if _tag(key_node) == _STR:
                key = key_node.value
            else:
                key = str(self.yaml.constructor.construct_object(key_node, deep=True))
            if key in explicit:
                first = self.source.keys[(*path, key)]
                self.reports.append(
                    self._report(
                        "duplicate-key",
                        f"duplicate key '{key}' (first defined at line {first.line})",
                        key_node,
                        details={"key": key, "first": str(first)},
                    )
                )
                continue
            explicit.add(key)
            self.source.keys[(*path, key)] = _loc(key_node)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _report(self, code: str, message: str, node: Node, **extra: Any) -> Report:
        where = _loc(node)
        return Report(
            code=code,
            message=message,
            file=self.source.filename,
            line=where.line,
            column=where.column,
            **extra,
        )


def parse(text: str, filename: str) -> tuple[Source, list[Report]]:
    """The document in ``text`` and every problem found at the YAML level."""
    # the C parser (ruamel.yaml.clib) when installed: 5,000 steps parse 10x faster
    yaml = YAML(typ="safe")
    try:
        root = yaml.compose(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = err.problem or err.context or "invalid YAML"
        report = Report(
            "yaml-syntax", f"invalid YAML: {problem}", file=filename, line=line, column=column
        )
        return Source(None, filename), [report]
    if root is None:
        return Source(None, filename), [
            Report("empty", "the file holds no workflow", file=filename, line=1, column=1)
        ]
    builder = _Builder(yaml, filename)
    try:
        builder.source.data = builder.build(root, ())
    except _TooLarge as err:
        report = builder._report(
            "yaml-too-large",
            f"more than {MAX_VALUES:,} values once aliases are expanded",
            err.node,
        )
        return Source(None, filename), [report]
    return builder.source, builder.reports
