"""SAGE core: the DataStream API, the graph IR, function classes and the runtime.

Rooms: ``api/`` (what users write), ``ir/`` (the typed graph, validation, the plan),
``runtime/`` (what runs it, shared by every backend), ``reliability/`` (checkpoints,
restarts, storage, sinks), ``observe/`` (metrics, results, logs, progress). ``sage_core``
imports no adapter, native extension or recipe: they register through ``registry`` and
``runtime.lookup`` (see docs/architecture.md).

Example::

    from sage_core import Environment, MapFunction

    class Upper(MapFunction):
        def execute(self, data):
            return data.upper()

    env = Environment("hello")
    env.from_batch(["a", "b", "c"]).map(Upper).filter(lambda s: s != "B").sink(print)
    env.submit(autostop=True)
"""

from sage_core import _moved

_moved.install()

from sage_core import ir  # noqa: E402 - after the hook that serves old module paths
from sage_core.api.config import EnvConfig  # noqa: E402
from sage_core.api.context import RuntimeContext  # noqa: E402
from sage_core.api.datastream import ConnectedStreams, DataStream  # noqa: E402
from sage_core.api.environment import Environment, LocalEnvironment  # noqa: E402
from sage_core.api.functions import (  # noqa: E402
    BaseFunction,
    BatchFunction,
    BatchMapFunction,
    CollectSink,
    CoMapFunction,
    FilterFunction,
    FlatMapFunction,
    JoinFunction,
    KeyByFunction,
    MapFunction,
    PrintSink,
    SinkFunction,
    SourceFunction,
    StopSignal,
)
from sage_core.errors import (  # noqa: E402
    BackendUnavailableError,
    OperatorError,
    PipelineValidationError,
    SageError,
    ServiceError,
    ServiceTimeoutError,
    UnsupportedFeatureError,
    WorkerLostError,
)
from sage_core.observe.results import DeadLetter, JobResult, OperatorMetrics  # noqa: E402
from sage_core.registry import (  # noqa: E402
    available_backends,
    get_backend,
    register_backend,
    register_stream_method,
)
from sage_core.reliability.checkpoint import CheckpointConfig, CheckpointError  # noqa: E402
from sage_core.reliability.restart import (  # noqa: E402
    ExponentialBackoffRestart,
    FailureRateRestart,
    FixedDelayRestart,
    NoRestart,
)
from sage_core.reliability.storage import DirectoryStorage, SQLiteStorage, Storage  # noqa: E402
from sage_core.runtime.job import JobHandle  # noqa: E402
from sage_core.runtime.lookup import register_operator  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError",
    "BaseFunction",
    "BatchFunction",
    "BatchMapFunction",
    "CheckpointConfig",
    "CheckpointError",
    "CoMapFunction",
    "CollectSink",
    "ConnectedStreams",
    "DataStream",
    "DeadLetter",
    "DirectoryStorage",
    "EnvConfig",
    "Environment",
    "ExponentialBackoffRestart",
    "FailureRateRestart",
    "FilterFunction",
    "FixedDelayRestart",
    "FlatMapFunction",
    "JobHandle",
    "JobResult",
    "JoinFunction",
    "KeyByFunction",
    "LocalEnvironment",
    "MapFunction",
    "NoRestart",
    "OperatorError",
    "OperatorMetrics",
    "PipelineValidationError",
    "PrintSink",
    "RuntimeContext",
    "SQLiteStorage",
    "SageError",
    "ServiceError",
    "ServiceTimeoutError",
    "SinkFunction",
    "SourceFunction",
    "StopSignal",
    "Storage",
    "UnsupportedFeatureError",
    "WorkerLostError",
    "available_backends",
    "get_backend",
    "ir",
    "register_backend",
    "register_operator",
    "register_stream_method",
]
