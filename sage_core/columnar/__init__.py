"""The room for Arrow support in the core: columnar streams, whose records are
``pyarrow.RecordBatch`` objects (one record is one batch).

It holds the Arrow-facing pieces of ``sage_core``: ``files`` has the Parquet and CSV
sources read through ``pyarrow.dataset`` (:class:`DatasetSource`, :class:`ParquetSource`,
:class:`CsvSource`). pyarrow is optional (``pip install 'sage-dataflow[arrow]'``) and is
imported only in this room, lazily: ``import sage_core`` and ``import sage_core.columnar``
do not import it, a source imports it when it is built on a worker. This room must not
hold record-at-a-time operators, backends or anything the rest of the core needs in order
to run without pyarrow.

Example::

    from sage_core.columnar import ParquetSource

    batches = env.from_batch(ParquetSource, "events/*.parquet", columns=["user", "ts"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sage_core.columnar.files import CsvSource, DatasetSource, ParquetSource

__all__ = ["CsvSource", "DatasetSource", "ParquetSource"]

_LAZY = {"CsvSource": "files", "DatasetSource": "files", "ParquetSource": "files"}


def __getattr__(name: str) -> Any:
    """Names of the submodules, imported on first use (none of them imports pyarrow at import)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"sage_core.columnar.{_LAZY[name]}"), name)
    msg = f"module 'sage_core.columnar' has no attribute {name!r}"
    raise AttributeError(msg)
