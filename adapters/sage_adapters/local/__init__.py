"""Local backend: the embedded default. ``pip install sage-dataflow`` is all it needs.

Use when: development, tests, single-machine jobs, I/O-bound work (LLM and HTTP calls) that
threads overlap well.
Supported: every operator and semantic of SAGE. Not for: CPU-bound Python across cores
(the GIL); use ``backend="dask"`` or ``"ray"`` for that.

Every stage instance lives in this process; calls run on a thread pool with one thread per
instance, so at most one call per instance is in flight, and the driver's pending queues are
bounded (see ``sage_core.runtime.driver``). Services run in-process, one thread each.
"""

from sage_adapters.local.backend import LocalBackend, LocalOptions

__all__ = ["LocalBackend", "LocalOptions"]
