"""Checkpoints: a job's source positions and operator state, saved at an interval, resumed after a failure.

How a checkpoint is taken: the driver stops pulling from sources, lets every record in
flight drain (so no record is half-way between operators), asks every instance for its
state (source position, keyed state, window state, a function's own ``snapshot()``), and
writes one blob through a :mod:`~sage_core.reliability.storage`. Then the sources go on. A job submitted
again with the same name finds the newest checkpoint and resumes from it; a job that
completes deletes its checkpoints.

Guarantees: records collected with ``collect()`` and dead letters are part of the checkpoint,
so a resumed job returns each exactly once. Other sinks see the records after the last
checkpoint again (at-least-once), unless they save their own position in ``snapshot()`` and
roll back to it in ``restore()`` (exactly-once, see :class:`sage_core.reliability.sinks.JsonlSink`).

Checkpoints are pickled: load only checkpoints your own jobs wrote. Each carries a
SHA-256 of its payload, checked before unpickling, so a damaged file is never loaded. When the
newest checkpoint cannot be read (damaged, cut short, not a checkpoint), the job warns with its
key and resumes from the newest one that can (``keep=2`` holds one spare); only when none can
be read does it stop with a :class:`CheckpointError`.

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
import warnings
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sage_core import ir
from sage_core.errors import SageError
from sage_core.reliability.storage import Storage, storage_from

__all__ = ["CheckpointConfig", "CheckpointError", "Checkpoints"]

MAGIC_PREFIX = b"SAGE-CHECKPOINT-"
# 3: a SHA-256 of the payload follows the magic line; 2 (no checksum) is still read.
MAGIC = MAGIC_PREFIX + b"3\n"
MAGIC_V2 = MAGIC_PREFIX + b"2\n"
DIGEST_SIZE = hashlib.sha256().digest_size


class CheckpointError(SageError):
    """A checkpoint cannot be written, read or applied to this job."""


class UnreadableCheckpoint(CheckpointError):
    """One stored checkpoint is damaged or not a checkpoint; an older one may still serve."""


def encode(state: dict[str, Any]) -> bytes:
    """``MAGIC | sha256(payload) | payload`` with ``payload = pickle(state)``.

    >>> decode("job/1", encode({"id": 1, "fingerprint": "ab12"}))
    {'id': 1, 'fingerprint': 'ab12'}
    """
    payload = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    return MAGIC + hashlib.sha256(payload).digest() + payload


def decode(key: str, data: bytes | None) -> dict[str, Any]:
    """The state in checkpoint ``key``; raises :class:`UnreadableCheckpoint` saying why not.

    >>> blob = bytearray(encode({"id": 1, "fingerprint": "ab12"})); blob[-3] ^= 1
    >>> try:
    ...     decode("job/1", bytes(blob))
    ... except UnreadableCheckpoint as exc:
    ...     print(exc)
    checkpoint 'job/1' is damaged: its payload does not match its SHA-256 checksum
    """
    if data is None:
        msg = f"checkpoint {key!r} vanished while being read"
        raise UnreadableCheckpoint(msg)
    if data.startswith(MAGIC):
        digest = data[len(MAGIC) : len(MAGIC) + DIGEST_SIZE]
        payload = data[len(MAGIC) + DIGEST_SIZE :]
        if hashlib.sha256(payload).digest() != digest:
            msg = f"checkpoint {key!r} is damaged: its payload does not match its SHA-256 checksum"
            raise UnreadableCheckpoint(msg)
    elif data.startswith(MAGIC_V2):
        payload = data[len(MAGIC_V2) :]
    else:
        what = "an older SAGE checkpoint format" if data.startswith(MAGIC_PREFIX) else "not a SAGE checkpoint"
        msg = f"checkpoint {key!r} is {what}"
        raise UnreadableCheckpoint(msg)
    try:
        state = pickle.loads(payload)
    except Exception as exc:
        msg = f"checkpoint {key!r} cannot be unpickled ({type(exc).__name__}: {exc})"
        raise UnreadableCheckpoint(msg) from exc
    if not isinstance(state, dict) or "fingerprint" not in state:
        msg = f"checkpoint {key!r} holds no SAGE job state"
        raise UnreadableCheckpoint(msg)
    return state


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
        bad: list[str] = []
        for key in reversed(keys):
            try:
                state = decode(key, self.storage.get(key))
            except UnreadableCheckpoint as exc:
                bad.append(str(exc))
                continue
            if state["fingerprint"] != self.fingerprint:
                msg = (
                    f"checkpoint {key!r} in {self.storage!r} was taken by a different pipeline named {self.job!r} "
                    "(operators, parallelism or edges changed); delete it, rename the job, or pass resume=False"
                )
                raise CheckpointError(msg)
            if bad:
                warnings.warn(
                    f"job {self.job!r}: skipped unreadable checkpoint(s) in {self.storage!r}: "
                    f"{'; '.join(bad)}. Resuming from the older checkpoint {key!r}; the job's next "
                    "checkpoints overwrite the damaged ones.",
                    RuntimeWarning,
                    stacklevel=2,
                )
            self.last_id = state["id"]
            return state
        msg = (
            f"job {self.job!r}: no checkpoint in {self.storage!r} can be read: {'; '.join(bad)}. "
            "Delete them (or pass resume=False) to start afresh"
        )
        raise CheckpointError(msg)

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
            blob = encode(state)
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
