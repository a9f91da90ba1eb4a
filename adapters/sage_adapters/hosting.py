"""Stage instances hosted in worker processes, shared by the Dask, Ray and Prefect adapters.

A worker process keeps a registry of the ``StageInstance`` objects placed on it, keyed by
job id, stage and parallel index; calls look instances up there, so state stays in the
process between bundles. ``place`` decides which host runs which instance.

For the data plane a process can also keep a call's large output parts until the backend
picks each one up as its own object (``call_keeping_parts`` then ``take_part``, on Dask),
so that records go from this worker to the one that needs them without crossing the
driver; small parts travel with the call's result as bytes the driver does not open.
"""

from __future__ import annotations

import pickle
import threading
from typing import Any, NamedTuple

import cloudpickle

from sage_adapters.shipping import unpack
from sage_core.runtime.instance import CallOutput, StageInstance
from sage_core.runtime.services import ServiceClient
from sage_core.runtime.session import JobSpec

_INSTANCES: dict[tuple[str, int, int], StageInstance] = {}
_PARTS: dict[tuple[str, str, int, int], list] = {}  # (job, call, route, target) -> records
_LOCK = threading.Lock()


def place(job: JobSpec, hosts: int) -> dict[tuple[int, int], int]:
    """Instance ``(stage, index)`` -> host number: parallel index ``i`` goes to host ``i % hosts``,
    so the instances of a parallel stage land on different processes."""
    return {(s.id, i): i % hosts for s in job.plan.stages for i in range(s.parallelism)}


def create(job_id: str, job: JobSpec | bytes, keys: list[tuple[int, int]], services: ServiceClient) -> int:
    """Create and open the given instances in this process (``job`` as it is, or packed by
    ``sage_adapters.shipping``); returns how many."""
    spec: JobSpec = unpack(job)
    stages = {s.id: s for s in spec.plan.stages}
    for sid, index in keys:
        inst = StageInstance(stages[sid], index, spec.instance_config, services)
        inst.open()
        with _LOCK:
            _INSTANCES[(job_id, sid, index)] = inst
    return len(keys)


def call(job_id: str, stage: int, index: int, method: str, args: tuple) -> Any:
    return getattr(_INSTANCES[(job_id, stage, index)], method)(*args)


# Parts up to this size (pickled) travel with the call's result, as bytes the driver hands on
# unopened: a shuffle of small records then costs no extra task or transfer per part, and
# the driver's work per record stays bounded (a larger part always stays on the workers).
INLINE_PART_BYTES = 1024 * 1024


class KeptPart(NamedTuple):
    """A part kept in the process that made it, for a consumer in the same process (which
    takes it from there: nothing moves) or for :func:`take_part`."""

    job_id: str
    call_id: str
    route: int
    target: int
    host: str  # the worker that keeps it


class InlinePart(NamedTuple):
    """A small part travelling with the call's result, pickled: the driver hands the bytes
    on without opening them (as Ray inlines small objects into task calls)."""

    blob: bytes

    def records(self) -> list:
        return pickle.loads(self.blob)


def call_keeping_parts(job_id: str, call_id: str, stage: int, index: int, method: str, args: tuple) -> Any:
    """:func:`call` for a backend that moves parts itself. Each output part up to
    ``INLINE_PART_BYTES`` comes back as an :class:`InlinePart`; a larger one stays in this
    process for :func:`take_part` and comes back as ``None`` (its count only). Input parts
    given as :class:`KeptPart` or :class:`InlinePart` are opened here."""
    if method == "process":
        args = ([(i, _records(data)) for i, data in args[0]],)
    out = call(job_id, stage, index, method, args)
    if isinstance(out, CallOutput) and out.routed:
        routed = []
        for part in out.routed:
            blob = _small_pickle(part.data)
            if blob is not None:
                routed.append(part._replace(data=InlinePart(blob)))
                continue
            with _LOCK:
                _PARTS[(job_id, call_id, part.route, part.target)] = part.data
            routed.append(part._replace(data=None))
        out.routed = routed
    return out


def take_part(job_id: str, call_id: str, route: int, target: int) -> list:
    """The records a call kept for ``(route, target)`` (an empty list when it kept none)."""
    with _LOCK:
        return _PARTS.pop((job_id, call_id, route, target), [])


def _records(data: Any) -> list:
    if isinstance(data, KeptPart):
        return take_part(data.job_id, data.call_id, data.route, data.target)
    if isinstance(data, InlinePart):
        return data.records()
    return data


def _small_pickle(records: list) -> bytes | None:
    """The pickled records if they fit in ``INLINE_PART_BYTES``, else None (judged from a
    sample first, so a large part is not pickled here only to be measured)."""
    sample = records[:8]
    try:
        if len(_dumps(sample)) * len(records) > len(sample) * INLINE_PART_BYTES:
            return None
        blob = _dumps(records)
    except Exception:  # noqa: BLE001 - not picklable here: let the engine move it
        return None
    return blob if len(blob) <= INLINE_PART_BYTES else None


def _dumps(obj: Any) -> bytes:
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - classes shipped by value need cloudpickle
        return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def drop(job_id: str) -> int:
    """Forget a job's instances and any parts not taken; returns how many instances."""
    with _LOCK:
        keys = [k for k in _INSTANCES if k[0] == job_id]
        for k in keys:
            del _INSTANCES[k]
        for part in [k for k in _PARTS if k[0] == job_id]:
            del _PARTS[part]
    return len(keys)
