"""Tagged binary encoding of Python keys and reduce-path values for operator snapshots.

Holds only encode/decode. Supported natively: None, bool, int, float, str, bytes, tuple,
list, frozenset, NumPy scalars and NumPy arrays. Any other object falls back to pickle (tag ``P``), so
restore snapshots only from storage you trust if your keys or values are such objects.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any

import numpy as np

_U32 = struct.Struct("<I")
_SEQ_TAGS: dict[type, bytes] = {tuple: b"t", list: b"l", frozenset: b"z"}
_SEQ_TYPES: dict[bytes, type] = {v: k for k, v in _SEQ_TAGS.items()}
_F64 = struct.Struct("<d")


def encode(obj: Any, out: bytearray) -> None:
    """Append the encoding of ``obj`` to ``out``."""
    if obj is None:
        out += b"N"
    elif obj is True:
        out += b"T"
    elif obj is False:
        out += b"F"
    elif type(obj) is int:
        raw = str(obj).encode()
        out += b"i" + _U32.pack(len(raw)) + raw
    elif type(obj) is float:
        out += b"f" + _F64.pack(obj)
    elif type(obj) is str:
        raw = obj.encode("utf-8", "surrogatepass")
        out += b"s" + _U32.pack(len(raw)) + raw
    elif type(obj) is bytes:
        out += b"b" + _U32.pack(len(obj)) + obj
    elif type(obj) in (tuple, list, frozenset):
        tag = _SEQ_TAGS[type(obj)]
        items = sorted(obj, key=repr) if type(obj) is frozenset else obj
        out += tag + _U32.pack(len(items))
        for item in items:
            encode(item, out)
    elif isinstance(obj, np.generic) and obj.dtype.kind in "biufc":
        dtype = obj.dtype.str.encode()
        raw = obj.tobytes()
        out += b"n" + _U32.pack(len(dtype)) + dtype + _U32.pack(len(raw)) + raw
    elif type(obj) is np.ndarray and obj.dtype.kind in "biufc":
        arr = np.ascontiguousarray(obj)
        dtype = arr.dtype.str.encode()
        out += b"a" + _U32.pack(len(dtype)) + dtype + _U32.pack(arr.ndim)
        for dim in arr.shape:
            out += _U32.pack(dim)
        raw = arr.tobytes()
        out += _U32.pack(len(raw)) + raw
    else:
        raw = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        out += b"P" + _U32.pack(len(raw)) + raw


def decode(data: bytes | memoryview, pos: int = 0) -> tuple[Any, int]:
    """Decode one object at ``pos``; returns ``(object, next position)``."""
    tag = bytes(data[pos : pos + 1])
    pos += 1
    if tag == b"N":
        return None, pos
    if tag == b"T":
        return True, pos
    if tag == b"F":
        return False, pos
    if tag == b"f":
        return _F64.unpack_from(data, pos)[0], pos + 8
    if tag in (b"i", b"s", b"b", b"P"):
        (n,) = _U32.unpack_from(data, pos)
        raw = bytes(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
        if tag == b"i":
            return int(raw), pos
        if tag == b"s":
            return raw.decode("utf-8", "surrogatepass"), pos
        if tag == b"b":
            return raw, pos
        return pickle.loads(raw), pos  # noqa: S301 - documented fallback
    if tag in (b"t", b"l", b"z"):
        (n,) = _U32.unpack_from(data, pos)
        pos += 4
        items = []
        for _ in range(n):
            item, pos = decode(data, pos)
            items.append(item)
        return _SEQ_TYPES[tag](items), pos
    if tag == b"n":
        (n,) = _U32.unpack_from(data, pos)
        dtype = np.dtype(bytes(data[pos + 4 : pos + 4 + n]).decode())
        pos += 4 + n
        (nbytes,) = _U32.unpack_from(data, pos)
        pos += 4
        return np.frombuffer(bytes(data[pos : pos + nbytes]), dtype=dtype)[0], pos + nbytes
    if tag == b"a":
        (n,) = _U32.unpack_from(data, pos)
        dtype = np.dtype(bytes(data[pos + 4 : pos + 4 + n]).decode())
        pos += 4 + n
        (ndim,) = _U32.unpack_from(data, pos)
        pos += 4
        shape = tuple(_U32.unpack_from(data, pos + 4 * i)[0] for i in range(ndim))
        pos += 4 * ndim
        (nbytes,) = _U32.unpack_from(data, pos)
        pos += 4
        arr = np.frombuffer(bytes(data[pos : pos + nbytes]), dtype=dtype).reshape(shape).copy()
        return arr, pos + nbytes
    msg = f"corrupt sage_flow operator snapshot: unknown value tag {bytes(tag)!r} at byte {pos - 1}"
    raise ValueError(msg)
