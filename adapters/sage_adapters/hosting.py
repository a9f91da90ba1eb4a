"""Stage instances hosted in worker processes, shared by the Dask and Ray adapters.

A worker process keeps a registry of the ``StageInstance`` objects placed on it, keyed by
job id, stage and parallel index; calls look instances up there, so state stays in the
process between bundles. ``place`` decides which host runs which instance.
"""

from __future__ import annotations

import threading
from typing import Any

from sage_core.runtime.backend import JobSpec
from sage_core.runtime.instance import StageInstance
from sage_core.services import ServiceClient

_INSTANCES: dict[tuple[str, int, int], StageInstance] = {}
_LOCK = threading.Lock()


def place(job: JobSpec, hosts: int) -> dict[tuple[int, int], int]:
    """Instance ``(stage, index)`` -> host number: parallel index ``i`` goes to host ``i % hosts``,
    so the instances of a parallel stage land on different processes."""
    return {(s.id, i): i % hosts for s in job.plan.stages for i in range(s.parallelism)}


def create(job_id: str, job: JobSpec, keys: list[tuple[int, int]], services: ServiceClient) -> int:
    """Create and open the given instances in this process; returns how many."""
    stages = {s.id: s for s in job.plan.stages}
    for sid, index in keys:
        inst = StageInstance(stages[sid], index, job.instance_config, services)
        inst.open()
        with _LOCK:
            _INSTANCES[(job_id, sid, index)] = inst
    return len(keys)


def call(job_id: str, stage: int, index: int, method: str, args: tuple) -> Any:
    return getattr(_INSTANCES[(job_id, stage, index)], method)(*args)


def drop(job_id: str) -> int:
    with _LOCK:
        keys = [k for k in _INSTANCES if k[0] == job_id]
        for k in keys:
            del _INSTANCES[k]
    return len(keys)
