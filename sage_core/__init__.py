"""SAGE core: the DataStream API, the graph IR, function classes and the runtime.

Example::

    from sage_core import LocalEnvironment, MapFunction

    class Upper(MapFunction):
        def execute(self, data):
            return data.upper()

    env = LocalEnvironment("hello")
    env.from_batch(["a", "b", "c"]).map(Upper).filter(lambda s: s != "B").sink(print)
    env.submit(autostop=True)
"""

from sage_core.checkpoint import CheckpointConfig, CheckpointError
from sage_core.config import EnvConfig
from sage_core.context import RuntimeContext
from sage_core.datastream import ConnectedStreams, DataStream
from sage_core.environment import Environment, LocalEnvironment
from sage_core.errors import (
    BackendUnavailableError,
    JobCancelledError,
    OperatorError,
    PipelineValidationError,
    SageError,
    ServiceError,
    ServiceTimeoutError,
    UnsupportedFeatureError,
    WorkerLostError,
)
from sage_core.functions import (
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
from sage_core.registry import available_backends, get_backend, register_backend
from sage_core.restart import (
    ExponentialBackoffRestart,
    FailureRateRestart,
    FixedDelayRestart,
    NoRestart,
)
from sage_core.results import DeadLetter, JobResult, OperatorMetrics
from sage_core.runtime.job import JobHandle
from sage_core.storage import DirectoryStorage, SQLiteStorage, Storage

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError",
    "BaseFunction",
    "BatchFunction",
    "CheckpointConfig",
    "CheckpointError",
    "BatchMapFunction",
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
    "JobCancelledError",
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
    "register_backend",
]
