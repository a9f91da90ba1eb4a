"""Shipping a job's code to Dask and Ray workers that do not have the user's modules.

Holds the choice of modules sent by value, the packing of a job into bytes, and the check
before the run that every module the job names can be imported on a worker. It holds no
backend code: the Dask and Ray adapters call it with a way to ask one of their workers.

Functions and classes from the user's own modules (files under the script's folder, not
installed packages) that the workers cannot import are pickled by value with cloudpickle's
``register_pickle_by_value``, so a worker runs them without the module on its path::

    env.submit(backend="dask", address="tcp://10.0.0.5:8786")                    # as needed
    env.submit(backend="dask", address="...", ship_modules=["wc_pipeline"])      # always these
    env.submit(backend="dask", address="...", ship_modules=False)                # installed there
"""

from __future__ import annotations

import functools
import importlib.util
import io
import os
import pickle
import site
import sys
import sysconfig
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import cloudpickle
from pydantic import Field

from sage_core.errors import PipelineValidationError
from sage_core.runtime.session import BackendOptions, JobSpec

# SAGE's own packages must be installed on the workers (they run the job), so never by value.
_OWN = ("sage_core", "sage_adapters", "sage_db", "sage_flow", "sage_recipes")


class ShippingOptions(BackendOptions):
    """The ``ship_modules`` option of the Dask and Ray backends."""

    ship_modules: bool | list[str] = Field(
        True,
        description="send user code with the job: True = modules under the script's folder, "
        "a list = these modules, False = none (they must be installed on the workers)",
    )


def script_folder() -> Path:
    """The folder of the running script (``python wc.py``, ``sage run wc.py``), else the
    working directory (a notebook, ``python -c``)."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file and not _installed(Path(main_file).resolve()):
        return Path(main_file).resolve().parent
    return Path.cwd().resolve()


def user_modules(folder: Path | None = None) -> set[str]:
    """Top-level names of imported modules whose files live under ``folder`` (default:
    :func:`script_folder`) and outside installed packages: the user's own code."""
    root = folder or script_folder()
    found = set()
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        top = name.split(".")[0]
        if not path or name == "__main__" or top in _OWN:
            continue
        resolved = Path(path).resolve()
        if resolved.is_relative_to(root) and not _installed(resolved):
            found.add(top)
    return found


def pack(obj: Any, modules: Iterable[str] = ()) -> bytes:
    """``obj`` pickled with cloudpickle, the code of the given top-level modules by value.

    >>> import pickle
    >>> pickle.loads(pack({"a": 1}))
    {'a': 1}
    """
    registered = []
    try:
        for name in modules:
            module = sys.modules.get(name)
            if module is not None and name not in cloudpickle.list_registry_pickle_by_value():
                cloudpickle.register_pickle_by_value(module)
                registered.append(module)
        return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        for module in registered:
            cloudpickle.unregister_pickle_by_value(module)


def unpack(data: Any) -> Any:
    """The object :func:`pack` made (anything else is returned as it is)."""
    return pickle.loads(data) if isinstance(data, bytes) else data


def named_modules(data: bytes) -> set[str]:
    """Top-level modules a pickle refers to by name (what the unpickling process imports)."""
    recorder = _Recorder(io.BytesIO(data))
    recorder.load()
    return {name.split(".")[0] for name in recorder.modules}


def missing_modules(names: Iterable[str]) -> list[str]:
    """The names that cannot be imported in this process (run on a worker)."""
    missing = []
    for name in sorted(names):
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except (ImportError, ValueError):
            missing.append(name)
    return missing


class ShippedJob:
    """A job and its services packed for the workers.

    Modules the workers cannot import are sent by value when ``ship_modules`` allows it
    (``True``: the user's modules under the script's folder; a list: those, always); any
    module still missing is an error naming it, the operators that use it and the fix. So
    a worker that can import a module (an installed package, a local cluster sharing the
    driver's files) gets it by name, as without shipping.

    ``missing_on_workers(names)`` asks one worker which names it cannot import.
    """

    def __init__(self, job: JobSpec, ship_modules: bool | list[str], missing_on_workers: Callable[[set[str]], list[str]], backend: str):
        forced = set() if isinstance(ship_modules, bool) else set(ship_modules)
        allowed = user_modules() if ship_modules is True else set()
        self.shipped = set(forced)
        asked: dict[str, bool] = {}  # module -> missing on the workers
        while True:
            self.job = pack(job, self.shipped)
            self.services = {spec.name: pack(spec, self.shipped) for spec in job.services}
            named = named_modules(self.job).union(*(named_modules(s) for s in self.services.values()))
            unknown = named - self.shipped - asked.keys()
            if unknown:
                found = set(missing_on_workers(unknown))
                asked.update({name: name in found for name in unknown})
            grow = {m for m in named - self.shipped if asked.get(m) and m in allowed}
            if not grow:
                break
            self.shipped |= grow  # their code may name further modules: look again
        missing = sorted(m for m in named - self.shipped if asked.get(m))
        if missing:
            raise PipelineValidationError(self._message(job, missing, backend))

    def _message(self, job: JobSpec, missing: list[str], backend: str) -> str:
        users: dict[str, list[str]] = {m: [] for m in missing}
        parts: list[tuple[str, Any]] = [(f"operator {n.name!r}", n.function) for n in job.graph.nodes if n.function is not None]
        parts += [(f"service {spec.name!r}", spec) for spec in job.services]
        for who, obj in parts:
            for module in named_modules(pack(obj, self.shipped)) & users.keys():
                users[module].append(who)
        lines = [f"  - module {m!r} (used by {', '.join(users[m]) or 'the job'})" for m in missing]
        return (
            f"the {backend} workers cannot import {len(missing)} module(s) this job needs:\n"
            + "\n".join(lines)
            + "\ninstall them on the workers, or send their code with the job: keep them under the "
            f"script's folder ({script_folder()}) with ship_modules=True (the default), or pass "
            f"ship_modules={missing!r}"
        )


class _Recorder(pickle.Unpickler):
    """Loads a pickle, noting every module it imports (also those cloudpickle's
    ``subimport`` brings in for a function's globals)."""

    def __init__(self, file: io.BytesIO):
        super().__init__(file)
        self.modules: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.modules.add(module)
        found = super().find_class(module, name)
        if name in ("subimport", "dynamic_subimport") and module.startswith("cloudpickle"):
            return self._noting(found)
        return found

    def _noting(self, importer: Any) -> Any:
        def imported(name: str, *args: Any) -> Any:
            if importer.__name__ == "subimport":
                self.modules.add(name)
            return importer(name, *args)

        return imported


@functools.cache
def _install_roots() -> tuple[Path, ...]:
    """The interpreter's folders and the site-packages folders (computed once)."""
    roots = {sys.prefix, sys.base_prefix, sysconfig.get_paths()["stdlib"], *site.getsitepackages()}
    user_site = site.getusersitepackages() if hasattr(site, "getusersitepackages") else None
    if user_site:
        roots.add(user_site)
    return tuple(Path(os.path.realpath(r)) for r in roots if r)


def _installed(path: Path) -> bool:
    """Whether ``path`` belongs to the interpreter or an installed package."""
    return any(path.is_relative_to(root) for root in _install_roots())
