"""Backends by name. The core never imports an adapter: adapters register here, or are
found through the ``sage.backends`` entry-point group and imported on first use.

Example::

    from sage_core.registry import get_backend
    backend_cls = get_backend("local")
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING

from sage_core.errors import BackendUnavailableError

if TYPE_CHECKING:
    from sage_core.runtime.backend import Backend

ENTRY_POINT_GROUP = "sage.backends"
EXTRAS = {"dask": "dask", "ray": "ray", "prefect": "prefect"}

_registered: dict[str, type[Backend]] = {}


def register_backend(name: str, backend: type[Backend]) -> None:
    """Make ``backend`` available as ``env.submit(backend=name)``."""
    _registered[name] = backend


def available_backends() -> list[str]:
    names = set(_registered) | {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names)


def get_backend(name: str) -> type[Backend]:
    if name in _registered:
        return _registered[name]
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            try:
                backend = ep.load()
            except ImportError as exc:
                extra = EXTRAS.get(name, name)
                msg = f"backend {name!r} needs extra packages: pip install 'sage-dataflow[{extra}]' ({exc})"
                raise BackendUnavailableError(msg) from exc
            _registered[name] = backend
            return backend
    msg = f"unknown backend {name!r}; available: {', '.join(available_backends()) or 'none'}"
    raise BackendUnavailableError(msg)
