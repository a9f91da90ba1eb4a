"""The writer lock of a database folder: an exclusive ``flock`` on ``<path>/LOCK``.

Holds `WriterLock` only (taking, releasing, and reporting who holds it). It knows nothing of
collections, records or the rest of the folder's layout.
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from sage_db._errors import SageDBLockedError


class WriterLock:
    """The writer's ``flock`` on ``<path>/LOCK``, held while this object lives.

    The database handle and each of its collections hold it, and collections refer to their
    database only weakly, so dropping every handle (``del db``) releases the lock at once
    without waiting for the garbage collector, and the same process can reopen the database.

    >>> import tempfile
    >>> lock = WriterLock.take(tempfile.mkdtemp())
    >>> lock.release()
    """

    def __init__(self, path: str, file: Any) -> None:
        self.path = path
        self._file = file

    @classmethod
    def take(cls, root: str) -> WriterLock:
        lock_path = os.path.join(root, "LOCK")
        f = open(lock_path, "a+")  # noqa: SIM115 - held for the lock's lifetime
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            f.close()
            msg = (
                f"database {root} is already open for writing (pid {holder}); there is one "
                "writer per database: open this handle with mode='r', or close the writer first"
            )
            raise SageDBLockedError(msg) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        return cls(lock_path, f)

    @property
    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            f.close()

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # noqa: BLE001 - at interpreter exit the modules may be gone; the OS frees the lock
            pass
