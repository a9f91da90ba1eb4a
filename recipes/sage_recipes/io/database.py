"""A database sink: batched, idempotent upserts into SQLite (or any DB-API database).

:class:`SQLiteSink` writes each record as one row keyed by ``key``: the listed
``columns`` (dict and list values stored as JSON text) and/or the whole record as JSON in
``json_column``. Rows are inserted ``batch_size`` at a time, each batch in one
transaction, with ``INSERT ... ON CONFLICT (key) DO UPDATE``: writing a record again
replaces its row, so records replayed after a restart from a checkpoint do not duplicate.
Every checkpoint commits what is buffered.

Other databases: pass ``connect``, a function that returns a DB-API connection, and the
driver's ``placeholder``. PostgreSQL (psycopg) understands the same upsert; create the
table yourself and pass ``create=False``::

    import psycopg
    stream.sink(SQLiteSink, None, "answers", key="id", columns=["question", "answer"],
                json_column="record", create=False, placeholder="%s",
                connect=functools.partial(psycopg.connect, "postgresql://app@db/app"))

The ``connect`` function is pickled to Dask/Ray workers: use a module-level function or a
``functools.partial``, not a lambda.

Example::

    >>> import sqlite3, tempfile
    >>> from sage_core import LocalEnvironment
    >>> path = tempfile.mkdtemp() + "/out.db"
    >>> env = LocalEnvironment("doc_sqlite")
    >>> _ = env.from_batch([{"id": "a", "n": 1}, {"id": "a", "n": 2}]).sink(SQLiteSink, path, "t", columns=["n"])
    >>> _ = env.submit()
    >>> sqlite3.connect(path).execute("SELECT id, n FROM t").fetchall()
    [('a', 2)]
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from typing import Any

from sage_core.api.functions import SinkFunction
from sage_core.reliability.sinks import write_batch

__all__ = ["SQLiteSink"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _ident(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        msg = f"SQLiteSink: {what} {name!r} is not a plain SQL name (letters, digits, underscores)"
        raise ValueError(msg)
    return f'"{name}"'


class SQLiteSink(SinkFunction):
    """Upserts dict records into ``table`` of the SQLite file ``path`` (see the module docstring).

    ``columns=None`` with the default ``json_column="record"`` keeps each record whole as
    JSON. A record without ``key``, or whose values cannot be stored, is a dead letter.
    With parallelism above 1 the instances share the database (SQLite serialises the
    writes; ``timeout`` is how long one waits for another's transaction).
    """

    def __init__(
        self,
        path: str | None,
        table: str,
        *,
        key: str = "id",
        columns: list[str] | None = None,
        json_column: str | None = "record",
        batch_size: int = 500,
        create: bool = True,
        connect: Callable[[], Any] | None = None,
        placeholder: str = "?",
        timeout: float = 30.0,
    ):
        if path is None and connect is None:
            msg = "SQLiteSink needs a path to a SQLite file or connect= (a function returning a DB-API connection)"
            raise ValueError(msg)
        if not columns and not json_column:
            msg = "SQLiteSink: give columns=[...] and/or json_column=, otherwise nothing but the key would be stored"
            raise ValueError(msg)
        if batch_size < 1:
            msg = f"SQLiteSink: batch_size must be >= 1, got {batch_size!r}"
            raise ValueError(msg)
        self.path = None if path is None else str(path)
        self.table = table
        self.key = key
        self.columns = list(columns or [])
        self.json_column = json_column
        self.batch_size = batch_size
        self.create = create
        self.connect = connect
        self.placeholder = placeholder
        self.timeout = timeout
        names = [key, *self.columns, *([json_column] if json_column else [])]
        if len(set(names)) != len(names):
            msg = f"SQLiteSink: the key, columns and json_column must be distinct, got {names}"
            raise ValueError(msg)
        quoted = [_ident(n, "column") for n in names]
        self._names = quoted
        t = _ident(table, "table")
        marks = ", ".join([placeholder] * len(quoted))
        updates = ", ".join(f"{c} = excluded.{c}" for c in quoted[1:])
        self._create_sql = f"CREATE TABLE IF NOT EXISTS {t} ({quoted[0]} TEXT PRIMARY KEY, {', '.join(quoted[1:])})"
        self._upsert_sql = f"INSERT INTO {t} ({', '.join(quoted)}) VALUES ({marks}) ON CONFLICT ({quoted[0]}) DO UPDATE SET {updates}"
        self._conn: Any = None
        self._rows: list[tuple[Any, tuple[Any, ...]]] = []  # (record, row) until the next flush
        self.written = 0

    def __getstate__(self) -> dict[str, Any]:
        state = dict(vars(self))
        state["_conn"] = None
        return state

    def open(self) -> None:
        if self._conn is not None:
            return
        if self.connect is not None:
            self._conn = self.connect()
        else:
            assert self.path is not None
            self._conn = sqlite3.connect(self.path, timeout=self.timeout, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
        if self.create:
            cur = self._conn.cursor()
            cur.execute(self._create_sql)
            self._conn.commit()

    def row(self, data: Any) -> tuple[Any, ...]:
        """The row stored for ``data`` (key first, as text)."""
        if not isinstance(data, dict):
            msg = f"SQLiteSink: a record must be a dict, got {type(data).__name__}: {data!r:.120}"
            raise TypeError(msg)
        if data.get(self.key) is None:
            msg = f"SQLiteSink: record has no {self.key!r} (the table's key); keys: {sorted(map(str, data))}"
            raise KeyError(msg)
        values: list[Any] = [str(data[self.key])]
        for col in self.columns:
            values.append(_value(data.get(col), col))
        if self.json_column:
            try:
                values.append(json.dumps(data, ensure_ascii=False, allow_nan=False, default=_json_default))
            except (TypeError, ValueError) as exc:
                msg = f"SQLiteSink: record {values[0]!r} cannot be stored as JSON: {exc}"
                raise TypeError(msg) from exc
        return tuple(values)

    def execute(self, data: Any) -> None:
        self._rows.append((data, self.row(data)))
        if len(self._rows) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows in one transaction. If the database refuses the batch, write
        it row by row: each row the database refuses (a constraint, a lost connection) goes to
        the dead-letter output with the database's error, the others are written."""
        if not self._rows:
            return
        self.open()
        pending, self._rows = self._rows, []
        self.written += write_batch(pending, self._write, getattr(self, "ctx", None), self._conn.rollback)

    finish_bundle = flush  # each bundle's rows are committed when it has been processed

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        cur = self._conn.cursor()
        cur.executemany(self._upsert_sql, rows)
        self._conn.commit()

    def snapshot(self) -> None:
        self.flush()  # a checkpoint covers every record before it
        return None

    def close(self) -> None:
        try:
            self.flush()
            if getattr(self, "ctx", None) is not None:
                self.ctx.metrics.inc("rows_written", self.written)
        finally:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _json_default(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return tolist()
    msg = f"{type(value).__name__} is not JSON serializable"
    raise TypeError(msg)


def _value(value: Any, column: str) -> Any:
    if value is None or isinstance(value, (str, int, float, bytes)):
        return value
    if isinstance(value, (dict, list, tuple)) or hasattr(value, "tolist"):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    msg = f"SQLiteSink: column {column!r} cannot store a {type(value).__name__} ({value!r:.80})"
    raise TypeError(msg)
