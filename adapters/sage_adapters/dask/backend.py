"""The Dask backend: pinned tasks over worker-resident stage instances, actors for services.

Data plane: a call returns its small output parts inline, as bytes the driver hands on
unopened, and keeps each large one (over 1 MiB pickled) on its worker. A large part for an
instance on the same worker is taken there by the next call; one for another worker
becomes its own future through a small task pinned to the producer (ahead of its queued
calls), and the next call takes that future as an argument, so Dask moves the part worker
to worker. The driver holds futures, tokens and counts, never records.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from distributed import Client, LocalCluster
from pydantic import Field

from sage_adapters import hosting
from sage_adapters.services import RemoteServices, ServiceActor
from sage_adapters.shipping import ShippedJob, ShippingOptions, missing_modules
from sage_core.errors import WorkerLostError
from sage_core.runtime.instance import CallOutput, Part
from sage_core.runtime.session import Backend, JobSpec, Session


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


class DaskServiceClient(RemoteServices):
    """Service calls through Dask actor proxies."""

    def __init__(self, actors: dict[str, Any]):
        super().__init__(actors)
        self._pool: ThreadPoolExecutor | None = None

    def _start(self, actor, method, args, kwargs):
        return actor.call(method, args, kwargs)

    def _result(self, handle, timeout):
        return handle.result(timeout=timeout)

    def _future(self, handle) -> Future:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(4, thread_name_prefix="sage-dask-service")
        return self._pool.submit(handle.result)


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
        self.route_targets: dict[int, list[int]] = {}  # stage -> target stage of each route
        self.calls: dict[Any, tuple[str, str, int]] = {}  # call key -> (call id, worker, stage)
        self._done: queue.Queue = queue.Queue()  # calls that ended, put there by their done callback
        self._early: list[Any] = []  # ended calls nobody has waited for yet
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
        self.route_targets = {s.id: [r.target for r in s.routes] for s in job.plan.stages}
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
        future = self.client.submit(
            hosting.call_keeping_parts, self.job_id, call_id, stage, index, method, args,
            key=f"{name}-{call_id}", workers=[host], allow_other_workers=False, pure=False,
        )
        future.add_done_callback(self._done.put)
        self.calls[future.key] = (call_id, host, stage)
        return future

    def wait(
        self, handles: list[Any], timeout: float | None
    ) -> list[tuple[Any, CallOutput | BaseException]]:
        done = self._finished(set(handles), timeout)
        if not done:
            self._check_workers()
            return []
        out = []
        for f in done:
            call_id, host, stage = self.calls.pop(f.key)
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
                outcome.routed = [self._part(part, call_id, host, stage) for part in outcome.routed]
            out.append((f, outcome))
        return out

    def _finished(self, handles: set, timeout: float | None) -> list[Any]:
        """Calls among ``handles`` that have ended, waiting up to ``timeout`` for the first.
        Each call reports itself through its done callback: no polling of the scheduler."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            while True:  # everything reported so far
                try:
                    self._early.append(self._done.get_nowait())
                except queue.Empty:
                    break
            done = [f for f in self._early if f in handles]
            if done:
                self._early = [f for f in self._early if f not in handles]
                return done
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return []
            try:
                self._early.append(self._done.get(timeout=left))
            except queue.Empty:
                return []

    def _part(self, part: Part, call_id: str, host: str, stage: int) -> Part:
        """What the driver queues for a part: small ones as they came (inline); a large one
        kept on ``host`` as a token when its target lives there too, else as a future made
        by a small task on ``host`` (ahead of that worker's queued calls), which the next call
        takes as an argument so that Dask sends it worker to worker."""
        if part.data is not None:
            return part
        kept = hosting.KeptPart(self.job_id, call_id, part.route, part.target, host)
        if self.hosts[self.placement[(self.route_targets[stage][part.route], part.target)]] == host:
            return part._replace(data=kept)
        future = self.client.submit(
            hosting.take_part, *kept[:4], workers=[host], allow_other_workers=False, pure=False,
            priority=1, key=f"part-{call_id}-{part.route}-{part.target}",
        )
        return part._replace(data=future)

    def fetch(self, data: Any) -> list:
        if isinstance(data, hosting.InlinePart):
            return data.records()
        if isinstance(data, hosting.KeptPart):
            data = self.client.submit(hosting.take_part, *data[:4], workers=[data.host], pure=False)
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
            self.calls.clear()
            self.service_actors.clear()
            self.service_futures.clear()
            if self.options.address:
                self.client.close()


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
