"""Old module paths of ``sage_core`` that still import: ``sage_core.sinks`` is
``sage_core.reliability.sinks`` under its earlier name.

Holds the table of moved modules and the import hook that serves them, so that user code
and checkpoints pickled before the move (which name classes by their old module) keep
working. It must not hold code of its own beyond that.

>>> import sage_core.sinks, sage_core.reliability.sinks
>>> sage_core.sinks is sage_core.reliability.sinks
True
"""

from __future__ import annotations

import importlib
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType

MOVED = {
    "sage_core.environment": "sage_core.api.environment",
    "sage_core.datastream": "sage_core.api.datastream",
    "sage_core.functions": "sage_core.api.functions",
    "sage_core.context": "sage_core.api.context",
    "sage_core.testing": "sage_core.api.testing",
    "sage_core.config": "sage_core.api.config",
    "sage_core.checkpoint": "sage_core.reliability.checkpoint",
    "sage_core.restart": "sage_core.reliability.restart",
    "sage_core.storage": "sage_core.reliability.storage",
    "sage_core.sinks": "sage_core.reliability.sinks",
    "sage_core.metrics": "sage_core.observe.metrics",
    "sage_core.results": "sage_core.observe.results",
    "sage_core.logs": "sage_core.observe.logs",
    "sage_core.progress": "sage_core.observe.progress",
    "sage_core.validate": "sage_core.ir.validate",
    "sage_core.services": "sage_core.runtime.services",
    "sage_core.runtime.plan": "sage_core.ir.plan",
    "sage_core.runtime.backend": "sage_core.runtime.session",
}


class _MovedModules:
    """Finds an old name in ``MOVED`` and hands back the module at its new place."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - the finder protocol
        if fullname not in MOVED:
            return None
        return ModuleSpec(fullname, self)

    def create_module(self, spec) -> ModuleType:  # noqa: ANN001
        module = importlib.import_module(MOVED[spec.name])
        spec.loader_state = module.__spec__  # importlib sets the old name's spec on the module next
        return module

    def exec_module(self, module: ModuleType) -> None:
        """The module at the new place is already executed: give it back its own spec."""
        module.__spec__ = module.__spec__.loader_state  # type: ignore[union-attr]


def install() -> None:
    if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
        sys.meta_path.append(_MovedModules())
