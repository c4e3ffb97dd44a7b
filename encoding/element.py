"""The part of the ElementTree API the encoding uses: stdlib ``xml.etree`` and lxml both have it.

For type checking only (``typing`` costs milliseconds at import, on the agents'
path): modules import it under ``TYPE_CHECKING``. Every reader and writer of
the encoding takes and returns elements of the caller's library, so ``E``
below is an ``xml.etree.ElementTree.Element`` for the agents and an lxml
``_Element`` for the coordinator.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar, overload

E = TypeVar("E", bound="Element")
T = TypeVar("T")


class Element(Protocol):
    @property
    def tag(self) -> object: ...

    @overload
    def get(self, key: str, /) -> str | None: ...

    @overload
    def get(self, key: str, default: T, /) -> str | T: ...

    def set(self, key: str, value: str, /) -> None: ...

    # lxml's names and values may be bytes (its stubs say), ElementTree's are str
    def items(self) -> Iterable[tuple[str | bytes, str | bytes]]: ...

    def find(self: E, path: str, /) -> E | None: ...

    def findall(self: E, path: str, /) -> list[E]: ...

    def iter(self: E, tag: str, /) -> Iterator[E]: ...

    def makeelement(self: E, tag: str, attrib: dict[str, str], /) -> E: ...

    def append(self: E, element: E, /) -> None: ...

    def insert(self: E, index: int, element: E, /) -> None: ...

    def remove(self: E, element: E, /) -> None: ...

    def __iter__(self: E) -> Iterator[E]: ...

    def __len__(self) -> int: ...
