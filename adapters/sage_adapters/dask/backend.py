"""The Dask backend: pinned tasks over worker-resident stage instances, actors for services.

Data plane: a call keeps its output parts on its worker, and one small task per possible
(route, target), pinned to that worker and run right after the call, turns each part into
its own future. The next call takes those futures as arguments, so Dask moves each part
worker to worker; the driver holds futures and counts only.
"""

from __future__ import annotations

import atexit
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from distributed import Client, LocalCluster, wait
from pydantic import Field

from sage_adapters import hosting
from sage_adapters.shipping import ShippedJob, ShippingOptions, missing_modules, unpack
from sage_core.errors import WorkerLostError
from sage_core.runtime import plan
from sage_core.runtime.backend import Backend, JobSpec, Session
from sage_core.runtime.instance import CallOutput
from sage_core.services import ServiceSpec, _with_timeout, call_hook, resolve_method, timeout_error


class DaskOptions(ShippingOptions):
    """Field names follow ``distributed.Client`` / ``LocalCluster``."""

    address: str | None = Field(
        None, description="scheduler address; None starts (and reuses) a LocalCluster"
    )
    n_workers: int = Field(2, ge=1, description="LocalCluster workers (processes)")
    threads_per_worker: int = Field(1, ge=1, description="LocalCluster threads per worker")
    processes: bool = Field(True, description="LocalCluster workers as processes")


_local: dict[tuple, tuple[LocalCluster, Client]] = {}
_local_lock = threading.Lock()


def _client(options: DaskOptions) -> Client:
    """A client to ``address``, or to a LocalCluster started once per process and reused."""
    if options.address:
        return Client(options.address, set_as_default=False)
    key = (options.n_workers, options.threads_per_worker, options.processes)
    with _local_lock:
        if key not in _local:
            cluster = LocalCluster(
                n_workers=options.n_workers,
                threads_per_worker=options.threads_per_worker,
                processes=options.processes,
                dashboard_address=None,
            )
            _local[key] = (cluster, Client(cluster, set_as_default=False))
        return _local[key][1]


@atexit.register
def _close_local_clusters() -> None:
    for cluster, client in _local.values():
        client.close()
        cluster.close()
    _local.clear()


class ServiceActor:
    """Hosts one service on a Dask worker."""

    def __init__(self, packed: ServiceSpec | bytes):
        spec: ServiceSpec = unpack(packed)
        self.name = spec.name
        self.service = spec.instantiate()
        call_hook(self.service, "setup")
        call_hook(self.service, "start")

    def call(self, method: str | None, args: tuple, kwargs: dict) -> Any:
        return resolve_method(self.service, self.name, method)(*args, **kwargs)

    def hook(self, name: str) -> Any:
        return call_hook(self.service, name)


class DaskServiceClient:
    """Reaches service actors from any worker (pickles with its actor proxies)."""

    def __init__(self, actors: dict[str, Any]):
        self.actors = actors
        self._pool: ThreadPoolExecutor | None = None

    def __getstate__(self):
        return {"actors": self.actors}

    def __setstate__(self, state):
        self.actors = state["actors"]
        self._pool = None

    def _actor(self, name: str):
        from sage_core.errors import ServiceError

        actor = self.actors.get(name)
        if actor is None:
            msg = f"no service named {name!r} is registered (registered: {', '.join(sorted(self.actors)) or 'none'})"
            raise ServiceError(msg)
        return actor

    def call(self, name: str, method: str | None, args: tuple, kwargs: dict, timeout: float) -> Any:
        future = self._actor(name).call(method, args, kwargs)
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            raise timeout_error(name, method, timeout) from None

    def call_async(
        self, name: str, method: str | None, args: tuple, kwargs: dict, timeout: float
    ) -> Future:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(4, thread_name_prefix="sage-dask-service")
        actor_future = self._actor(name).call(method, args, kwargs)
        return _with_timeout(self._pool.submit(actor_future.result), name, method, timeout)


class DaskSession(Session):
    def __init__(self, options: DaskOptions):
        self.options = options
        self.job_id = uuid.uuid4().hex[:8]
        self.client: Client = _client(options)  # in the caller's thread, which outlives the job
        self.hosts: list[str] = []
        self.placement: dict[tuple[int, int], int] = {}
        self.names: dict[int, str] = {}
        self.service_actors: dict[str, Any] = {}
        self.service_futures: list[Any] = []
        self.outlets: dict[tuple[int, int], list[tuple[int, int]]] = {}
        self.picks: dict[Any, dict[tuple[int, int], Any]] = {}  # call key -> (route, target) -> future
        self._checked_workers = time.monotonic()

    def start(self, job: JobSpec) -> None:
        with self.client.as_current():  # actor proxies bind to the current client
            self._start(job, self.client)

    def _start(self, job: JobSpec, client: Client) -> None:
        self.hosts = sorted(client.scheduler_info()["workers"])
        if not self.hosts:
            msg = f"the Dask cluster at {client.scheduler.address} has no workers"
            raise RuntimeError(msg)
        shipped = ShippedJob(job, self.options.ship_modules, self._missing_on_workers, "dask")
        for i, spec in enumerate(job.services):
            future = client.submit(
                ServiceActor,
                shipped.services[spec.name],
                actor=True,
                workers=[self.hosts[i % len(self.hosts)]],
                key=f"sage-{job.name}-service-{spec.name}-{self.job_id}",
            )
            self.service_futures.append(future)  # the actor lives as long as its future
            self.service_actors[spec.name] = future.result()
        services = DaskServiceClient(self.service_actors)
        self.placement = hosting.place(job, len(self.hosts))
        self.names = {s.id: s.name for s in job.plan.stages}
        self.outlets = _outlets(job)
        by_host: dict[int, list[tuple[int, int]]] = {}
        for key, host in self.placement.items():
            by_host.setdefault(host, []).append(key)
        created = [
            client.submit(
                hosting.create,
                self.job_id,
                shipped.job,
                keys,
                services,
                workers=[self.hosts[h]],
                pure=False,
                key=f"sage-{job.name}-open-{h}-{self.job_id}",
            )
            for h, keys in by_host.items()
        ]
        for f in created:
            f.result()

    def _missing_on_workers(self, names: set[str]) -> list[str]:
        future = self.client.submit(missing_modules, sorted(names), workers=[self.hosts[0]], pure=False)
        return future.result()

    def submit(self, stage: int, index: int, method: str, args: tuple) -> Any:
        host = self.hosts[self.placement[(stage, index)]]
        call_id = uuid.uuid4().hex[:12]
        name = f"{self.names[stage]}#{index}.{method}"
        pinned = {"workers": [host], "allow_other_workers": False, "pure": False}
        future = self.client.submit(
            hosting.call_keeping_parts, self.job_id, call_id, stage, index, method, args,
            key=f"{name}-{call_id}", **pinned,
        )
        if method in _EMITTING:  # each part its own future, on this worker, right after the call
            self.picks[future.key] = {
                (route, target): self.client.submit(
                    hosting.take_part, self.job_id, call_id, route, target, future,
                    key=f"{name}.part{route}-{target}-{call_id}", **pinned,
                )
                for route, target in self.outlets[(stage, index)]
            }
        return future

    def wait(
        self, handles: list[Any], timeout: float | None
    ) -> list[tuple[Any, CallOutput | BaseException]]:
        try:
            with self.client.as_current():
                done, _ = wait(handles, timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            self._check_workers()
            return []
        out = []
        for f in done:
            picks = self.picks.pop(f.key, {})  # parts not listed by the call were empty: released here
            if f.status == "error":
                out.append((f, f.exception()))
                continue
            try:  # a result held by a worker that just died is gone: do not wait for it forever
                outcome = f.result(timeout=10.0)
            except TimeoutError:
                self._checked_workers = 0.0
                self._check_workers()
                raise
            if isinstance(outcome, CallOutput):
                outcome.routed = [part._replace(data=picks[(part.route, part.target)]) for part in outcome.routed]
            out.append((f, outcome))
        return out

    def fetch(self, data: Any) -> list:
        return data.result(timeout=60.0)

    def _check_workers(self) -> None:
        """Raise ``WorkerLostError`` when a worker hosting this job's instances has left the
        cluster (its pinned calls would wait forever). Checked at most once a second."""
        now = time.monotonic()
        if now - self._checked_workers < 1.0:
            return
        self._checked_workers = now
        lost = self._lost_hosts()
        if lost:
            stages = sorted(
                {self.names[sid] for (sid, _), h in self.placement.items() if self.hosts[h] in lost}
            )
            msg = f"Dask worker(s) {', '.join(lost)} died while hosting {', '.join(stages)}"
            raise WorkerLostError(msg)

    def _lost_hosts(self) -> list[str]:
        # Ask the scheduler itself: Client.scheduler_info() returns a cache that the client's
        # periodic refresh overwrites with an identity holding no workers at all.
        alive = set(self.client.sync(self.client.scheduler.identity, n_workers=-1)["workers"])
        return [h for h in self.hosts if h not in alive]

    def close(self) -> None:
        try:
            with self.client.as_current():
                lost = set(self._lost_hosts())
                for host in self.hosts:
                    if host in lost:
                        continue
                    self.client.submit(
                        hosting.drop, self.job_id, workers=[host], pure=False
                    ).result(timeout=30)
                for actor in self.service_actors.values():
                    actor.hook("stop").result(timeout=30)
        finally:
            self.picks.clear()
            self.service_actors.clear()
            self.service_futures.clear()
            if self.options.address:
                self.client.close()


_EMITTING = ("pull", "process", "finish")  # calls whose output goes downstream


def _outlets(job: JobSpec) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """Every (route, target instance) a call of each instance may send records to."""
    targets = {s.id: s.parallelism for s in job.plan.stages}
    return {
        (s.id, i): [
            (ri, t)
            for ri, route in enumerate(s.routes)
            for t in ([i] if route.partition == plan.FORWARD else range(targets[route.target]))
        ]
        for s in job.plan.stages
        for i in range(s.parallelism)
    }


class DaskBackend(Backend):
    name = "dask"
    distributed = True
    Options = DaskOptions
    options: DaskOptions
    config_defaults = {
        "bundle_target_ms": 1000.0
    }  # a task costs milliseconds: amortise it (lower for latency)

    def open_session(self) -> DaskSession:
        return DaskSession(self.options)
