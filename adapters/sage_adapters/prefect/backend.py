"""The Prefect backend: the driver runs inside a flow; every instance call is a task run."""

from __future__ import annotations

import queue
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from sage_adapters import hosting
from sage_adapters.prefect.server import ensure_server
from sage_core.observe.results import JobResult
from sage_core.runtime.instance import CallOutput
from sage_core.runtime.services import LocalServiceHost
from sage_core.runtime.session import Backend, BackendOptions, JobSpec, Session

# Set while a SAGE flow body runs, so a job submitted there uses that flow run.
_inside_sage_flow: ContextVar[bool] = ContextVar("sage_inside_flow", default=False)


class PrefectOptions(BackendOptions):
    """Field names follow Prefect's ``@task`` / ``ThreadPoolTaskRunner`` arguments."""

    retries: int = Field(0, ge=0, description="retries of a failed task run (one bundle call)")
    retry_delay_seconds: float = Field(0.0, ge=0, description="pause between retries")
    max_workers: int | None = Field(None, ge=1, description="task runner threads (default: one per instance)")
    flow_name: str | None = Field(None, description="flow name (default: the pipeline name)")


@task(name="sage-call", cache_policy=NO_CACHE, persist_result=False)
def _call(job_id: str, stage: int, index: int, method: str, args: tuple) -> CallOutput:
    return hosting.call(job_id, stage, index, method, args)


class PrefectSession(Session):
    """Instances live in the flow process; each call is ``_call.submit`` (a task run)."""

    def __init__(self, options: PrefectOptions):
        self.options = options
        self.job_id = uuid.uuid4().hex[:8]
        self.services: LocalServiceHost | None = None
        self.tasks: dict[tuple[int, int, str], Any] = {}
        self.names: dict[int, str] = {}
        self.done: queue.Queue = queue.Queue()

    def start(self, job: JobSpec) -> None:
        self.services = LocalServiceHost(list(job.services))
        self.services.start()
        keys = [(s.id, i) for s in job.plan.stages for i in range(s.parallelism)]
        hosting.create(self.job_id, job, keys, self.services.client())
        self.names = {s.id: s.name for s in job.plan.stages}

    def _task(self, stage: int, index: int, method: str):
        key = (stage, index, method)
        if key not in self.tasks:
            self.tasks[key] = _call.with_options(
                name=f"{self.names[stage]}#{index}.{method}",
                retries=self.options.retries,
                retry_delay_seconds=self.options.retry_delay_seconds,
            )
        return self.tasks[key]

    def submit(self, stage: int, index: int, method: str, args: tuple) -> Any:
        future = self._task(stage, index, method).submit(self.job_id, stage, index, method, args)
        future.add_done_callback(self.done.put)
        return future

    def wait(self, handles: list[Any], timeout: float | None) -> list[tuple[Any, CallOutput | BaseException]]:
        try:
            first = self.done.get(timeout=timeout)
        except queue.Empty:
            return []
        finished = [first]
        while not self.done.empty():
            finished.append(self.done.get_nowait())
        out = []
        for future in finished:
            try:
                out.append((future, future.result(raise_on_failure=True)))
            except BaseException as exc:
                out.append((future, exc))
        return out

    def close(self) -> None:
        hosting.drop(self.job_id)
        if self.services is not None:
            self.services.stop()


class PrefectBackend(Backend):
    name = "prefect"
    distributed = False
    Options = PrefectOptions
    options: PrefectOptions
    config_defaults = {"bundle_target_ms": 500.0, "initial_bundle": 32}  # a task run costs tens of ms

    def open_session(self) -> PrefectSession:
        return PrefectSession(self.options)

    def run(self, job: JobSpec, run: Callable[[], JobResult]) -> JobResult:
        """Run the job inside a flow run (a subflow when called inside another flow)."""
        if _inside_sage_flow.get() and FlowRunContext.get() is not None:
            return _run_here(run)
        ensure_server()  # where Prefect would start its own temporary server (see server.py)
        workers = self.options.max_workers or sum(s.parallelism for s in job.plan.stages)
        name = self.options.flow_name or job.name

        runner: ThreadPoolTaskRunner = ThreadPoolTaskRunner(max_workers=workers)

        @flow(name=name, task_runner=runner, validate_parameters=False, persist_result=False)  # type: ignore[arg-type]
        def sage_job() -> JobResult:
            return _run_here(run)

        return sage_job()


def _run_here(run: Callable[[], JobResult]) -> JobResult:
    result = run()
    context = FlowRunContext.get()
    if context is not None and context.flow_run is not None:
        result.details["flow_run_id"] = str(context.flow_run.id)
    return result
