"""sage_db: native extension package (compiled core in `sage_db._core`)."""

try:
    from sage_db import _core
except ImportError as exc:  # pragma: no cover - only without a build
    msg = (
        "sage_db's compiled extension is missing. Build it with `pip install -e .` "
        "(needs a C++17 compiler and CMake >= 3.18)."
    )
    raise ImportError(msg) from exc

__version__ = _core.__version__
