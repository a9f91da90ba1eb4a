"""Services on a cluster: the actor that hosts one service, and the client operators use to
reach it, shared by the Dask and Ray backends.

Holds :class:`ServiceActor` (a plain class: Dask runs it as an actor as is, Ray through
``ray.remote``) and :class:`RemoteServices`, whose call, async call, timeout and
unknown-name handling exist once; each engine supplies only how a call starts and how its
answer is awaited. It must not hold anything else of a backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import Future
from typing import Any

from sage_adapters.shipping import unpack
from sage_core.errors import ServiceError
from sage_core.runtime.services import (
    ServiceSpec,
    call_hook,
    resolve_method,
    timeout_error,
    with_timeout,
)


class ServiceActor:
    """Hosts one service (its ``setup`` and ``start`` hooks run here, once)."""

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


class RemoteServices(ABC):
    """Reaches service actors from any worker; pickles with its actor handles."""

    def __init__(self, actors: dict[str, Any]):
        self.actors = actors

    def __getstate__(self) -> dict[str, Any]:
        return {"actors": self.actors}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["actors"])  # type: ignore[misc]

    @abstractmethod
    def _start(self, actor: Any, method: str | None, args: tuple, kwargs: dict) -> Any:
        """Start ``actor.call(method, args, kwargs)``; return the engine's handle."""

    @abstractmethod
    def _result(self, handle: Any, timeout: float) -> Any:
        """The call's answer; ``TimeoutError`` when it takes longer than ``timeout``."""

    @abstractmethod
    def _future(self, handle: Any) -> Future:
        """The call as a ``concurrent.futures.Future``."""

    def _actor(self, name: str) -> Any:
        actor = self.actors.get(name)
        if actor is None:
            msg = f"no service named {name!r} is registered (registered: {', '.join(sorted(self.actors)) or 'none'})"
            raise ServiceError(msg)
        return actor

    def call(self, name: str, method: str | None, args: tuple, kwargs: dict, timeout: float) -> Any:
        handle = self._start(self._actor(name), method, args, kwargs)
        try:
            return self._result(handle, timeout)
        except TimeoutError:
            raise timeout_error(name, method, timeout) from None

    def call_async(self, name: str, method: str | None, args: tuple, kwargs: dict, timeout: float) -> Future:
        return with_timeout(self._future(self._start(self._actor(name), method, args, kwargs)), name, method, timeout)
