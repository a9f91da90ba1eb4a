"""Environments: where a pipeline is declared, and how it is submitted to a backend.

Example::

    from sage_core import Environment

    env = Environment("hello")
    env.from_batch(["a", "b", "c"]).map(str.upper).print()
    result = env.submit()            # blocks until drained (autostop=True)
    result = env.submit(backend="dask", address="tcp://10.0.0.5:8786")  # same graph elsewhere
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from sage_core import ir
from sage_core.api.config import EnvConfig
from sage_core.api.datastream import DataStream
from sage_core.api.functions import BatchFunction, SourceFunction
from sage_core.errors import PipelineValidationError
from sage_core.ir.plan import PhysicalPlan, build_plan
from sage_core.ir.validate import validate
from sage_core.observe.results import JobResult
from sage_core.registry import get_backend
from sage_core.reliability.checkpoint import CheckpointConfig
from sage_core.reliability.restart import NoRestart, RestartStrategy
from sage_core.runtime.driver import Driver
from sage_core.runtime.instance import InstanceConfig
from sage_core.runtime.job import JobHandle
from sage_core.runtime.lookup import runtime_class
from sage_core.runtime.services import ServiceSpec
from sage_core.runtime.session import Backend, JobSpec

BACKEND_ENV_VAR = "SAGE_BACKEND"
_backend_override: tuple[str, dict[str, Any]] | None = None
_job_listeners: list[Callable[[JobResult], None]] = []
_start_listeners: list[Callable[[JobHandle], None]] = []


def add_job_listener(listener: Callable[[JobResult], None]) -> None:
    """Call ``listener(result)`` after every job submitted with ``autostop=True`` (used by ``sage run --json``)."""
    _job_listeners.append(listener)


def remove_job_listener(listener: Callable[[JobResult], None]) -> None:
    _job_listeners.remove(listener)


def add_start_listener(listener: Callable[[JobHandle], None]) -> None:
    """Call ``listener(handle)`` when any job starts (used by ``sage run``'s live progress)."""
    _start_listeners.append(listener)


def remove_start_listener(listener: Callable[[JobHandle], None]) -> None:
    _start_listeners.remove(listener)


def override_backend(name: str | None, **options: Any) -> None:
    """Run every following ``submit()`` on ``name`` (used by ``sage run --backend``)."""
    global _backend_override
    _backend_override = None if name is None else (name, options)


class Environment:
    """Declares a pipeline and submits it to a backend chosen by name.

    ``config`` is an :class:`~sage_core.api.config.EnvConfig` or a dict of its fields;
    ``backend_options`` are passed to the backend (validated by its options model).
    """

    default_backend = "local"

    def __init__(
        self,
        name: str = "sage",
        *,
        config: EnvConfig | dict[str, Any] | None = None,
        strict: bool | None = None,
        backend: str | None = None,
        **backend_options: Any,
    ):
        self.name = name
        cfg = config if isinstance(config, EnvConfig) else EnvConfig(**(config or {}))
        self.config = cfg if strict is None else cfg.model_copy(update={"strict": strict})
        self.backend = backend or self.default_backend
        self.backend_options = backend_options
        self._nodes: list[ir.Node] = []
        self._futures: dict[str, int] = {}
        self._services: dict[str, ServiceSpec] = {}
        self.checkpointing: CheckpointConfig | None = None
        self.restart_strategy: RestartStrategy = NoRestart()
        self._checks: list[tuple[str, Callable[[list], None]]] = []
        self._arrow_collects: set[str] = set()  # collect(name, format="arrow")

    # -- sources -----------------------------------------------------------------------
    def from_batch(self, data: Iterable[Any] | type[BatchFunction], *args: Any, name: str | None = None, **kwargs: Any) -> DataStream:
        """A bounded source: a list or any iterable, or a ``BatchFunction`` class.

        >>> env = Environment("doc")
        >>> env.from_batch([1, 2, 3]).map(lambda x: x * 10).collect("out")  # doctest: +ELLIPSIS
        <sage_core.api.datastream.DataStream object at ...>
        >>> sorted(env.submit().collected["out"])
        [10, 20, 30]
        """
        if inspect.isclass(data):
            if not callable(getattr(data, "execute", None)):
                msg = f"from_batch(): class {data.__qualname__} has no execute(); subclass BatchFunction"
                raise PipelineValidationError(msg)
            if issubclass(data, SourceFunction):
                msg = f"from_batch(): {data.__qualname__} is a SourceFunction; use env.from_source({data.__qualname__})"
                raise PipelineValidationError(msg)
            spec = ir.FunctionSpec(data, tuple(args), dict(kwargs))
        elif isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
            msg = f"from_batch() needs a list, an iterable or a BatchFunction class, got {type(data).__name__}"
            raise PipelineValidationError(msg)
        else:
            spec = ir.FunctionSpec(data)
        return self._add(ir.BatchSource, spec, [], 1, name)

    def from_collection(self, data: Iterable[Any], *, name: str | None = None) -> DataStream:
        """Deprecated: the same as :meth:`from_batch`, which takes any iterable."""
        warnings.warn("from_collection() is deprecated; use from_batch(), which takes any iterable", DeprecationWarning, stacklevel=2)
        return self.from_batch(data, name=name)

    def from_arrow(self, data: Any, *, batch_size: int | None = None, name: str | None = None, **dataset_options: Any) -> DataStream:
        """A bounded columnar source: its records are ``pyarrow.RecordBatch`` objects.

        ``data`` is a ``pyarrow.Table``, a ``RecordBatch``, a ``RecordBatchReader`` or an
        iterable of RecordBatches (cut to at most ``batch_size`` rows), or files read through
        ``pyarrow.dataset``: a path, a directory, a glob, a list of them or a
        ``FileSystemDataset`` (Parquet, CSV, ...; ``dataset_options`` such as ``columns=``,
        ``filter=``, ``format=`` go to :class:`~sage_core.columnar.DatasetSource`, whose
        position is checkpointed). See docs/columnar.md.

        >>> import pyarrow as pa
        >>> env = Environment("arrow")
        >>> _ = env.from_arrow(pa.table({"user": ["a", "b", "a"]})).keyby("user").collect("out", format="arrow")
        >>> env.submit().collected["out"].num_rows
        3
        """
        if _is_files(data):
            from sage_core.columnar.files import DatasetSource

            options = {"batch_size": batch_size or 65_536, **dataset_options}
            spec = ir.FunctionSpec(DatasetSource, (data,), options)
        else:
            if dataset_options:
                msg = f"from_arrow(): {', '.join(sorted(dataset_options))} apply to files only, not to in-memory {type(data).__name__}"
                raise PipelineValidationError(msg)
            from sage_core.columnar.arrow import batches_of

            try:
                spec = ir.FunctionSpec(batches_of(data, batch_size))
            except TypeError as exc:
                raise PipelineValidationError(str(exc)) from None
        stream = self._add(ir.BatchSource, spec, [], 1, name)
        stream.columnar = True
        return stream

    def from_source(self, source: type[SourceFunction], *args: Any, parallelism: int = 1, name: str | None = None, **kwargs: Any) -> DataStream:
        """An unbounded source polled by SAGE until it returns ``StopSignal`` (or the job is cancelled).

        With ``parallelism > 1`` each instance reads its share (``self.ctx.parallel_index``).
        """
        if not (inspect.isclass(source) and callable(getattr(source, "execute", None))):
            msg = f"from_source() needs a SourceFunction class, got {source!r}"
            raise PipelineValidationError(msg)
        if issubclass(source, BatchFunction):
            msg = f"from_source(): {source.__qualname__} is a BatchFunction; use env.from_batch({source.__qualname__})"
            raise PipelineValidationError(msg)
        spec = ir.FunctionSpec(source, tuple(args), dict(kwargs))
        return self._add(ir.PollSource, spec, [], parallelism, name)

    def from_future(self, name: str) -> DataStream:
        """A placeholder stream for a loop; close it with ``stream.fill_future(future)``."""
        if name in self._futures:
            msg = f"from_future({name!r}): a future of that name already exists"
            raise PipelineValidationError(msg)
        stream = self._add(ir.Future, None, [], None, f"future_{name}", future=name)
        self._futures[name] = stream.node_id
        return stream

    # -- services ----------------------------------------------------------------------
    def enable_checkpointing(
        self, storage: Any, interval: float = 10.0, *, keep: int = 2, resume: bool = True
    ) -> CheckpointConfig:
        """Save source positions and operator state every ``interval`` seconds to ``storage``
        (a directory, ``"sqlite:///file.db"`` or a :class:`~sage_core.reliability.storage.Storage`);
        ``submit()`` resumes from the newest checkpoint of a job with this name.
        See :mod:`sage_core.reliability.checkpoint` for the guarantees.
        """
        self.checkpointing = CheckpointConfig(storage=storage, interval=interval, keep=keep, resume=resume)
        return self.checkpointing

    def set_restart_strategy(self, strategy: RestartStrategy) -> None:
        """What to do when the job fails: e.g. ``FixedDelayRestart(attempts=3, delay=1.0)``
        (see :mod:`sage_core.reliability.restart`). With checkpointing the restarted job resumes from the
        last checkpoint."""
        if not isinstance(strategy, RestartStrategy):
            msg = f"set_restart_strategy() needs a sage_core.reliability.restart strategy, got {strategy!r}"
            raise TypeError(msg)
        self.restart_strategy = strategy

    def register_service(self, name: str, cls: Any, *args: Any, **kwargs: Any) -> None:
        """Make ``cls(*args, **kwargs)`` callable from every operator as service ``name``."""
        if name in self._services:
            msg = f"register_service({name!r}): a service of that name is already registered"
            raise PipelineValidationError(msg)
        if not callable(cls):
            msg = f"register_service({name!r}): expected a class or factory, got {cls!r}"
            raise PipelineValidationError(msg)
        self._services[name] = ServiceSpec(name, cls, tuple(args), dict(kwargs))

    # -- graph -------------------------------------------------------------------------
    def _add(
        self,
        node_type: type[ir.Node],
        spec: ir.FunctionSpec | None,
        inputs: list[ir.Edge],
        parallelism: int | None,
        name: str | None,
        **fields: Any,
    ) -> DataStream:
        """Append a ``node_type`` node with ``fields`` (its own options) to the graph."""
        node_id = len(self._nodes)
        node_name = name or f"{node_type.kind}_{node_id}"
        if any(n.name == node_name for n in self._nodes):
            msg = f"two operators are named {node_name!r}; give each a distinct name="
            raise PipelineValidationError(msg)
        par = self.config.parallelism if parallelism is None else parallelism
        if not isinstance(par, int) or par < 1:
            msg = f"operator {node_name!r}: parallelism must be an integer >= 1, got {par!r}"
            raise PipelineValidationError(msg)
        self._nodes.append(node_type(id=node_id, name=node_name, function=spec, parallelism=par, inputs=tuple(inputs), **fields))
        return DataStream(self, node_id)

    def _fill_future(self, future: DataStream, stream: DataStream) -> None:
        node = self._nodes[future.node_id]
        if not isinstance(node, ir.Future):
            msg = f"fill_future(): {node.name!r} is not a future; make one with env.from_future(name)"
            raise PipelineValidationError(msg)
        if node.inputs:
            msg = f"fill_future(): future {node.future!r} is already filled"
            raise PipelineValidationError(msg)
        self._nodes[future.node_id] = node.replace(
            parallelism=self._nodes[stream.node_id].parallelism,
            inputs=(ir.Edge(stream.node_id, 0, feedback=True, port=stream.port),),
        )

    def add_check(self, label: str, check: Callable[[list], None]) -> None:
        """Run ``check(collected[label])`` after the job (used by ``sage_core.api.testing``)."""
        self._checks.append((label, check))

    def graph(self) -> ir.Graph:
        return ir.Graph(self.name, tuple(self._nodes))

    def explain(self) -> str:
        """The logical graph and the physical plan (stages of fused operators)."""
        graph = self.graph()
        return graph.explain() + "\n" + build_plan(graph).explain()

    def to_dict(self) -> dict[str, Any]:
        return self.graph().to_dict()

    def to_json(self, indent: int | None = 2) -> str:
        return self.graph().to_json(indent)

    def validate(self, backend: str | None = None) -> PhysicalPlan:
        """Check the graph for ``backend`` (default: this environment's) and return its plan."""
        name = backend or self._backend_name()
        return self._plan(name, get_backend(name))

    def _plan(self, name: str, backend_cls: type[Backend]) -> PhysicalPlan:
        """Validate the graph for backend ``name``, check every node has a runtime class there,
        and cut it into stages."""
        graph = self.graph()
        validate(graph, services=tuple(self._services.values()), distributed=backend_cls.distributed, backend=name)
        for node in graph.nodes:
            runtime_class(node, name)
        return build_plan(graph)

    # -- running -----------------------------------------------------------------------
    def _backend_name(self) -> str:
        if _backend_override is not None:
            return _backend_override[0]
        return os.environ.get(BACKEND_ENV_VAR) or self.backend

    def submit(self, autostop: bool = True, *, backend: str | None = None, **options: Any) -> JobResult | JobHandle:
        """Validate, compile and run the pipeline.

        ``autostop=True`` blocks until every bounded source has drained and returns a
        :class:`JobResult`; ``autostop=False`` returns a :class:`JobHandle` at once.
        ``backend`` and ``options`` choose where it runs (``backend="ray", address="auto"``).
        """
        name = backend or self._backend_name()
        merged = dict(self.backend_options)
        if backend is None and _backend_override is not None:
            merged.update(_backend_override[1])
        merged.update(options)
        backend_cls = get_backend(name)
        backend_obj = backend_cls(**merged)
        plan = self._plan(name, backend_cls)
        preferred = {k: v for k, v in backend_obj.config_defaults.items() if k not in self.config.model_fields_set}
        config = self.config.model_copy(update=preferred)
        job = JobSpec(
            name=self.name,
            graph=plan.graph,
            plan=plan,
            services=tuple(self._services.values()),
            instance_config=InstanceConfig(
                job_name=self.name,
                strict=self.config.strict,
                service_timeout=self.config.service_timeout,
                target_parallelism={s.id: s.parallelism for s in plan.stages},
            ),
        )
        def make_driver() -> Driver:
            return Driver(job, backend_obj.open_session(), config, name, self.checkpointing)

        def run(driver: Driver) -> JobResult:
            result = backend_obj.run(job, driver.run)
            for label in self._arrow_collects:
                result.collected[label] = result.to_arrow(label)
            return result

        handle = JobHandle(make_driver, run, self.restart_strategy)
        for start_listener in list(_start_listeners):
            start_listener(handle)
        if not autostop:
            return handle
        result = handle.wait()
        for listener in list(_job_listeners):
            listener(result)
        for label, check in self._checks:
            check(result.collected.get(label, []))
        return result


def _is_files(data: Any) -> bool:
    """Whether ``from_arrow`` was given files (paths, globs, a pyarrow dataset) rather than batches."""
    if isinstance(data, (str, os.PathLike)):
        return True
    if isinstance(data, (list, tuple)) and data and all(isinstance(d, (str, os.PathLike)) for d in data):
        return True
    return type(data).__module__.startswith("pyarrow._dataset")


#: The same class as :class:`Environment` (whose default backend is the local one), kept
#: under the name the first examples used.
LocalEnvironment = Environment
