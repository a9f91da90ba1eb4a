"""Running a job: the handle returned by ``submit(autostop=False)``."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sage_core.errors import PipelineValidationError
from sage_core.observe.logs import sage_logger
from sage_core.observe.metrics import to_prometheus
from sage_core.observe.results import JobResult, OperatorMetrics
from sage_core.reliability.checkpoint import CheckpointError
from sage_core.reliability.restart import NoRestart, RestartStrategy

if TYPE_CHECKING:
    from sage_core.ir import Graph
    from sage_core.runtime.driver import Driver


log = sage_logger("sage.job")


def _restartable(exc: BaseException) -> bool:
    """Failures a restart can fix: not configuration errors, not interrupts."""
    return isinstance(exc, Exception) and not isinstance(
        exc, (PipelineValidationError, CheckpointError)
    )


class JobHandle:
    """A running job: wait for it, cancel it, or read live metrics.

    Example::

        handle = env.submit(autostop=False)
        ...
        handle.cancel()
        result = handle.wait()
    """

    def __init__(
        self,
        make_driver: Callable[[], Driver],
        run: Callable[[Driver], JobResult],
        restart: RestartStrategy | None = None,
    ):
        self._make_driver = make_driver
        self._driver = make_driver()
        self._runner = run
        self._restart = restart or NoRestart()
        self._cancelled = False
        self.failures: list[BaseException] = []  # failures that were followed by a restart
        self._result: JobResult | None = None
        self._error: BaseException | None = None
        # The caller's context variables (e.g. an enclosing Prefect flow run) follow the job.
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run,
            args=(self._run,),
            name=f"sage-driver-{self._driver.job.name}",
            daemon=True,
        )
        self._thread.start()

    def _run(self) -> None:
        failed_at: list[float] = []
        while True:
            try:
                self._result = self._runner(self._driver)
                self._result.details["restarts"] = len(self.failures)
                return
            except BaseException as exc:  # surfaced by wait() unless the job restarts
                failed_at.append(time.monotonic())
                delay = (
                    None
                    if self._cancelled or not _restartable(exc)
                    else self._restart.delay_before(len(failed_at), failed_at)
                )
                if delay is None:
                    self._error = exc
                    return
                self.failures.append(exc)
                log.warning(
                    "job %r failed (%s: %s); restart %d in %.2f s",
                    self.name,
                    type(exc).__name__,
                    exc,
                    len(failed_at),
                    delay,
                    extra={"job": self.name},
                )
                time.sleep(delay)
                if self._cancelled:
                    self._error = exc
                    return
                self._driver = self._make_driver()

    @property
    def name(self) -> str:
        return self._driver.job.name

    def done(self) -> bool:
        return not self._thread.is_alive()

    def cancel(self) -> None:
        """Stop pulling from sources, let running calls end, close everything."""
        self._cancelled = True
        self._driver.cancel()

    @property
    def graph(self) -> Graph:
        """The job's logical graph."""
        return self._driver.job.graph

    @property
    def backend(self) -> str:
        return self._driver.backend_name

    def metrics(self) -> dict[str, OperatorMetrics]:
        """Per-operator metrics so far, live while the job runs, on every backend: records
        in/out, errors, filtered, retries, dead letters, time, latency histogram, queue
        depth, time blocked by backpressure, and the function's own counters."""
        return self._driver.metrics()

    def prometheus(self) -> str:
        """:meth:`metrics` in the Prometheus text format (see :mod:`sage_core.observe.metrics`)."""
        return to_prometheus(self.name, self.metrics())

    def wait(self, timeout: float | None = None) -> JobResult:
        """Block until the job ends; re-raise its error. ``TimeoutError`` if still running."""
        try:
            self._thread.join(timeout)
        except KeyboardInterrupt:
            self.cancel()
            self._thread.join(10.0)
            raise
        if self._thread.is_alive():
            msg = f"job {self.name!r} still running after {timeout} s"
            raise TimeoutError(msg)
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result
