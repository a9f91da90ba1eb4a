"""The runtime context a function sees as ``self.ctx``: identity, key, state, services.

Holds the context object and the user-metrics counter; no scheduling logic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sage_core.observe.logs import operator_logger

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Future

    from sage_core.runtime.services import ServiceClient


class UserMetrics:
    """Counters a function increments: ``self.ctx.metrics.inc("cache_hits")``."""

    __slots__ = ("counters",)

    def __init__(self) -> None:
        self.counters: dict[str, float] = {}

    def inc(self, name: str, value: float = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + value


class RuntimeContext:
    """What an operator instance knows about where and how it runs.

    Example, inside a function::

        class Count(MapFunction):
            def execute(self, data):
                seen = self.ctx.state.get("seen", 0) + 1   # keyed state of the current key
                self.ctx.state["seen"] = seen
                return (self.ctx.current_key, seen)
    """

    def __init__(
        self,
        *,
        name: str,
        job_name: str,
        parallel_index: int,
        parallelism: int,
        services: ServiceClient,
        service_timeout: float,
    ) -> None:
        self.name = name
        self.job_name = job_name
        self.parallel_index = parallel_index
        self.parallelism = parallelism
        self.current_key: Any = None
        self.services = services
        self.service_timeout = service_timeout
        self.metrics = UserMetrics()
        self.logger = operator_logger(job_name, name)  # job and operator attached, secrets masked
        self._keyed_state: dict[Any, dict[str, Any]] = {}
        self._collected: dict[str, list[Any]] = {}
        self._dead_letter: Callable[[Any, BaseException], None] | None = None  # set by the runtime

    @property
    def state(self) -> dict[str, Any]:
        """The state dict of the current key (one shared dict when the stream is not keyed)."""
        store = self._keyed_state.get(self.current_key)
        if store is None:
            store = self._keyed_state[self.current_key] = {}
        return store

    def keyed_state(self) -> dict[Any, dict[str, Any]]:
        """All keyed state of this instance: ``{key: state dict}``."""
        return self._keyed_state

    def collect(self, name: str, record: Any) -> None:
        """Send ``record`` back to the driver; it appears in ``JobResult.collected[name]``."""
        bucket = self._collected.get(name)
        if bucket is None:
            bucket = self._collected[name] = []
        bucket.append(record)

    def dead_letter(self, record: Any, error: BaseException | str) -> None:
        """Send ``record`` to the dead-letter output with ``error``, without raising: for a
        source that reads a malformed line, or a flatmap or sink that rejects a record and
        goes on. (In a map or filter, raise instead.) In strict mode the job fails.

        Example, in a source::

            try:
                return json.loads(line)
            except ValueError as exc:
                self.ctx.dead_letter(line, exc)
        """
        if self._dead_letter is None:
            msg = f"{self.name}: dead_letter() is only available while the job runs"
            raise RuntimeError(msg)
        self._dead_letter(record, error if isinstance(error, BaseException) else ValueError(error))

    def take_collected(self) -> dict[str, list[Any]]:
        out, self._collected = self._collected, {}
        return out

    def call_service(
        self, name: str, *args: Any, method: str | None = None, timeout: float | None = None, **kwargs: Any
    ) -> Any:
        return self.services.call(
            name, method, args, kwargs, self.service_timeout if timeout is None else timeout
        )

    def call_service_async(
        self, name: str, *args: Any, method: str | None = None, timeout: float | None = None, **kwargs: Any
    ) -> Future:
        return self.services.call_async(
            name, method, args, kwargs, self.service_timeout if timeout is None else timeout
        )
