"""Running a job: the handle returned by ``submit(autostop=False)``."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from sage_core.results import JobResult, OperatorMetrics

if TYPE_CHECKING:
    from sage_core.runtime.driver import Driver


class JobHandle:
    """A running job: wait for it, cancel it, or read live metrics.

    Example::

        handle = env.submit(autostop=False)
        ...
        handle.cancel()
        result = handle.wait()
    """

    def __init__(self, driver: Driver, run: Callable[[Driver], JobResult]):
        self._driver = driver
        self._runner = run
        self._result: JobResult | None = None
        self._error: BaseException | None = None
        # The caller's context variables (e.g. an enclosing Prefect flow run) follow the job.
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run,), name=f"sage-driver-{driver.job.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._runner(self._driver)
        except BaseException as exc:  # surfaced by wait()
            self._error = exc

    @property
    def name(self) -> str:
        return self._driver.job.name

    def done(self) -> bool:
        return not self._thread.is_alive()

    def cancel(self) -> None:
        """Stop pulling from sources, let running calls end, close everything."""
        self._driver.cancel()

    def metrics(self) -> dict[str, OperatorMetrics]:
        """Per-operator counters so far (live while the job runs)."""
        return self._driver.metrics()

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
