"""CPython's cyclic garbage collector while a job runs: a larger young-generation threshold.

A bundle keeps tens of thousands of small objects alive at once (records, ``(key, record)``
pairs, results). With CPython's default threshold (700 allocations) the collector runs
every few hundred of them, promotes the live ones, and so rescans every long-lived object
in the process (often the job's own input) again and again; on a million-record window job
that is more than half of the run. While at least one job runs in this process, SAGE raises
the threshold to ``EnvConfig.gc_threshold`` (never lowers it) and puts the old value back
when the last job ends. Garbage without cycles is freed at once either way; cycles are
found a little later. ``gc_threshold=0`` leaves the collector alone.

It holds that one setting and nothing else.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] | None = None


@contextlib.contextmanager
def young_generation(threshold: int) -> Iterator[None]:
    """Raise gen-0's threshold to ``threshold`` while the block runs (nested and concurrent
    jobs share one raise; the outermost restores).

    >>> import gc
    >>> before = gc.get_threshold()
    >>> with young_generation(50_000):
    ...     gc.get_threshold()[0] >= 50_000
    True
    >>> gc.get_threshold() == before
    True
    """
    global _active, _saved
    if threshold <= 0:
        yield
        return
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
        _active += 1
        current = gc.get_threshold()
        if current[0] < threshold:
            gc.set_threshold(threshold, *current[1:])
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None
