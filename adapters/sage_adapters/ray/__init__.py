"""Ray backend: ``pip install 'sage-dataflow[ray]'``.

Use when: a Ray cluster runs, or CPU-bound Python steps should use every core.
Supported: every operator and semantic of SAGE (the conformance suite runs on it).
How: stage instances live in host actors (instance ``i`` of a stage on host ``i % hosts``,
threaded so several instances of one host run side by side); each call returns an object
ref; services are actors (one call at a time). Actors are named after the job and
operators, so the Ray dashboard shows them by name.
Caveats: an actor that dies loses its instances (the job fails).

    env.submit(backend="ray")                   # ray.init() locally (or reuse a running one)
    env.submit(backend="ray", address="auto")   # an existing cluster
"""

from sage_adapters.ray.backend import RayBackend, RayOptions

__all__ = ["RayBackend", "RayOptions"]
