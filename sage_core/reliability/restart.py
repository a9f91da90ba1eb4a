"""Restart strategies: what a job does when it fails (a worker dies, an operator raises in
strict mode, a backend call fails).

The job is started again on a fresh backend session; with checkpointing enabled it resumes
from the last checkpoint, otherwise it starts from the beginning. Validation and
checkpoint errors, and cancellation, are never retried.

Example::

    env.set_restart_strategy(FixedDelayRestart(attempts=3, delay=0.5))

    >>> FixedDelayRestart(attempts=3, delay=0.5).delay_before(attempt=1, recent_failures=[])
    0.5
    >>> FixedDelayRestart(attempts=3, delay=0.5).delay_before(attempt=4, recent_failures=[]) is None
    True

Strategies (as Flink names them):

- :class:`FixedDelayRestart`: up to ``attempts`` restarts, ``delay`` seconds apart.
- :class:`ExponentialBackoffRestart`: delays ``initial_delay``, x ``multiplier`` each time,
  capped at ``max_delay``; up to ``attempts`` restarts.
- :class:`FailureRateRestart`: restarts while at most ``max_failures`` failures happened
  within the last ``interval`` seconds.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ExponentialBackoffRestart",
    "FailureRateRestart",
    "FixedDelayRestart",
    "NoRestart",
    "RestartStrategy",
]


class RestartStrategy(BaseModel):
    """Base: ``delay_before(attempt, recent_failures)`` is the pause before restart number
    ``attempt`` (1 for the first), or ``None`` to give up and fail the job."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def delay_before(self, attempt: int, recent_failures: list[float]) -> float | None:
        raise NotImplementedError


class NoRestart(RestartStrategy):
    """Fail the job at the first failure (the default)."""

    def delay_before(self, attempt: int, recent_failures: list[float]) -> float | None:
        return None


class FixedDelayRestart(RestartStrategy):
    attempts: int = Field(3, ge=1, description="restarts before the job fails")
    delay: float = Field(1.0, ge=0, description="seconds between a failure and the restart")

    def delay_before(self, attempt: int, recent_failures: list[float]) -> float | None:
        return self.delay if attempt <= self.attempts else None


class ExponentialBackoffRestart(RestartStrategy):
    attempts: int = Field(10, ge=1, description="restarts before the job fails")
    initial_delay: float = Field(0.5, ge=0)
    multiplier: float = Field(2.0, ge=1.0)
    max_delay: float = Field(60.0, ge=0)

    def delay_before(self, attempt: int, recent_failures: list[float]) -> float | None:
        if attempt > self.attempts:
            return None
        return min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))


class FailureRateRestart(RestartStrategy):
    max_failures: int = Field(3, ge=1, description="failures allowed within `interval`")
    interval: float = Field(60.0, gt=0, description="seconds")
    delay: float = Field(1.0, ge=0)

    def delay_before(self, attempt: int, recent_failures: list[float]) -> float | None:
        if not recent_failures:
            return self.delay
        last = recent_failures[-1]
        in_window = [t for t in recent_failures if last - t <= self.interval]
        return self.delay if len(in_window) <= self.max_failures else None
