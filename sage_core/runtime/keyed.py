"""Keyed bundles: the records of a keyed stream and their keys, as two parallel lists.

Inside a keyed stage, and on the wire between stages, a bundle is ``Keyed(keys, records)``:
keying, partitioning and windows hand whole lists over and never build or take apart a
``(key, record)`` tuple per record. A bundle still reads as a sequence of ``(key, record)``
pairs (iteration, indexing, ``len``), so an operator written against pairs works
unchanged, and :meth:`Keyed.of` turns the list of pairs such an operator returns back into
a bundle. This module must not hold operator or routing logic.

>>> bundle = Keyed(["a", "b"], [{"x": 1}, {"x": 2}])
>>> list(bundle)
[('a', {'x': 1}), ('b', {'x': 2})]
>>> (bundle + Keyed.of([("c", {"x": 3})])).keys
['a', 'b', 'c']
>>> bundle.compress([False, True]).records
[{'x': 2}]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import compress
from operator import itemgetter
from typing import Any, overload

_first, _second = itemgetter(0), itemgetter(1)


class Keyed(Sequence):
    """``keys[i]`` is the key of ``records[i]``; both lists have the same length."""

    __slots__ = ("keys", "records")

    def __init__(self, keys: list, records: list) -> None:
        self.keys = keys
        self.records = records

    @classmethod
    def of(cls, items: Iterable[tuple[Any, Any]]) -> Keyed:
        """``items`` itself if it is a bundle, else the bundle of its ``(key, record)`` pairs."""
        if type(items) is cls:
            return items  # type: ignore[return-value]
        pairs = items if isinstance(items, list) else list(items)
        return cls(list(map(_first, pairs)), list(map(_second, pairs)))

    def compress(self, selectors: Iterable[Any]) -> Keyed:
        """The pairs whose selector is true, in order."""
        selectors = list(selectors)
        return Keyed(list(compress(self.keys, selectors)), list(compress(self.records, selectors)))

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return zip(self.keys, self.records)

    @overload
    def __getitem__(self, index: int) -> tuple[Any, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Keyed: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return Keyed(self.keys[index], self.records[index])
        return (self.keys[index], self.records[index])

    def __add__(self, other: Iterable[tuple[Any, Any]]) -> Keyed:
        other = Keyed.of(other)
        return Keyed(self.keys + other.keys, self.records + other.records)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Keyed):
            return self.keys == other.keys and self.records == other.records
        return isinstance(other, list) and list(self) == other

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"Keyed({list(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Keyed, (self.keys, self.records))
