"""sage_db: a FAISS-based vector database with a C++ core.

FAISS (its Python API) searches the vectors; the compiled module `sage_db._core` does the rest:
string-id maps, tombstones, metadata columns and filters, BM25, fusion, the write-ahead log
and snapshots. This package holds only the public Python face; see docs/sage_db.md.
"""

try:
    from sage_db import _core
except ImportError as exc:  # pragma: no cover - only without a build
    msg = (
        "sage_db's compiled extension is missing. Build it with `pip install -e .` "
        "(needs a C++17 compiler and CMake >= 3.18)."
    )
    raise ImportError(msg) from exc

from sage_db._errors import ReadOnlyError, SageDBCorruptionError, SageDBError, SageDBLockedError
from sage_db.collection import Collection, Hits
from sage_db.database import SageDB, SageDBRef

__version__ = _core.__version__


def tokenize(text: str) -> list[str]:
    """The BM25 tokenizer: lower-cased ASCII letters/digits plus UTF-8 bytes >= 0x80."""
    return _core.tokenize(text)


def __getattr__(name: str):  # the service is imported on first use only
    if name == "SageDBService":
        from sage_db.service import SageDBService

        return SageDBService
    msg = f"module 'sage_db' has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = [
    "Collection",
    "Hits",
    "ReadOnlyError",
    "SageDB",
    "SageDBCorruptionError",
    "SageDBError",
    "SageDBLockedError",
    "SageDBRef",
    "SageDBService",
    "tokenize",
]
