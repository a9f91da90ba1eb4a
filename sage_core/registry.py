"""Plugins by name: backends, and DataStream methods that add operators (such as windows).

The core never imports a plugin: a plugin registers here with a call, or is found through
an entry-point group and imported on first use. ``sage.backends`` maps a backend name to its
``Backend`` class; ``sage.operators`` maps a DataStream method name to a function
``(stream, *args, **kwargs)`` that adds the plugin's nodes (see docs/architecture.md). The
runtime classes of plugin node types are registered in ``sage_core.runtime.lookup``.

Example::

    from sage_core.registry import get_backend
    backend_cls = get_backend("local")
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from typing import TYPE_CHECKING, Any

from sage_core.errors import BackendUnavailableError, PipelineValidationError

if TYPE_CHECKING:
    from sage_core.runtime.session import Backend

BACKEND_GROUP = ENTRY_POINT_GROUP = "sage.backends"
OPERATOR_GROUP = "sage.operators"
# The pip extra that brings each plugin SAGE knows of (for the error when it is missing).
EXTRAS = {"dask": "dask", "ray": "ray", "prefect": "prefect", "window": "the native build: pip install -e ."}

_registered: dict[str, type[Backend]] = {}
_methods: dict[str, Callable[..., Any]] = {}
_entry_points: dict[str, dict[str, metadata.EntryPoint]] = {}


def _group(group: str) -> dict[str, metadata.EntryPoint]:
    if group not in _entry_points:
        _entry_points[group] = {ep.name: ep for ep in metadata.entry_points(group=group)}
    return _entry_points[group]


def _install_hint(name: str) -> str:
    extra = EXTRAS.get(name, name)
    return extra if ":" in extra else f"pip install 'sage-dataflow[{extra}]'"


def register_backend(name: str, backend: type[Backend]) -> None:
    """Make ``backend`` available as ``env.submit(backend=name)``."""
    _registered[name] = backend


def available_backends() -> list[str]:
    return sorted(set(_registered) | set(_group(BACKEND_GROUP)))


def get_backend(name: str) -> type[Backend]:
    if name in _registered:
        return _registered[name]
    ep = _group(BACKEND_GROUP).get(name)
    if ep is None:
        msg = f"unknown backend {name!r}; available: {', '.join(available_backends()) or 'none'}"
        raise BackendUnavailableError(msg)
    try:
        backend = ep.load()
    except ImportError as exc:
        msg = f"backend {name!r} needs extra packages: {_install_hint(name)} ({exc})"
        raise BackendUnavailableError(msg) from exc
    _registered[name] = backend
    return backend


def register_stream_method(name: str, method: Callable[..., Any]) -> None:
    """Make ``stream.<name>(*args, **kwargs)`` call ``method(stream, *args, **kwargs)``."""
    _methods[name] = method


def stream_method(name: str, missing: type[Exception] = PipelineValidationError) -> Callable[..., Any]:
    """The plugin function behind ``stream.<name>(...)``; ``missing`` is raised when no
    plugin provides it (naming what to install when SAGE knows)."""
    method = _methods.get(name)
    if method is not None:
        return method
    ep = _group(OPERATOR_GROUP).get(name)
    if ep is None:
        if name in EXTRAS:
            raise missing(f"DataStream.{name}() comes from a plugin that is not installed: {_install_hint(name)}")
        raise missing(f"'DataStream' object has no attribute {name!r} (and no plugin registers it under {OPERATOR_GROUP!r})")
    try:
        method = ep.load()
    except ImportError as exc:
        msg = f"DataStream.{name}() needs a plugin that failed to import ({exc}): {_install_hint(name)}"
        raise missing(msg) from exc
    _methods[name] = method
    return method
