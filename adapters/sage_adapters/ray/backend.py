"""The Ray backend: host actors over stage instances, service actors, object refs for bundles.

Data plane: a host actor puts each output part of a call in Ray's object store
(``ray.put``) and returns the refs with the counts; the driver passes the refs to the
next call as top-level arguments, so Ray moves the records worker to worker and the
driver never reads them.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import Future
from typing import Any

import ray
from pydantic import Field

from sage_adapters import hosting
from sage_adapters.lifetime import reap_new_children
from sage_adapters.services import RemoteServices, ServiceActor
from sage_adapters.shipping import ShippedJob, ShippingOptions, missing_modules
from sage_core.runtime.instance import CallOutput
from sage_core.runtime.session import Backend, JobSpec, Session


class RayOptions(ShippingOptions):
    """``address`` and ``num_cpus`` are passed to ``ray.init`` when SAGE starts Ray."""

    address: str | None = Field(None, description="cluster address ('auto' or ray://...); None starts or reuses a local Ray")
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local Ray started by SAGE")
    hosts: int | None = Field(None, ge=1, description="host actors (processes); default: the largest parallelism")


_init_lock = threading.Lock()


def ensure_ray(options: RayOptions) -> None:
    with _init_lock:
        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = {"include_dashboard": False, "ignore_reinit_error": True, "log_to_driver": True}
        if options.address:
            kwargs["address"] = options.address
        elif options.num_cpus:
            kwargs["num_cpus"] = options.num_cpus
        try:
            with reap_new_children():  # a local Ray started here ends with this process
                ray.init(**kwargs)
        except ConnectionError as exc:
            if "InvalidAuthToken" not in f"{exc} {exc.__cause__}":
                raise
            msg = (
                f"the Ray cluster at {options.address!r} refused this driver's auth token: set "
                "RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) to the cluster's token "
                "(`ray get-auth-token` on the head node) in the driver's environment"
            )
            raise ConnectionError(msg) from exc


@ray.remote
class InstanceHost:
    """One process hosting stage instances (threaded: ``max_concurrency`` set at creation)."""

    def create(self, job_id: str, job: JobSpec | bytes, keys: list, services: Any) -> int:
        return hosting.create(job_id, job, keys, services)

    def missing(self, names: list[str]) -> list[str]:
        return missing_modules(names)

    def call(self, job_id: str, stage: int, index: int, method: str, args: tuple, *parts: Any) -> CallOutput:
        """``parts``: for ``process``, the records of each queued part (Ray resolved the refs)."""
        if parts:
            args = (list(zip(args[0], parts)),)
        out = hosting.call(job_id, stage, index, method, args)
        if isinstance(out, CallOutput):
            out.routed = [part._replace(data=ray.put(part.data)) for part in out.routed]
        return out

    def drop(self, job_id: str) -> int:
        return hosting.drop(job_id)


_RemoteServiceActor = ray.remote(ServiceActor)  # Ray runs its calls one at a time


class RayServiceClient(RemoteServices):
    """Service calls through Ray actor handles."""

    def _start(self, actor, method, args, kwargs):
        return actor.call.remote(method, args, kwargs)

    def _result(self, handle, timeout):
        try:
            return ray.get(handle, timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            ray.cancel(handle)
            raise TimeoutError from None
        except ray.exceptions.RayTaskError as exc:
            raise _cause(exc) from None

    def _future(self, handle) -> Future:
        return handle.future()


def _cause(exc: BaseException) -> BaseException:
    """The user's exception inside a RayTaskError (Ray re-raises it wrapped)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


class RaySession(Session):
    def __init__(self, options: RayOptions):
        self.options = options
        self.job_id = uuid.uuid4().hex[:8]
        self.hosts: list[Any] = []
        self.placement: dict[tuple[int, int], int] = {}
        self.service_actors: dict[str, Any] = {}
        self.names: dict[int, str] = {}

    def start(self, job: JobSpec) -> None:
        self.names = {s.id: s.name for s in job.plan.stages}
        count = self.options.hosts or max(s.parallelism for s in job.plan.stages)
        self.placement = hosting.place(job, count)
        by_host: dict[int, list[tuple[int, int]]] = {}
        for key, host in self.placement.items():
            by_host.setdefault(host, []).append(key)
        for h in range(count):
            self.hosts.append(
                InstanceHost.options(  # type: ignore[attr-defined]
                    name=f"sage:{job.name}:host{h}[{self._hosted(by_host.get(h, []))}]:{self.job_id}",
                    max_concurrency=max(1, len(by_host.get(h, []))) + 1,
                    num_cpus=0,
                    scheduling_strategy="SPREAD",  # ask Ray to spread them over the nodes of a cluster
                ).remote()
            )
        shipped = ShippedJob(job, self.options.ship_modules, self._missing_on_workers, "ray")
        for spec in job.services:
            self.service_actors[spec.name] = _RemoteServiceActor.options(  # type: ignore[attr-defined]
                name=f"sage:{job.name}:service:{spec.name}:{self.job_id}", max_concurrency=1
            ).remote(shipped.services[spec.name])
        services = RayServiceClient(self.service_actors)
        ray.get([self.hosts[h].create.remote(self.job_id, shipped.job, keys, services) for h, keys in by_host.items()])

    def _missing_on_workers(self, names: set[str]) -> list[str]:
        return ray.get(self.hosts[0].missing.remote(sorted(names)))

    def _hosted(self, keys: list[tuple[int, int]]) -> str:
        """The operators an actor hosts, as its name shows them: ``map_1#0,sink_2#0``."""
        return ",".join(f"{self.names[sid]}#{i}" for sid, i in sorted(keys))[:200]

    def submit(self, stage: int, index: int, method: str, args: tuple) -> Any:
        call = self.hosts[self.placement[(stage, index)]].call
        parts: list[Any] = []
        if method == "process":  # refs as top-level arguments: Ray fetches them for the actor
            batches = args[0]
            args, parts = ([input_index for input_index, _ in batches],), [ref for _, ref in batches]
        # named after the operators, as the Ray dashboard and `ray list tasks` show it
        return call.options(name=f"{self.names[stage]}#{index}.{method}").remote(
            self.job_id, stage, index, method, args, *parts
        )

    def wait(self, handles: list[Any], timeout: float | None) -> list[tuple[Any, CallOutput | BaseException]]:
        ready, _ = ray.wait(handles, num_returns=1, timeout=timeout)
        out = []
        for ref in ready:
            try:
                out.append((ref, ray.get(ref)))
            except ray.exceptions.RayTaskError as exc:
                out.append((ref, _cause(exc)))
            except ray.exceptions.RayError as exc:
                out.append((ref, exc))
        return out

    def fetch(self, data: Any) -> list:
        return ray.get(data)

    def close(self) -> None:
        try:
            for actor in self.service_actors.values():
                ray.get(actor.hook.remote("stop"), timeout=30)
        finally:
            for actor in [*self.service_actors.values(), *self.hosts]:
                ray.kill(actor)
            self.service_actors.clear()
            self.hosts.clear()


class RayBackend(Backend):
    name = "ray"
    distributed = True
    Options = RayOptions
    options: RayOptions
    config_defaults = {"bundle_target_ms": 1000.0}  # amortise per-call costs (lower for latency)

    def open_session(self) -> RaySession:
        # ray.init must run in a long-lived thread (the caller's), not the job's driver thread:
        # Ray stops answering once the thread that started it has exited.
        ensure_ray(self.options)
        return RaySession(self.options)
