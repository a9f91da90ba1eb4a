"""Dask backend: ``pip install 'sage-dataflow[dask]'``.

Use when: CPU-bound Python steps should use every core, or a Dask cluster already runs.
Supported: every operator and semantic of SAGE (the conformance suite runs on it).
How: stage instances live in worker processes (instance ``i`` of a stage on worker
``i % workers``) and are called with pinned tasks, one bundle per task; state stays in the
worker between bundles. Services are Dask actors.
Caveats: a worker that dies loses the instances on it (the job fails); Dask runs all actors of
a worker on one thread, so calls to services on the same worker are serialised.

    env.submit(backend="dask")                                   # a LocalCluster (2 workers)
    env.submit(backend="dask", address="tcp://10.0.0.5:8786")    # an existing scheduler
"""

from sage_adapters.dask.backend import DaskBackend, DaskOptions

__all__ = ["DaskBackend", "DaskOptions"]
