"""Changes in a folder of documents as change events: a one-off scan, or a live SAGE source.

:class:`FolderScanner` remembers the content hash of every file it has reported and, on
each :meth:`~FolderScanner.changes` call, returns the events since: an ``upsert`` for a
new or changed file (its bytes hash differently), a ``delete`` for a file that is gone.
A file whose mtime and size are unchanged is not read again.

:class:`FolderWatcher` is the same scan as an unbounded SAGE source: it rescans every
``interval`` seconds and emits the events one by one, for a live index
(:func:`sage_recipes.document_index.add_document_index`).

Example::

    env.from_source(FolderWatcher, "docs", interval=0.5, known={"guide.md": "<sha256>"})

>>> import pathlib, tempfile
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = (root / "a.md").write_text("alpha")
>>> scanner = FolderScanner(root)
>>> [(e["op"], e["id"]) for e in scanner.changes()], scanner.changes()
([('upsert', 'a.md')], [])
>>> (root / "a.md").unlink()
>>> [(e["op"], e["id"]) for e in scanner.changes()]
[('delete', 'a.md')]
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from sage_core.api.functions import SourceFunction, StopSignal
from sage_recipes.document_index import delete_event, upsert_event
from sage_recipes.documents import DEFAULT_PATTERNS, file_sha256, find_files

__all__ = ["FolderScanner", "FolderWatcher"]

_stop_requests: set[str] = set()
_stop_lock = threading.Lock()


class FolderScanner:
    """Reports what changed in ``folder`` since the last call (or since ``known``: id → sha256)."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        patterns: tuple[str, ...] | list[str] = DEFAULT_PATTERNS,
        known: dict[str, str] | None = None,
    ):
        self.folder = str(folder)
        self.patterns = tuple(patterns)
        self.known = dict(known or {})
        self.stats: dict[str, tuple[int, int]] = {}

    def changes(self) -> list[dict[str, Any]]:
        """Upsert events for new or changed files, then delete events for removed ones."""
        events = []
        present = set()
        for info in find_files(self.folder, self.patterns):
            present.add(info.id)
            stat = (info.mtime_ns, info.size)
            if self.stats.get(info.id) == stat:
                continue
            try:
                sha = file_sha256(info.path)
            except FileNotFoundError:  # removed while scanning: the next scan reports it
                continue
            self.stats[info.id] = stat
            if self.known.get(info.id) != sha:
                self.known[info.id] = sha
                events.append(upsert_event(info, sha))
        for doc_id in sorted(set(self.known) - present):
            del self.known[doc_id]
            self.stats.pop(doc_id, None)
            events.append(delete_event(doc_id))
        return events


class FolderWatcher(SourceFunction):
    """An unbounded source of change events for ``folder``, rescanned every ``interval`` seconds.

    ``known`` (id → sha256) is what is already indexed, so that only later changes are emitted.
    With a ``stop_token``, :meth:`request_stop` ends the stream (everything in flight drains);
    the token is process-local, so stopping that way works on the local backend.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        patterns: tuple[str, ...] | list[str] = DEFAULT_PATTERNS,
        *,
        interval: float = 0.5,
        known: dict[str, str] | None = None,
        stop_token: str | None = None,
    ):
        if interval <= 0:
            msg = f"FolderWatcher: interval must be > 0 seconds, got {interval!r}"
            raise ValueError(msg)
        self.scanner = FolderScanner(folder, patterns, known)
        self.interval = interval
        self.pending: list[dict[str, Any]] = []
        self.next_scan = 0.0
        self.stop_token = stop_token

    @staticmethod
    def request_stop(token: str) -> None:
        """End the stream of every watcher created with ``stop_token=token`` in this process."""
        with _stop_lock:
            _stop_requests.add(token)

    def execute(self) -> Any:
        if self.stop_token is not None and self.stop_token in _stop_requests:
            with _stop_lock:
                _stop_requests.discard(self.stop_token)
            return StopSignal
        if not self.pending and time.monotonic() >= self.next_scan:
            self.next_scan = time.monotonic() + self.interval
            self.pending = self.scanner.changes()
        return self.pending.pop(0) if self.pending else None
