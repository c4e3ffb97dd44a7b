"""YAML text -> plain data plus the line and column of every key and value.

We compose the node graph ourselves (instead of letting ruamel build dicts)
so that duplicate keys become reports, with both places, not an exception
about the first one, and so that every value keeps its location for the
schema and semantic checks that follow.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver

from haflow.coordinator.codes import Code
from haflow.coordinator.reports import Report
from haflow.coordinator.workflow.model import NOT_XML, Loc

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
# a workflow nests ~6 levels; ruamel composes (and we build) recursively, and
# 100,000 levels crash the interpreter outright, so deeper input is refused first
MAX_DEPTH = 100
# 5,000 steps are ~0.5 MB; this bounds memory on a giant scalar or a runaway file
MAX_CHARS = 32 * 1024 * 1024
# above this, the one-pass build is skipped: a text this large may hold more than
# MAX_VALUES values, found only after building them (5,000 steps are ~0.5 MB)
FAST_PATH_MAX_CHARS = 2 * 1024 * 1024
_STR = "tag:yaml.org,2002:str"
_TAG = "tag:yaml.org,2002:"
# what a plain value may be tagged (implicitly or with !!TAG): data, never objects
_SCALAR_TAGS = {f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null")}
_MAP, _SEQ = f"{_TAG}map", f"{_TAG}seq"
# NEL, LS, PS: line breaks to libyaml (YAML 1.1), so `"\x85"` in a quoted value read
# as a space (folded) while the writer, JSON and YAML 1.2 meant the character
_OTHER_BREAKS = re.compile("[\x85\u2028\u2029]")


class _TooMany(Exception):
    def __init__(self, filename: str, mark: Any) -> None:
        super().__init__("too many values")
        self.report = _too_many(filename, mark)


def _too_many(filename: str, mark: Any) -> Report:
    return Report(Code.YAML_TOO_LARGE, f"more than {MAX_VALUES:,} values", file=filename,
                  line=mark.line + 1, column=mark.column + 1)


class _TooLarge(Exception):
    def __init__(self, node: Node, what: str) -> None:
        super().__init__(what)
        self.node = node
        self.what = what


_MERGE = "tag:yaml.org,2002:merge"
_UNSET = object()


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
        # the text itself is at most MAX_CHARS: only aliases can go past it, and one
        # 1 MB scalar aliased 6,000 times made a 6 GB CIB (MemoryError at compile)
        self.chars = MAX_CHARS
        # collections being built (ids): an alias back into one of them is a loop
        self.open: set[int] = set()
        # typed plain scalars already constructed, by tag and text (build_plain)
        self.constructed: dict[tuple[str, str], Any] = {}

    def build(self, node: Node, path: Path) -> Any:
        self.budget -= 1
        if self.budget < 0:
            # aliases can expand exponentially ("billion laughs"): stop, do not hang
            raise _TooLarge(node, f"more than {MAX_VALUES:,} values")
        self.source.values[path] = _loc(node)
        if isinstance(node, (MappingNode, SequenceNode)):
            if id(node) in self.open:
                # `&a [*a]` composes to a cyclic graph: building it would never end
                self.reports.append(
                    self._report(
                        Code.YAML_ALIAS_LOOP, "an alias refers to a value holding it", node
                    )
                )
                return None
            self._check_tag(node)
            self.open.add(id(node))
            try:
                if isinstance(node, MappingNode):
                    return self._mapping(node, path)
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            finally:
                self.open.discard(id(node))
        assert isinstance(node, ScalarNode)
        self._spend(node)
        if node.style in ("'", '"'):
            self.source.quoted.add(path)
        return self._scalar(node)

    def _spend(self, node: ScalarNode) -> None:
        self.chars -= len(node.value)
        if self.chars < 0:
            raise _TooLarge(node, f"more than {MAX_CHARS // 2**20} MiB of text")

    def _scalar(self, node: ScalarNode) -> Any:
        tag = _tag(node)
        if tag in (_STR, "!"):
            self._check_chars(node)
            return node.value  # most scalars: skip the constructor's machinery
        if tag.startswith("tag:yaml.org,2002:timestamp"):
            return str(node.value)  # a date is not a thing workflows have: keep the text
        if tag not in _SCALAR_TAGS:
            # !!python/object, !!binary, !custom: workflows hold plain data only
            self.reports.append(
                self._report(
                    Code.YAML_TAG, f"unsupported YAML tag '{tag}'", node, details={"tag": tag}
                )
            )
            return node.value
        try:
            return self.yaml.constructor.construct_object(node, deep=True)
        except (YAMLError, ValueError, LookupError, TypeError, ArithmeticError):
            # an explicit tag on text that is not of that type (`!!int abc`, `!!int `), or
            # an integer longer than Python converts (4,300 digits)
            shown = node.value if len(node.value) <= 40 else node.value[:40] + "..."
            self.reports.append(
                self._report(
                    Code.YAML_VALUE,
                    f"'{shown}' cannot be read as '{tag.removeprefix(_TAG)}'",
                    node,
                    details={"tag": tag},
                )
            )
            return node.value

    def _check_tag(self, node: Node) -> None:
        tag = _tag(node)
        if tag != (_MAP if isinstance(node, MappingNode) else _SEQ):
            self.reports.append(
                self._report(
                    Code.YAML_TAG, f"unsupported YAML tag '{tag}'", node, details={"tag": tag}
                )
            )

    def _check_chars(self, node: ScalarNode) -> None:
        bad = NOT_XML.search(node.value)
        if bad:
            # "\0" and other escapes: the CIB is XML, which cannot hold these characters
            char = f"U+{ord(bad.group()):04X}"
            self.reports.append(
                self._report(
                    Code.BAD_CHARACTER,
                    f"character {char} cannot be stored in the CIB (XML)",
                    node,
                    details={"character": char},
                )
            )

    def _merged(self, node: MappingNode, path: Path) -> dict[Any, Any]:
        """What ``<<: *defaults`` brings in (earlier mappings win), for step templates."""
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not (isinstance(key_node, ScalarNode) and _tag(key_node) == _MERGE):
                continue
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, MappingNode):
                    # a list item is pointed at itself: two bad items, two places
                    self.reports.append(
                        self._report(
                            Code.YAML_MERGE,
                            "'<<' takes a mapping or a list of mappings",
                            source if source is not value_node else key_node,
                        )
                    )
                    continue
                if id(source) in self.open:
                    # `&a {<<: *a}`: a mapping merging itself (or one holding it)
                    self.reports.append(
                        self._report(
                            Code.YAML_ALIAS_LOOP, "'<<' merges a mapping into itself", key_node
                        )
                    )
                    continue
                self.open.add(id(source))
                try:
                    merged = self._mapping(source, path)
                finally:
                    self.open.discard(id(source))
                for key, value in merged.items():
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
                    self._report(Code.YAML_KEY, "a key must be a plain scalar", key_node)
                )
                continue
            self._spend(key_node)
            if _tag(key_node) == _STR:
                self._check_chars(key_node)
                key = key_node.value
            else:
                constructed = self._scalar(key_node)
                key = str(constructed)
                if not isinstance(constructed, str):
                    # `true:` or `~:` would silently become a step or parameter `True`/`None`
                    self.reports.append(
                        self._report(
                            Code.YAML_KEY,
                            f"key {key_node.value!r} is read as {type(constructed).__name__}, "
                            "not text: quote it",
                            key_node,
                        )
                    )
            if key in explicit:
                first = self.source.keys[(*path, key)]
                self.reports.append(
                    self._report(
                        Code.DUPLICATE_KEY,
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

    def build_plain(self, text: str, events: Iterable[Any]) -> bool:
        """Build the document straight from the parser's events, in one pass, when it
        is plain: one document of mappings, lists and untagged scalars, with text
        keys, no anchor, alias, merge, duplicate key or %YAML directive, within the
        size limits. Returns False, having built nothing usable, for anything else:
        the full path (a shape pass, ruamel's composer, build) then handles it.

        Same data, locations and reports as the full path (a test compares them on
        every corpus file); the full path composed ~20,000 nodes for 500 steps and
        walked the events twice, 3x the time of this pass.
        """
        implicit = _implicit_types(self.yaml)
        values = self.source.values
        # a character XML cannot hold can only come from the text itself or from an
        # escape in double quotes: without it in the text, only those need a look
        raw_clean = NOT_XML.search(text) is None
        # stack entries: [container, path, key awaiting its value, that value's path]
        stack: list[list[Any]] = []
        count = 0
        done = False
        for event in events:
            kind = type(event)
            if kind is ScalarEvent or kind is MappingStartEvent or kind is SequenceStartEvent:
                if event.anchor is not None or event.tag is not None or done:
                    return False
                if len(stack) >= MAX_DEPTH:
                    return False
                mark = event.start_mark
                count += 1
                if count > MAX_VALUES:
                    # the full path's shape pass stops at this very event, with this
                    # report: say it here, not after reading it all a second time
                    raise _TooMany(self.source.filename, mark)
                top = stack[-1] if stack else None
                if top is not None and type(top[0]) is dict and top[2] is None:
                    if kind is not ScalarEvent:
                        return False  # a key that is a collection
                    key = event.value
                    if event.implicit[0] and implicit(key) != _STR:
                        return False  # `true:`, `1:`, `<<:`
                    if key in top[0]:
                        return False  # a duplicate key
                    if (not raw_clean or event.style == '"') and NOT_XML.search(key):
                        self._check_chars(event)
                    top[2] = key
                    top[3] = (*top[1], key)
                    self.source.keys[top[3]] = Loc(mark.line + 1, mark.column + 1)
                    continue
                path = () if top is None else (
                    top[3] if type(top[0]) is dict else (*top[1], len(top[0])))
                values[path] = Loc(mark.line + 1, mark.column + 1)
                if kind is ScalarEvent:
                    value = self._plain_scalar(event, path, implicit, raw_clean)
                else:
                    value = {} if kind is MappingStartEvent else []
                if top is None:
                    self.source.data = value
                elif type(top[0]) is dict:
                    top[0][top[2]] = value
                    top[2] = None
                else:
                    top[0].append(value)
                if kind is not ScalarEvent:
                    stack.append([value, path, None, None])
                elif top is None:
                    done = True
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                stack.pop()
                done = not stack
            elif kind is DocumentStartEvent:
                if done or getattr(event, "version", None) is not None:
                    return False
            elif kind not in (StreamStartEvent, DocumentEndEvent, StreamEndEvent):
                return False  # an alias
        return done and self.source.data is not None

    def _plain_scalar(self, event: Any, path: Path, implicit: Callable[[str], str],
                      raw_clean: bool) -> Any:
        if event.style in ("'", '"'):
            self.source.quoted.add(path)
        tag = implicit(event.value) if event.implicit[0] else _STR
        if tag == _STR:
            if (not raw_clean or event.style == '"') and NOT_XML.search(event.value):
                self._check_chars(event)
            return event.value
        known = self.constructed.get((tag, event.value), _UNSET)
        if known is not _UNSET:
            return known
        node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
        before = len(self.reports)
        value = self._scalar(node)
        if len(self.reports) == before:
            # ruamel's constructor is ~5 us a call: 400,000 values of `1` took 5 s
            self.constructed[(tag, event.value)] = value  # immutable: int, float, bool...
        return value

    def _report(self, code: Code, message: str, node: Node, **extra: Any) -> Report:
        where = _loc(node)
        return Report(
            code=code,
            message=message,
            file=self.source.filename,
            line=where.line,
            column=where.column,
            **extra,
        )


def _implicit_types(yaml: YAML) -> Callable[[str], str]:
    """The tag YAML 1.2 gives a plain scalar (what ruamel's resolver decides), with
    its rules looked up once: by first character, as the resolver keeps them."""
    rules = yaml.resolver.versioned_resolver
    anywhere = [(str(tag), regexp.match) for tag, regexp in rules.get(None, [])]
    table = {first: [(str(tag), regexp.match) for tag, regexp in found] + anywhere
             for first, found in rules.items() if first is not None}

    def tag_of(value: str) -> str:
        for tag, match in table.get(value[:1], anywhere):
            if match(value):
                return tag
        return _STR

    return tag_of


class _Yaml12Resolver(VersionedResolver):
    """YAML 1.2's implicit types, without asking the loader per scalar which version
    it reads: ruamel's lookup raises and catches two AttributeErrors each time, 40%
    of composing a workflow. Other versions are refused before composing (_shape)."""

    @property
    def processing_version(self) -> tuple[int, int]:
        return (1, 2)


def _yaml() -> YAML:
    # the C parser (ruamel.yaml.clib) when installed: 5,000 steps parse 10x faster
    yaml = YAML(typ="safe")
    yaml.Resolver = _Yaml12Resolver
    return yaml


def parse(text: str, filename: str, fast: bool = True) -> tuple[Source, list[Report]]:
    """The document in ``text`` and every problem found at the YAML level.

    ``fast=False`` skips the one-pass build of plain documents (for the test that
    it agrees with the full path)."""
    odd = _OTHER_BREAKS.search(text)
    if odd:
        message = (
            f"character U+{ord(odd.group()):04X} is a line break to this YAML parser (not "
            "to JSON or YAML 1.2, nor to most editors): it would silently change values and "
            "line numbers; write it escaped in double quotes (\\N, \\L, \\P) or remove it"
        )
        return _failed(Report(Code.BAD_CHARACTER, message, file=filename), text, odd.start())
    yaml = _yaml()
    if fast and len(text) <= FAST_PATH_MAX_CHARS:
        plain = _Builder(yaml, filename)
        try:
            if plain.build_plain(text, yaml.parse(text)):
                return plain.source, plain.reports
        except _TooMany as err:
            return Source(None, filename), [err.report]
        except (YAMLError, UnicodeError):
            pass  # the full path reports it, with its place
    return _parse_fully(yaml, text, filename)


def _parse_fully(yaml: YAML, text: str, filename: str) -> tuple[Source, list[Report]]:
    """Any document: bounds checked first (_shape), composed, then built."""
    try:
        too_big = _shape(yaml, text, filename)
        if too_big:
            return Source(None, filename), [too_big]
        root = yaml.compose(text)
    except ReaderError as err:
        # a raw control character (NUL, ESC...) or a non-character in the text. The C
        # reader counts UTF-8 bytes, not characters: the first occurrence of the
        # character is where it stopped (it stops at the first one it cannot take)
        if isinstance(err.character, int):
            message = f"character U+{err.character:04X} is not allowed in YAML text"
            found = text.find(chr(err.character))
        else:
            message, found = f"invalid YAML text: {err.reason}", -1
        report = Report(Code.BAD_CHARACTER, message, file=filename)
        return _failed(report, text, found if found >= 0 else err.position)
    except UnicodeEncodeError as err:
        # a lone surrogate (text decoded with surrogateescape/surrogatepass)
        message = f"character U+{ord(text[err.start]):04X} is not valid Unicode text"
        return _failed(Report(Code.BAD_CHARACTER, message, file=filename), text, err.start)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "invalid YAML"
        report = Report(Code.YAML_SYNTAX, f"invalid YAML: {problem}", file=filename)
        if mark:
            report = replace(report, line=mark.line + 1, column=mark.column + 1)
        return Source(None, filename), [report]
    if root is None:
        return Source(None, filename), [
            Report(Code.EMPTY, "the file holds no workflow", file=filename, line=1, column=1)
        ]
    builder = _Builder(yaml, filename)
    try:
        builder.source.data = builder.build(root, ())
    except _TooLarge as err:
        report = builder._report(
            Code.YAML_TOO_LARGE,
            f"{err.what} once aliases are expanded",
            err.node,
        )
        return Source(None, filename), [report]
    if builder.source.data is None and not builder.reports:
        # `--- ~` or `null`: a document, but nothing in it
        return Source(None, filename), [
            Report(Code.EMPTY, "the file holds no workflow", file=filename, line=1, column=1)
        ]
    return builder.source, builder.reports


def _failed(report: Report, text: str, position: int) -> tuple[Source, list[Report]]:
    """No document, one report placed at character ``position`` of ``text``."""
    line, column = _line_col(text, position)
    return Source(None, str(report.file)), [replace(report, line=line, column=column)]


def _line_col(text: str, position: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, position) + 1
    return text.count("\n", 0, position) + 1, position - line_start + 1


def _shape(yaml: YAML, text: str, filename: str) -> Report | None:
    """A ``yaml-too-large`` report when the text is too big, holds too many values or
    nests too deeply to compose safely; None when it is fine.

    One pass over the parser's events (no recursion, stops at the first excess):
    ruamel's composer recurses per level and its scanner slows quadratically with
    flow nesting, so both must be bounded before composing.
    """

    def report(message: str, line: int, column: int) -> Report:
        return Report(Code.YAML_TOO_LARGE, message, file=filename, line=line, column=column)

    if len(text) > MAX_CHARS:
        return report(f"the file is larger than {MAX_CHARS // 2**20} MiB", 1, 1)
    depth = 0
    values = 0
    for event in yaml.parse(text):
        version = getattr(event, "version", None) if isinstance(event, DocumentStartEvent) else None
        if version and tuple(version) != (1, 2):
            # the C parser reads every document as 1.2, the pure one honours 1.1: `yes`,
            # `no`, `010` would mean true, false, 8 or not, depending on the machine
            mark = event.start_mark
            return Report(
                Code.YAML_VERSION,
                f"haflow reads YAML 1.2, not {'.'.join(map(str, version))}: remove the %YAML "
                "directive (in 1.1, yes/no/on/off are booleans and 010 is 8)",
                file=filename,
                line=mark.line + 1,
                column=mark.column + 1,
            )
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                return report(
                    f"values nest more than {MAX_DEPTH} levels deep", mark.line + 1, mark.column + 1
                )
        elif isinstance(event, CollectionEndEvent):
            depth -= 1
        if isinstance(event, NodeEvent) and not isinstance(event, AliasEvent):
            values += 1
            if values > MAX_VALUES:
                mark = event.start_mark
                return _too_many(filename, mark)
    return None
