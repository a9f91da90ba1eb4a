"""Columnar file sources: Parquet, CSV (and any other ``pyarrow.dataset`` format) read as
``pyarrow.RecordBatch`` records, with their position in every checkpoint.

Each is a :class:`~sage_core.api.functions.BatchFunction` (a bounded source) for
``env.from_batch(cls, source, ...)``. ``source`` is a path, a directory (discovered by
``pyarrow.dataset``, with ``partitioning=`` if it has one), a glob pattern, a list of
paths and patterns, or a ``pyarrow.dataset.FileSystemDataset``. Files are read one after
the other in sorted order; column projection (``columns=``) and row filters (``filter=``, a
``pyarrow.compute`` expression) are pushed down to ``pyarrow.dataset``, so Parquet row
groups that the filter excludes by their statistics, and columns not asked for, are never
decoded. Each record is a batch of at most ``batch_size`` rows; empty batches are skipped.
The ``rows_read`` metric counts the rows emitted.

**Position.** ``(file, unit, rows)``: the index of the file in the sorted list, the unit
being read in it (a Parquet row group; the whole file for other formats) and the rows
already emitted from that unit. A job resumed from a checkpoint opens that file at that row
group and drops the rows it had emitted, then goes on: nothing before the checkpoint is read
again except the part of one row group in front of the position (for CSV and other formats
without row groups, the part of the one file in front of it is parsed again, not emitted).
Counting rows rather than batches keeps the position valid when batch boundaries differ
between runs. The file list is part of the checkpoint, so a file that now matches the
pattern does not shift a resumed source.

A file that cannot be read stops the job with an error naming it. This module must not
hold record-at-a-time file sources (``sage_recipes.io`` has those) or import pyarrow at
import time: pyarrow is imported when a source is built.

Example (``tests/columnar/test_files.py`` runs the same on every backend)::

    import pyarrow.compute as pc
    from sage_core.columnar import ParquetSource

    env = LocalEnvironment("clicks")
    batches = env.from_batch(ParquetSource, "events/*.parquet", columns=["user", "ts"],
                             filter=pc.field("ts") >= 1_700_000_000)
    batches.map(lambda batch: batch.num_rows).collect("sizes")
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Generator, Iterator
from typing import Any, ClassVar

from sage_core.api.functions import BatchFunction
from sage_core.api.paths import expand_paths

__all__ = ["CsvSource", "DatasetSource", "ParquetSource"]

#: file suffix -> pyarrow.dataset format name (compression suffixes are looked through)
SUFFIX_FORMATS = {
    ".parquet": "parquet", ".pq": "parquet", ".parq": "parquet",
    ".csv": "csv",
    ".arrow": "ipc", ".ipc": "ipc", ".feather": "feather",
    ".orc": "orc",
    ".json": "json", ".jsonl": "json", ".ndjson": "json",
}
_COMPRESSED = (".gz", ".bz2", ".zst", ".lz4", ".br")
#: names pyarrow.dataset skips when it walks a directory (its default ``ignore_prefixes``)
_HIDDEN = (".", "_")


def _dataset_module() -> Any:
    try:
        import pyarrow.dataset as ds
    except ImportError as exc:  # pragma: no cover - depends on the installation
        msg = "columnar file sources need pyarrow: pip install 'sage-dataflow[arrow]' (or pyarrow>=14)"
        raise ImportError(msg) from exc
    return ds


def format_of(path: str) -> str:
    """The ``pyarrow.dataset`` format name for ``path``'s suffix.

    >>> format_of("events/2024-01.parquet"), format_of("people.csv.gz")
    ('parquet', 'csv')
    >>> format_of("notes.txt")
    Traceback (most recent call last):
    ...
    ValueError: cannot tell the format of 'notes.txt' from its suffix; pass format= ('parquet', 'csv', ...)
    """
    name = path.lower()
    for suffix in _COMPRESSED:
        name = name.removesuffix(suffix)
    fmt = SUFFIX_FORMATS.get(os.path.splitext(name)[1])
    if fmt is None:
        msg = f"cannot tell the format of {path!r} from its suffix; pass format= ('parquet', 'csv', ...)"
        raise ValueError(msg)
    return fmt


def _guess_format(files: list[str]) -> str:
    """The format of the first file whose suffix tells one (else the first file's error)."""
    for path in files:
        try:
            return format_of(path)
        except ValueError:
            continue
    return format_of(files[0])


def _files_under(directory: str) -> list[str]:
    """The data files under ``directory`` (recursively, sorted), skipping hidden and ``_`` names."""
    found: list[str] = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith(_HIDDEN))
        found.extend(os.path.join(root, n) for n in names if not n.startswith(_HIDDEN))
    return sorted(found)


def resolve_source(source: Any) -> str | list[str]:
    """A single directory (left to ``pyarrow.dataset`` to discover, partitions and all) or
    the sorted list of files named by paths and glob patterns.

    >>> resolve_source("/nonexistent/events.parquet")
    Traceback (most recent call last):
    ...
    FileNotFoundError: input file '/nonexistent/events.parquet' does not exist
    """
    if isinstance(source, (str, os.PathLike)) and os.path.isdir(source):
        text = os.fspath(source)
        if not _files_under(text):
            msg = f"input directory {text!r} holds no data files"
            raise FileNotFoundError(msg)
        return text
    return expand_paths(source, directories=_files_under)


def _read_error(path: str, fmt: str, exc: BaseException) -> Exception:
    """An error naming the file that could not be read, of a type close to the original."""
    msg = f"{path}: cannot be read as {fmt} ({exc})"
    if isinstance(exc, FileNotFoundError):
        return FileNotFoundError(msg)
    if isinstance(exc, OSError):
        return OSError(msg)
    return ValueError(msg)


class DatasetSource(BatchFunction):
    """Files read through ``pyarrow.dataset``: each record is a ``pyarrow.RecordBatch``.

    ``DatasetSource(source, *, format=None, columns=None, filter=None, batch_size=65_536,
    **dataset_options)``:

    - ``source``: a path, a directory, a glob pattern (``"events/**/*.parquet"``), a list
      of paths and patterns, or a ``pyarrow.dataset.FileSystemDataset`` (it pickles, so it
      ships to workers as it is);
    - ``format``: ``"parquet"``, ``"csv"``, ``"ipc"``, ``"feather"``, ``"orc"``, ``"json"``
      or a ``pyarrow.dataset.FileFormat``; by default the first file's suffix decides;
    - ``columns``: the columns to read (names, or a dict of name to expression);
    - ``filter``: a ``pyarrow.compute`` expression, e.g. ``pc.field("status") == "ok"``;
    - ``dataset_options``: ``schema``, ``filesystem``, ``partitioning``,
      ``partition_base_dir``, ``exclude_invalid_files`` and ``ignore_prefixes`` go to
      ``pyarrow.dataset.dataset``; the rest builds the file format (for CSV
      ``read_options``, ``parse_options``, ``convert_options``; for Parquet e.g.
      ``dictionary_columns``).

    See the module docstring for the position kept in checkpoints.
    """

    columnar = True
    file_format: ClassVar[str | None] = None  # set by subclasses that read one format only

    def __init__(
        self,
        source: Any,
        *,
        format: Any = None,
        columns: list[str] | dict[str, Any] | None = None,
        filter: Any = None,
        batch_size: int = 65_536,
        **dataset_options: Any,
    ):
        if batch_size < 1:
            msg = f"{type(self).__name__}: batch_size must be >= 1, got {batch_size!r}"
            raise ValueError(msg)
        if self.file_format is not None:
            if format is not None:
                msg = f"{type(self).__name__} reads {self.file_format} files only; use DatasetSource(format=...) for others"
                raise TypeError(msg)
            format = self.file_format
        ds = _dataset_module()
        self.columns = columns
        self.filter = filter
        self.batch_size = batch_size
        if isinstance(source, ds.Dataset):
            if not isinstance(source, ds.FileSystemDataset):
                msg = f"{type(self).__name__}: a {type(source).__name__} has no files to keep a position in; pass a FileSystemDataset, paths or a pattern"
                raise TypeError(msg)
            if format is not None or dataset_options:
                msg = f"{type(self).__name__}: a Dataset already has its format and options; pass them to pyarrow.dataset.dataset() instead"
                raise ValueError(msg)
            self._dataset = source
            self.format = source.format.default_extname or type(source.format).__name__
        else:
            resolved = resolve_source(source)
            if format is None:
                format = _guess_format(resolved if isinstance(resolved, list) else _files_under(resolved))
            self.format = format if isinstance(format, str) else format.default_extname
            self._dataset = self._open_dataset(ds, resolved, format, dataset_options)
        self._fragments = {fragment.path: fragment for fragment in self._dataset.get_fragments()}
        #: the files in reading order (part of every checkpoint)
        self.files: list[str] = sorted(self._fragments)
        self.file_index = 0  # the file being read
        self.unit = 0  # the row group being read in it (always 0 without row groups)
        self.rows = 0  # rows of that unit already emitted
        self._reading: Generator[Any, None, None] | None = None

    def _open_dataset(self, ds: Any, resolved: str | list[str], format: Any, options: dict[str, Any]) -> Any:
        dataset_params = set(inspect.signature(ds.dataset).parameters) - {"source", "format"}
        for_dataset = {k: v for k, v in options.items() if k in dataset_params}
        for_format = {k: v for k, v in options.items() if k not in dataset_params}
        if for_format:
            if not isinstance(format, str):
                msg = f"{type(self).__name__}: options {sorted(for_format)} need a format name, not a FileFormat object"
                raise TypeError(msg)
            classes = {"parquet": "ParquetFileFormat", "csv": "CsvFileFormat", "ipc": "IpcFileFormat", "arrow": "IpcFileFormat",
                       "feather": "FeatherFileFormat", "orc": "OrcFileFormat", "json": "JsonFileFormat"}
            if format not in classes:
                msg = f"{type(self).__name__}: unknown format {format!r}; use one of {sorted(classes)}"
                raise ValueError(msg)
            try:
                format = getattr(ds, classes[format])(**for_format)
            except TypeError as exc:
                msg = f"{type(self).__name__}: {exc} (options for pyarrow.dataset.{classes[format]} or pyarrow.dataset.dataset)"
                raise TypeError(msg) from exc
        try:
            return ds.dataset(resolved, format=format, **for_dataset)
        except (OSError, ValueError) as exc:  # pyarrow's errors name the file it could not read
            where = resolved if isinstance(resolved, str) else (resolved[0] if len(resolved) == 1 else f"{resolved[0]} (and {len(resolved) - 1} more)")
            raise _read_error(where, self.format, exc) from exc

    # -- position ----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"files": self.files, "file_index": self.file_index, "unit": self.unit, "rows": self.rows}

    def restore(self, state: dict[str, Any]) -> None:
        self.close()
        self.files = list(state["files"])
        self.file_index, self.unit, self.rows = state["file_index"], state["unit"], state["rows"]

    # -- reading -----------------------------------------------------------------------
    def execute(self) -> Any:
        """The next non-empty ``pyarrow.RecordBatch`` (at most ``batch_size`` rows), or None at the end."""
        if self._reading is None:
            self._reading = self._batches()
        batch = next(self._reading, None)
        if batch is not None:
            ctx = getattr(self, "ctx", None)
            if ctx is not None:
                ctx.metrics.inc("rows_read", batch.num_rows)
        return batch

    def close(self) -> None:
        if self._reading is not None:
            self._reading.close()
            self._reading = None

    def _batches(self) -> Generator[Any, None, None]:
        """Batches from the position on; the position counts each batch before it is returned."""
        while self.file_index < len(self.files):
            path = self.files[self.file_index]
            fragment = self._fragment(path)
            units = self._units(fragment, path)
            while self.unit < len(units):
                skip = self.rows  # emitted before a resume: read again, not emitted
                for batch in self._read(fragment, units[self.unit], path):
                    if skip:
                        if batch.num_rows <= skip:
                            skip -= batch.num_rows
                            continue
                        batch, skip = batch.slice(skip), 0
                    for start in range(0, batch.num_rows, self.batch_size):
                        piece = batch.slice(start, self.batch_size)
                        self.rows += piece.num_rows
                        yield piece
                self.unit, self.rows = self.unit + 1, 0
            self.file_index, self.unit, self.rows = self.file_index + 1, 0, 0

    def _fragment(self, path: str) -> Any:
        fragment = self._fragments.get(path)
        if fragment is None:  # in the checkpoint's file list, gone from the dataset since
            msg = f"{path}: was part of this source when the checkpoint was taken but is no longer found"
            raise FileNotFoundError(msg)
        return fragment

    def _units(self, fragment: Any, path: str) -> list[int | None]:
        """Row group ids for Parquet (each read and resumed on its own), else the whole file."""
        if not isinstance(fragment, _dataset_module().ParquetFileFragment):
            return [None]
        try:
            return [group.id for group in fragment.row_groups]
        except (OSError, ValueError) as exc:
            raise _read_error(path, self.format, exc) from exc

    def _read(self, fragment: Any, unit: int | None, path: str) -> Iterator[Any]:
        part = fragment if unit is None else fragment.subset(row_group_ids=[unit])
        try:
            yield from part.to_batches(
                schema=self._dataset.schema, columns=self.columns, filter=self.filter, batch_size=self.batch_size)
        except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError, ArrowIOError an OSError
            raise _read_error(path, self.format, exc) from exc


class ParquetSource(DatasetSource):
    """Parquet files as ``pyarrow.RecordBatch`` records: ``DatasetSource`` with ``format="parquet"``.

    Example: ``env.from_batch(ParquetSource, "events/*.parquet", columns=["user", "ts"],
    filter=pc.field("ts") >= start)``. A resumed job starts again inside the row group it
    had reached.
    """

    file_format = "parquet"


class CsvSource(DatasetSource):
    """CSV files as ``pyarrow.RecordBatch`` records: ``DatasetSource`` with ``format="csv"``.

    ``pyarrow.csv`` options pass through: ``read_options=csv.ReadOptions(...)``,
    ``parse_options=csv.ParseOptions(delimiter=";")``,
    ``convert_options=csv.ConvertOptions(column_types={"id": pa.int64()})``. Without
    ``column_types`` the types are inferred from the first file. (``sage_recipes.io.CsvSource``
    is the record-at-a-time one, a dict of strings per row.)
    """

    file_format = "csv"
