"""sage_flow: keyed window state for SAGE streams, engine in C++ (``sage_flow._core``).

Public API: the window specs (:mod:`sage_flow.windows`) and the :class:`WindowAggregate`
operator with its result types. Semantics are described in ``docs/windows.md``.

>>> from sage_flow import CountWindow, WindowAggregate
>>> op = WindowAggregate(CountWindow(2), "sum", value=float)
>>> op.process_batch(["k", "k", "k"], [1, 2, 3]).results
[WindowResult(key='k', start=0.0, end=2.0, value=3.0, count=2)]
"""

try:
    from sage_flow import _core
except ImportError as exc:  # pragma: no cover - only without a build
    msg = (
        "sage_flow's compiled extension is missing. Build it with `pip install -e .` "
        "(needs a C++17 compiler and CMake >= 3.18)."
    )
    raise ImportError(msg) from exc

from sage_flow.aggregate import AGGREGATES, WindowAggregate
from sage_flow.results import BatchOutcome, TopK, WindowReduceError, WindowResult
from sage_flow.windows import CountWindow, SessionWindow, SlidingWindow, TumblingWindow, Window

__version__ = _core.__version__

__all__ = [
    "AGGREGATES",
    "BatchOutcome",
    "CountWindow",
    "SessionWindow",
    "SlidingWindow",
    "TopK",
    "TumblingWindow",
    "Window",
    "WindowAggregate",
    "WindowReduceError",
    "WindowResult",
    "__version__",
]
