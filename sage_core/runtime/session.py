"""The contract between the driver and a backend: place instances, call them, wait.

A backend implements two small classes. ``Backend`` validates its options and opens a
``Session`` per job; the session creates one ``StageInstance`` per stage and parallel index
wherever the backend runs code, and calls their methods (``pull``, ``process``, ``finish``)
asynchronously. Everything else (routing, backpressure, end of stream, loops) is the
driver's, shared by all backends.

The data plane is the session's: the parts in a ``CallOutput`` that ``wait`` returns carry
whatever ``submit(..., "process", (batches,))`` accepts back, the records themselves in one
process, references on a cluster (so records move worker to worker).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from sage_core import ir
from sage_core.ir.plan import PhysicalPlan
from sage_core.observe.results import JobResult
from sage_core.runtime.instance import CallOutput, InstanceConfig
from sage_core.runtime.services import ServiceSpec


class BackendOptions(BaseModel):
    """Base of every backend's options; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


@dataclass(frozen=True)
class JobSpec:
    name: str
    graph: ir.Graph
    plan: PhysicalPlan
    services: tuple[ServiceSpec, ...]
    instance_config: InstanceConfig


class Session(ABC):
    """One job's footprint on a backend."""

    @abstractmethod
    def start(self, job: JobSpec) -> None:
        """Start services, create every stage instance and call its ``open()``."""

    @abstractmethod
    def submit(self, stage: int, index: int, method: str, args: tuple) -> Any:
        """Call ``method(*args)`` on instance ``index`` of ``stage``; return a handle at once."""

    @abstractmethod
    def wait(self, handles: list[Any], timeout: float | None) -> list[tuple[Any, CallOutput | BaseException]]:
        """Block until at least one handle is done (or ``timeout``); return the done ones."""

    def fetch(self, data: Any) -> list:
        """The records behind a part's ``data`` as ``wait`` returned it (the driver reads
        records only for the rare ones that reach an operator after it finished)."""
        return data

    @abstractmethod
    def close(self) -> None:
        """Release instances and stop services (also after a failure)."""


class Backend(ABC):
    """A named way to run pipelines. Subclasses set ``name``, ``Options`` and ``distributed``."""

    name: ClassVar[str]
    distributed: ClassVar[bool] = False  # functions must pickle
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    # EnvConfig values this backend prefers unless the user set them (e.g. larger bundles
    # where each call costs milliseconds).
    config_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **options: Any):
        self.options = self.Options(**options)

    @abstractmethod
    def open_session(self) -> Session: ...

    def run(self, job: JobSpec, run: Callable[[], JobResult]) -> JobResult:
        """Call ``run()``, which drives ``job`` to completion; a backend may wrap the call
        (the Prefect backend runs it inside a flow run)."""
        return run()
