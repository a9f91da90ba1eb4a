"""Stable key hashing and the splitting of a bundle over target instances.

Python's ``hash`` of ``str`` differs between processes, so keys are hashed with CRC-32 for
text and bytes, Python's (process-independent) hash for numbers, and the repr otherwise.
Keys should be str, bytes, numbers, None or tuples of those.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Sequence
from typing import Any

from sage_core.runtime.keyed import Keyed


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


#: Key types for which equal keys have equal stable hashes (1 == 1.0 == True included).
_PLAIN_KEYS = frozenset({str, int, float, bool, bytes, type(None)})


def spread(items: Sequence, parallelism: int, offset: int) -> list[tuple[int, Any]]:
    """Split ``items`` into contiguous chunks over ``parallelism`` targets, starting at ``offset``."""
    if parallelism == 1 or len(items) <= 1:
        return [(offset % parallelism, items)]
    size = -(-len(items) // parallelism)
    return [
        ((offset + i) % parallelism, items[start : start + size])
        for i, start in enumerate(range(0, len(items), size))
    ]


def by_key(bundle: Keyed, parallelism: int, field: str | None = None) -> list[tuple[int, Keyed]]:
    """Group a keyed bundle by the instance that owns each key, keeping order.

    With ``field`` (a ``keyby("field")``), a record that is an Arrow batch holds many keys:
    it is split by its column ``field`` into one sub-batch (key None) per owner.

    >>> [(target, part.records) for target, part in by_key(Keyed(["ann", "bob", "ann"], [1, 2, 3]), 2)]
    [(0, [2]), (1, [1, 3])]
    """
    if parallelism == 1:
        return [(0, bundle)]
    keys, records = bundle.keys, bundle.records
    batch = batch_type() if field is not None else None
    if batch is not None and batch in map(type, records):
        return _by_key_with_batches(bundle, parallelism, field, batch)  # type: ignore[arg-type]
    if set(map(type, keys)) <= _PLAIN_KEYS:  # equal keys hash alike: hash each distinct key once
        owner_of = {key: stable_hash(key) % parallelism for key in set(keys)}
        owners = list(map(owner_of.__getitem__, keys))
    else:  # tuples, NumPy scalars, ...: 5 == numpy.int64(5), but their stable hashes differ
        owners = [stable_hash(key) % parallelism for key in keys]
    out = []
    for target in range(parallelism):
        part = bundle.compress(map(target.__eq__, owners))
        if part:
            out.append((target, part))
    return out


def _by_key_with_batches(bundle: Keyed, parallelism: int, field: str, batch: type) -> list[tuple[int, Keyed]]:
    from sage_core.columnar.arrow import split_by_key

    buckets = [Keyed([], []) for _ in range(parallelism)]
    for key, record in bundle:
        if type(record) is batch:
            for target, part in split_by_key(record, field, parallelism):
                buckets[target].keys.append(None)
                buckets[target].records.append(part)
        else:
            target = stable_hash(key) % parallelism
            buckets[target].keys.append(key)
            buckets[target].records.append(record)
    return [(i, b) for i, b in enumerate(buckets) if b]


def batch_type() -> type | None:
    """``pyarrow.RecordBatch`` if pyarrow is imported in this process (else no record can be one)."""
    pa = sys.modules.get("pyarrow")
    return None if pa is None else pa.RecordBatch
