"""Checkpoints: a job's source positions and operator state, saved at an interval, resumed after a failure.

How a checkpoint is taken: the driver stops pulling from sources, lets every record in
flight drain (so no record is half-way between operators), asks every instance for its
state (source position, keyed state, window state, a function's own ``snapshot()``), and
writes one blob through a :mod:`~sage_core.storage`. Then the sources go on. A job submitted
again with the same name finds the newest checkpoint and resumes from it; a job that
completes deletes its checkpoints.

Guarantees: records collected with ``collect()`` and dead letters are part of the checkpoint,
so a resumed job returns each exactly once. Other sinks see the records after the last
checkpoint again (at-least-once), unless they save their own position in ``snapshot()`` and
roll back to it in ``restore()`` (exactly-once, see :class:`sage_core.sinks.JsonlSink`).

Checkpoints are pickled: load only checkpoints your own jobs wrote.

Example::

    env = LocalEnvironment("clicks")
    env.enable_checkpointing("state/checkpoints", interval=5.0)
    ...
    env.submit()        # after a crash, the same call resumes from the last checkpoint
"""

from __future__ import annotations

import hashlib
import pickle
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sage_core import ir
from sage_core.errors import SageError
from sage_core.storage import Storage, storage_from

__all__ = ["CheckpointConfig", "CheckpointError", "Checkpoints"]

MAGIC_PREFIX = b"SAGE-CHECKPOINT-"
MAGIC = MAGIC_PREFIX + b"2\n"  # 2: operator counters with filtered, retries and latency


class CheckpointError(SageError):
    """A checkpoint cannot be written, read or applied to this job."""


class CheckpointConfig(BaseModel):
    """Where and how often a job checkpoints.

    >>> CheckpointConfig(storage="/tmp/ckpt", interval=2).interval
    2.0
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)

    storage: Any = Field(description="a directory path, 'sqlite:///file.db', or a Storage object")
    interval: float = Field(10.0, gt=0, description="seconds between checkpoints")
    keep: int = Field(2, ge=1, description="how many of the newest checkpoints to keep")
    resume: bool = Field(True, description="resume from the newest checkpoint when one exists")

    @field_validator("storage")
    @classmethod
    def _storage(cls, value: Any) -> Storage:
        return storage_from(value)


def fingerprint(graph: ir.Graph) -> str:
    """What a checkpoint must match: operator names, kinds, parallelism and edges."""
    shape = [
        (n.name, n.kind, n.parallelism, [(e.source, e.input_index, e.port) for e in n.inputs])
        for n in graph.nodes
    ]
    return hashlib.sha256(repr(shape).encode()).hexdigest()[:16]


class Checkpoints:
    """The checkpoints of one job in a storage: ``<job name>/<number>``."""

    def __init__(self, config: CheckpointConfig, graph: ir.Graph):
        self.config = config
        self.storage: Storage = config.storage
        self.job = graph.name
        self.fingerprint = fingerprint(graph)
        self.next_due = time.monotonic() + config.interval
        self.last_id = 0
        self.saved = 0

    def _keys(self) -> list[str]:
        return [k for k in self.storage.keys(f"{self.job}/") if k[len(self.job) + 1 :].isdigit()]

    def begin(self) -> dict[str, Any] | None:
        """The newest checkpoint of this job to resume from, or ``None``. With ``resume=False``
        the job's old checkpoints are deleted so that a later failure cannot resume into them."""
        if not self.config.resume:
            self.clear()
            return None
        keys = self._keys()
        if not keys:
            return None
        key = keys[-1]
        data = self.storage.get(key)
        if data is None or not data.startswith(MAGIC):
            what = "an older SAGE checkpoint format" if data and data.startswith(MAGIC_PREFIX) else "not a SAGE checkpoint"
            msg = f"checkpoint {key!r} in {self.storage!r} is {what}; delete it (or resume=False) to start afresh"
            raise CheckpointError(msg)
        try:
            state = pickle.loads(data[len(MAGIC) :])
        except Exception as exc:
            msg = f"checkpoint {key!r} in {self.storage!r} cannot be read ({exc}); delete it to start afresh"
            raise CheckpointError(msg) from exc
        if state["fingerprint"] != self.fingerprint:
            msg = (
                f"checkpoint {key!r} in {self.storage!r} was taken by a different pipeline named {self.job!r} "
                "(operators, parallelism or edges changed); delete it, rename the job, or pass resume=False"
            )
            raise CheckpointError(msg)
        self.last_id = state["id"]
        return state

    def due(self) -> bool:
        return time.monotonic() >= self.next_due

    def save(self, driver_state: dict[str, Any], instances: dict[tuple[int, int], bytes]) -> int:
        """Write checkpoint ``last_id + 1``, then drop the ones beyond ``keep``."""
        self.last_id += 1
        state = {
            "id": self.last_id,
            "fingerprint": self.fingerprint,
            "driver": driver_state,
            "instances": instances,
        }
        try:
            blob = MAGIC + pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            msg = f"job {self.job!r}: the collected records or dead letters cannot be saved in a checkpoint: {exc}"
            raise CheckpointError(msg) from exc
        self.storage.put(f"{self.job}/{self.last_id:012d}", blob)
        for old in self._keys()[: -self.config.keep]:
            self.storage.delete(old)
        self.saved += 1
        self.next_due = time.monotonic() + self.config.interval
        return self.last_id

    def clear(self) -> None:
        """The job completed: its checkpoints are no longer needed."""
        for key in self._keys():
            self.storage.delete(key)
