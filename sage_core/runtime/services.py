"""Services: long-lived objects registered on an environment and called from operators.

Holds the service spec, the client protocol every backend implements, and the in-process
host used by the local backend. A service is any class; these optional methods are its
lifecycle hooks: ``setup()`` after construction, ``start()`` before the job runs,
``stop()`` after it ends, ``health() -> dict`` on demand.

Calls to one service are serialised (one at a time, in arrival order), as with a Ray
actor, so a service needs no locking of its own.

Example::

    class Greeter:
        def greet(self, who):
            return f"hello {who}"

    env.register_service("greeter", Greeter)
    # inside an operator:
    self.call_service("greeter", "ada", method="greet", timeout=5)
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Protocol

from sage_core.errors import ServiceError, ServiceTimeoutError

LIFECYCLE_HOOKS = ("setup", "start", "stop", "health")


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    cls: Any
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def instantiate(self) -> Any:
        return self.cls(*self.args, **self.kwargs)


class ServiceClient(Protocol):
    """How an operator reaches services; each backend provides one (it must pickle)."""

    def call(self, name: str, method: str | None, args: tuple, kwargs: dict, timeout: float) -> Any: ...

    def call_async(self, name: str, method: str | None, args: tuple, kwargs: dict, timeout: float) -> Future: ...


def resolve_method(service: Any, name: str, method: str | None):
    """The bound method to call; a clear error when it does not exist."""
    target = service if method is None else getattr(service, method, None)
    if target is None or not callable(target):
        what = "is not callable" if method is None else f"has no method {method!r}"
        msg = f"service {name!r} ({type(service).__name__}) {what}; pass method='...' naming one of its methods"
        raise ServiceError(msg)
    return target


def call_hook(service: Any, hook: str) -> Any:
    fn = getattr(service, hook, None)
    return fn() if callable(fn) else None


def timeout_error(name: str, method: str | None, timeout: float) -> ServiceTimeoutError:
    msg = f"service {name!r} method {method or '__call__'!r} did not answer within {timeout} s"
    return ServiceTimeoutError(msg)


class LocalServiceHost:
    """Runs services in this process, each on its own thread (calls serialised per service)."""

    def __init__(self, specs: list[ServiceSpec]):
        self._specs = specs
        self._services: dict[str, Any] = {}
        self._threads: dict[str, ThreadPoolExecutor] = {}

    def start(self) -> None:
        for spec in self._specs:
            service = spec.instantiate()
            call_hook(service, "setup")
            call_hook(service, "start")
            self._services[spec.name] = service
            self._threads[spec.name] = ThreadPoolExecutor(1, thread_name_prefix=f"sage-service-{spec.name}")

    def stop(self) -> None:
        for name, service in self._services.items():
            self._threads[name].submit(call_hook, service, "stop").result()
            self._threads[name].shutdown(wait=True)
        self._services.clear()
        self._threads.clear()

    def health(self) -> dict[str, Any]:
        return {name: call_hook(s, "health") for name, s in self._services.items()}

    def client(self) -> LocalServiceClient:
        return LocalServiceClient(self)

    def _submit(self, name: str, method: str | None, args: tuple, kwargs: dict) -> Future:
        service = self._services.get(name)
        if service is None:
            known = ", ".join(sorted(self._services)) or "none"
            msg = f"no service named {name!r} is registered (registered: {known}); call env.register_service({name!r}, ...)"
            raise ServiceError(msg)
        fn = resolve_method(service, name, method)
        return self._threads[name].submit(fn, *args, **kwargs)


class LocalServiceClient:
    """ServiceClient for services hosted in the same process."""

    def __init__(self, host: LocalServiceHost):
        self._host = host

    def call(self, name: str, method: str | None, args: tuple, kwargs: dict, timeout: float) -> Any:
        future = self._host._submit(name, method, args, kwargs)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            future.cancel()
            raise timeout_error(name, method, timeout) from None

    def call_async(self, name: str, method: str | None, args: tuple, kwargs: dict, timeout: float) -> Future:
        inner = self._host._submit(name, method, args, kwargs)
        return with_timeout(inner, name, method, timeout)


def with_timeout(inner: Future, name: str, method: str | None, timeout: float) -> Future:
    """A future that fails with ServiceTimeoutError if ``inner`` takes longer than ``timeout``."""
    outer: Future = Future()

    def expire() -> None:
        if not outer.done():
            outer.set_exception(timeout_error(name, method, timeout))

    timer = threading.Timer(timeout, expire)
    timer.daemon = True

    def relay(f: Future) -> None:
        timer.cancel()
        if outer.done():
            return
        exc = f.exception()
        with contextlib.suppress(InvalidStateError):  # the timer won the race; the timeout stands
            outer.set_exception(exc) if exc is not None else outer.set_result(f.result())

    timer.start()
    inner.add_done_callback(relay)
    return outer
