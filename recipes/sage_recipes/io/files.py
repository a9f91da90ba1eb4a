"""File sources: text (a record per line or per file), JSON Lines and CSV.

Each is a :class:`~sage_core.api.functions.BatchFunction` (a bounded source) for
``env.from_batch(cls, paths, ...)``. ``paths`` is a path, a glob pattern (``"logs/*.txt"``,
``"data/**/*.jsonl"``) or a list of them; files are read in sorted order. The position
(file, byte offset, record number) is part of every checkpoint, so a resumed job goes on
after the last record it had read, without reading the files again from the start.

Records:

- :class:`TextFileSource` ``per="line"``: ``{"id": "<path>:<line>", "text", "metadata":
  {"path", "line"}}``; ``per="file"``: ``{"id": "<path>", "text", "metadata": {"path"}}``.
  Both are documents that :class:`~sage_recipes.chunking.TextChunker` takes.
- :class:`JsonlSource`: each line's JSON value (blank lines are skipped).
- :class:`CsvSource`: each row as a dict (``csv.DictReader``: the first row names the
  columns unless ``fieldnames`` is given).

A file that cannot be read stops the job with an error naming the file. A line that is
not valid JSON goes to the dead-letter output, its error naming the file and line
(``errors="dead_letter"``, the default); ``errors="raise"`` stops the job there instead,
``errors="skip"`` drops it and counts it in the ``skipped_records`` metric.

Example::

    >>> import json, tempfile, pathlib
    >>> from sage_core import LocalEnvironment
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.jsonl").write_text('{"n": 1}\\n{"n": 2}\\n')
    >>> env = LocalEnvironment("doc_jsonl")
    >>> _ = env.from_batch(JsonlSource, str(d / "*.jsonl")).collect("out")
    >>> env.submit().collected["out"]
    [{'n': 1}, {'n': 2}]
"""

from __future__ import annotations

import csv
import json
from typing import IO, Any

from sage_core.api.functions import BatchFunction
from sage_core.api.paths import expand_paths

__all__ = ["CsvSource", "JsonlSource", "TextFileSource", "expand_paths"]


class _FileSource(BatchFunction):
    """Reads ``files`` one after the other; subclasses turn an open file into records.

    The position is ``(file_index, offset, line)``; the open file handle is not part of a
    checkpoint (``snapshot``/``restore`` keep just the position).
    """

    binary = True

    def __init__(self, paths: Any, *, encoding: str = "utf-8"):
        self.files = expand_paths(paths)
        self.encoding = encoding
        self.file_index = 0
        self.offset = 0  # where the next record starts in the current file
        self.line = 0  # lines of the current file consumed so far
        self._f: IO[Any] | None = None

    # -- position ----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        # the file list too: a resumed job reads the same files even if the pattern now matches more
        return {"files": self.files, "file_index": self.file_index, "offset": self.offset, "line": self.line, **self._extra_state()}

    def restore(self, state: dict[str, Any]) -> None:
        self._close_file()
        for key, value in state.items():
            setattr(self, key, value)

    def _extra_state(self) -> dict[str, Any]:
        return {}

    # -- reading -----------------------------------------------------------------------
    @property
    def path(self) -> str:
        return self.files[self.file_index]

    def _open_current(self) -> IO[Any]:
        if self._f is None:
            if self.binary:
                self._f = open(self.path, "rb")  # noqa: SIM115 - closed in _close_file
            else:
                self._f = open(self.path, encoding=self.encoding, newline="")  # noqa: SIM115
            self._f.seek(self.offset)
            self._on_open(self._f)
        return self._f

    def _on_open(self, f: IO[Any]) -> None:
        """Hook run after a file is opened and positioned."""

    def _close_file(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def _next_file(self) -> None:
        self._close_file()
        self.file_index += 1
        self.offset = 0
        self.line = 0

    def _readline(self, f: IO[Any]) -> Any:
        """The next line (bytes or str, with its newline), or an empty value at the end."""
        raw = f.readline()
        if raw:
            self.line += 1
            self.offset = f.tell()
        return raw

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError as exc:
            msg = f"{self.path}:{self.line}: not valid {self.encoding} text ({exc.reason} at byte {exc.start}); pass encoding="
            raise ValueError(msg) from exc

    def read_record(self, f: IO[Any]) -> tuple[bool, Any]:
        """``(True, record)`` or ``(False, None)`` when the file is exhausted."""
        raise NotImplementedError

    def execute(self) -> Any:
        while self.file_index < len(self.files):
            found, record = self.read_record(self._open_current())
            if found:
                return record
            self._next_file()
        return None

    def close(self) -> None:
        self._close_file()


class TextFileSource(_FileSource):
    """Text files as documents: one per line (``per="line"``) or one per file (``per="file"``).

    Lines lose their line ending; ``skip_blank=True`` (default) skips empty lines.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> _ = p.write_text("first\\n\\nsecond\\n")
    >>> src = TextFileSource(str(p))
    >>> [r["text"] for r in iter(src.execute, None)]
    ['first', 'second']
    >>> src.close()
    """

    def __init__(self, paths: Any, *, per: str = "line", skip_blank: bool = True, encoding: str = "utf-8"):
        if per not in ("line", "file"):
            msg = f"TextFileSource: per must be 'line' or 'file', got {per!r}"
            raise ValueError(msg)
        super().__init__(paths, encoding=encoding)
        self.per = per
        self.skip_blank = skip_blank

    def read_record(self, f: IO[bytes]) -> tuple[bool, Any]:
        if self.per == "file":
            if self.offset > 0 or self.line > 0:
                return False, None
            text = self._decode(f.read())
            self.line = 1
            self.offset = f.tell()
            return True, {"id": self.path, "text": text, "metadata": {"path": self.path}}
        while True:
            raw = self._readline(f)
            if not raw:
                return False, None
            text = self._decode(raw).rstrip("\r\n")
            if self.skip_blank and not text.strip():
                continue
            return True, {"id": f"{self.path}:{self.line}", "text": text, "metadata": {"path": self.path, "line": self.line}}


class JsonlSource(_FileSource):
    """JSON Lines files: each non-blank line's JSON value is a record.

    A line that is not valid JSON goes to the dead-letter output with an error naming the
    file and line (``errors="dead_letter"``, the default); ``errors="raise"`` stops the job
    there, ``errors="skip"`` drops it and counts it in the ``skipped_records`` metric.

    Example: ``env.from_batch(JsonlSource, "events/*.jsonl", errors="skip")``.
    """

    def __init__(self, paths: Any, *, errors: str = "dead_letter", encoding: str = "utf-8"):
        if errors not in ("dead_letter", "raise", "skip"):
            msg = f"JsonlSource: errors must be 'dead_letter', 'raise' or 'skip', got {errors!r}"
            raise ValueError(msg)
        super().__init__(paths, encoding=encoding)
        self.errors = errors

    def read_record(self, f: IO[bytes]) -> tuple[bool, Any]:
        while True:
            raw = self._readline(f)
            if not raw:
                return False, None
            if not raw.strip():
                continue
            try:
                return True, json.loads(self._decode(raw))
            except ValueError as exc:
                msg = f"{self.path}:{self.line}: not valid JSON ({exc})"
                ctx = getattr(self, "ctx", None)
                if self.errors == "raise" or ctx is None:
                    raise ValueError(msg) from exc
                if self.errors == "skip":
                    ctx.metrics.inc("skipped_records")
                else:
                    ctx.dead_letter(self._decode(raw).rstrip("\r\n"), ValueError(msg))
                continue


class CsvSource(_FileSource):
    """CSV files through ``csv.DictReader``: each row is a dict of strings.

    The first row of each file names the columns, unless ``fieldnames`` is given (then
    every row is data). ``restkey``/``restval`` and ``dialect``/``fmtparams`` (e.g.
    ``delimiter=";"``) go to ``csv.DictReader``. Quoted values may span lines.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "people.csv"
    >>> _ = p.write_text('name,city\\nAda,"London"\\n')
    >>> src = CsvSource(str(p))
    >>> src.execute(), src.execute()
    ({'name': 'Ada', 'city': 'London'}, None)
    >>> src.close()
    """

    binary = False

    def __init__(
        self,
        paths: Any,
        *,
        fieldnames: list[str] | None = None,
        restkey: str | None = None,
        restval: str | None = None,
        dialect: str = "excel",
        encoding: str = "utf-8",
        **fmtparams: Any,
    ):
        super().__init__(paths, encoding=encoding)
        self.fieldnames = list(fieldnames) if fieldnames else None
        self.file_fieldnames: list[str] | None = self.fieldnames  # the current file's header
        self.reader_options = {"restkey": restkey, "restval": restval, "dialect": dialect, **fmtparams}
        self._reader: csv.DictReader | None = None

    def _extra_state(self) -> dict[str, Any]:
        return {"file_fieldnames": self.file_fieldnames}

    def _on_open(self, f: IO[str]) -> None:
        # readline (not iteration) keeps f.tell() usable, so the offset after each row is known
        self._reader = csv.DictReader(iter(f.readline, ""), self.file_fieldnames, **self.reader_options)
        self._base_line = self.line

    def _next_file(self) -> None:
        super()._next_file()
        self.file_fieldnames = self.fieldnames

    def read_record(self, f: IO[str]) -> tuple[bool, Any]:
        reader = self._reader
        assert reader is not None
        try:
            row = next(reader)
        except StopIteration:
            return False, None
        except csv.Error as exc:
            msg = f"{self.path}:{self._base_line + reader.line_num}: CSV error: {exc}"
            raise ValueError(msg) from exc
        self.file_fieldnames = list(reader.fieldnames or [])
        self.line = self._base_line + reader.line_num
        self.offset = f.tell()
        return True, row

    def _close_file(self) -> None:
        super()._close_file()
        self._reader = None
