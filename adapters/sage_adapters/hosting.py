"""Stage instances hosted in worker processes, shared by the Dask, Ray and Prefect adapters.

A worker process keeps a registry of the ``StageInstance`` objects placed on it, keyed by
job id, stage and parallel index; calls look instances up there, so state stays in the
process between bundles. ``place`` decides which host runs which instance.

For the data plane a process can also keep a call's output parts until the backend picks
each one up as its own object (``call_keeping_parts`` then ``take_part``, on Dask), so
that records go from this worker to the one that needs them without crossing the driver.
"""

from __future__ import annotations

import threading
from typing import Any

from sage_adapters.shipping import unpack
from sage_core.runtime.backend import JobSpec
from sage_core.runtime.instance import CallOutput, StageInstance
from sage_core.services import ServiceClient

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


def call_keeping_parts(job_id: str, call_id: str, stage: int, index: int, method: str, args: tuple) -> Any:
    """:func:`call`, keeping the output parts here for :func:`take_part`; the returned
    output lists the parts with their counts and no records."""
    out = call(job_id, stage, index, method, args)
    if isinstance(out, CallOutput) and out.routed:
        with _LOCK:
            for part in out.routed:
                _PARTS[(job_id, call_id, part.route, part.target)] = part.data
        out.routed = [part._replace(data=None) for part in out.routed]
    return out


def take_part(job_id: str, call_id: str, route: int, target: int, *after: Any) -> list:
    """The records a call kept for ``(route, target)`` (an empty list when it made none).
    ``after`` is the call itself, so that this runs after it."""
    with _LOCK:
        return _PARTS.pop((job_id, call_id, route, target), [])


def drop(job_id: str) -> int:
    """Forget a job's instances and any parts not taken; returns how many instances."""
    with _LOCK:
        keys = [k for k in _INSTANCES if k[0] == job_id]
        for k in keys:
            del _INSTANCES[k]
        for part in [k for k in _PARTS if k[0] == job_id]:
            del _PARTS[part]
    return len(keys)
