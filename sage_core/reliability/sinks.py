"""Sinks that take part in checkpoints.

:class:`JsonlSink` writes one JSON document per line and commits with every checkpoint: its
``snapshot()`` flushes and fsyncs the file and saves its length; on resume ``restore()``
cuts the file back to that length, so the records written after the checkpoint, which
the resumed job writes again, appear once. Without checkpoints it is a plain JSONL writer.

Example::

    >>> import json, tempfile
    >>> from sage_core import LocalEnvironment
    >>> path = tempfile.mkdtemp() + "/out.jsonl"
    >>> env = LocalEnvironment("to_jsonl")
    >>> _ = env.from_batch([{"n": 1}, {"n": 2}]).sink(JsonlSink, path)
    >>> _ = env.submit()
    >>> [json.loads(line) for line in open(path)]
    [{'n': 1}, {'n': 2}]
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from sage_core.api.functions import SinkFunction

__all__ = ["JsonlSink", "write_batch"]


def write_batch(
    pending: list[tuple[Any, Any]],
    write: Callable[[list[Any]], None],
    ctx: Any,
    on_error: Callable[[], None] | None = None,
) -> int:
    """Write the items of ``pending`` (``(record, item)`` pairs) with one ``write(items)``;
    if that raises, write them one by one and send each record whose item still fails to
    the dead-letter output (``ctx.dead_letter``) with its error. ``on_error`` runs after
    each failed write (a rollback). Returns how many items were written.

    For sinks that buffer: a refused batch loses no record with it.

    >>> written, refused = [], []
    >>> class Ctx:
    ...     def dead_letter(self, record, exc):
    ...         refused.append((record, str(exc)))
    >>> def write(items):
    ...     if any(i < 0 for i in items):
    ...         raise ValueError("negative")
    ...     written.extend(items)
    >>> write_batch([("a", 1), ("b", -2), ("c", 3)], write, Ctx())
    2
    >>> written, refused
    ([1, 3], [('b', 'negative')])
    """
    try:
        write([item for _, item in pending])
        return len(pending)
    except Exception:
        if on_error is not None:
            on_error()
    done = 0
    for record, item in pending:
        try:
            write([item])
            done += 1
        except Exception as exc:
            if on_error is not None:
                on_error()
            if ctx is None:  # used outside a job
                raise
            ctx.dead_letter(record, exc)
    return done


class JsonlSink(SinkFunction):
    """Append records as JSON lines to ``path``; exactly-once when the job checkpoints.

    With parallelism above 1 each instance writes its own shard,
    ``<stem>-00000-of-00002<suffix>`` and so on. A fresh (not resumed) job replaces the file.
    ``default`` converts values ``json`` cannot (``str`` by default).
    """

    def __init__(self, path: str | os.PathLike[str], *, default: Any = str):
        self.path = Path(path)
        self.default = default
        self._file: IO[bytes] | None = None

    def _shard(self) -> Path:
        n = self.ctx.parallelism
        if n == 1:
            return self.path
        return self.path.with_name(
            f"{self.path.stem}-{self.ctx.parallel_index:05d}-of-{n:05d}{self.path.suffix}"
        )

    def _open(self, mode: str) -> IO[bytes]:
        target = self._shard()
        target.parent.mkdir(parents=True, exist_ok=True)
        self._file = f = open(target, mode)  # noqa: SIM115 - closed in close()
        return f

    def execute(self, data: Any) -> None:
        f = self._file or self._open("wb")
        f.write(json.dumps(data, default=self.default, ensure_ascii=False).encode() + b"\n")

    def finish_bundle(self) -> None:
        if self._file is not None:
            self._file.flush()  # visible to readers at once; durable (fsync) at checkpoints

    def snapshot(self) -> dict[str, int]:
        f = self._file or self._open("wb")
        f.flush()
        os.fsync(f.fileno())
        return {"size": f.tell()}

    def restore(self, state: dict[str, int]) -> None:
        target = self._shard()
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
        f = self._open("r+b")
        f.truncate(state["size"])
        f.seek(state["size"])

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
