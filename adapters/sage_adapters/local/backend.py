"""The local backend: stage instances on a thread pool in this process."""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from pydantic import Field

from sage_core.runtime.instance import CallOutput, StageInstance
from sage_core.runtime.services import LocalServiceHost
from sage_core.runtime.session import Backend, BackendOptions, JobSpec, Session


class LocalOptions(BackendOptions):
    max_threads: int | None = Field(None, ge=1, description="threads for operator calls (default: one per instance)")


class LocalSession(Session):
    def __init__(self, options: LocalOptions):
        self.options = options
        self.instances: dict[tuple[int, int], StageInstance] = {}
        self.pool: ThreadPoolExecutor | None = None
        self.services: LocalServiceHost | None = None

    def start(self, job: JobSpec) -> None:
        self.services = LocalServiceHost(list(job.services))
        self.services.start()
        client = self.services.client()
        count = sum(s.parallelism for s in job.plan.stages)
        self.pool = ThreadPoolExecutor(self.options.max_threads or count, thread_name_prefix=f"sage-{job.name}")
        for stage in job.plan.stages:
            for i in range(stage.parallelism):
                self.instances[(stage.id, i)] = StageInstance(stage, i, job.instance_config, client)
        for future in [self.pool.submit(inst.open) for inst in self.instances.values()]:
            future.result()

    def submit(self, stage: int, index: int, method: str, args: tuple) -> Future:
        assert self.pool is not None
        return self.pool.submit(getattr(self.instances[(stage, index)], method), *args)

    def wait(self, handles: list[Future], timeout: float | None) -> list[tuple[Any, CallOutput | BaseException]]:
        done, _ = wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        return [(f, f.exception() or f.result()) for f in done]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        if self.services is not None:
            self.services.stop()


class LocalBackend(Backend):
    name = "local"
    distributed = False
    Options = LocalOptions
    options: LocalOptions

    def open_session(self) -> LocalSession:
        return LocalSession(self.options)
