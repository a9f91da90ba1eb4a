"""Stable key hashing and the splitting of a bundle over target instances.

Python's ``hash`` of ``str`` differs between processes, so keys are hashed with CRC-32 for
text and bytes, Python's (process-independent) hash for numbers, and the repr otherwise.
Keys should be str, bytes, numbers, None or tuples of those.
"""

from __future__ import annotations

import sys
import zlib
from typing import Any


def stable_hash(key: Any) -> int:
    """The same integer for the same key in every process.

    >>> stable_hash("user-1") == stable_hash("user-1")
    True
    """
    if isinstance(key, str):
        return zlib.crc32(key.encode("utf-8"))
    if isinstance(key, (int, float)):  # numeric hashes do not vary by process; bool is an int
        return hash(key) & 0xFFFFFFFF
    if key is None:  # hash(None) is an address before Python 3.12
        return 0
    if isinstance(key, (bytes, bytearray)):
        return zlib.crc32(key)
    if isinstance(key, tuple):
        h = 0x345678
        for part in key:
            h = (h * 1000003) ^ stable_hash(part)
        return h & 0xFFFFFFFF
    return zlib.crc32(repr(key).encode("utf-8"))


def spread(items: list, parallelism: int, offset: int) -> list[tuple[int, list]]:
    """Split ``items`` into contiguous chunks over ``parallelism`` targets, starting at ``offset``."""
    if parallelism == 1 or len(items) <= 1:
        return [(offset % parallelism, items)]
    size = -(-len(items) // parallelism)
    return [
        ((offset + i) % parallelism, items[start : start + size])
        for i, start in enumerate(range(0, len(items), size))
    ]


def by_key(pairs: list[tuple[Any, Any]], parallelism: int, field: str | None = None) -> list[tuple[int, list]]:
    """Group ``(key, record)`` pairs by the instance that owns each key, keeping order.

    With ``field`` (a ``keyby("field")``), a record that is an Arrow batch holds many keys:
    it is split by its column ``field`` into one ``(None, sub-batch)`` pair per owner.
    """
    if parallelism == 1:
        return [(0, pairs)]
    buckets: list[list] = [[] for _ in range(parallelism)]
    batch = batch_type() if field is not None else None
    for pair in pairs:
        if batch is not None and type(pair[1]) is batch:
            from sage_core.columnar.arrow import split_by_key

            for target, part in split_by_key(pair[1], field, parallelism):  # type: ignore[arg-type]
                buckets[target].append((None, part))
        else:
            buckets[stable_hash(pair[0]) % parallelism].append(pair)
    return [(i, b) for i, b in enumerate(buckets) if b]


def batch_type() -> type | None:
    """``pyarrow.RecordBatch`` if pyarrow is imported in this process (else no record can be one)."""
    pa = sys.modules.get("pyarrow")
    return None if pa is None else pa.RecordBatch
