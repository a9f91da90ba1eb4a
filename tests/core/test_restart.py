"""Restart strategies: delays, limits, and what is (not) restarted."""

from __future__ import annotations

import pytest

from sage_core import (
    ExponentialBackoffRestart,
    FailureRateRestart,
    FixedDelayRestart,
    LocalEnvironment,
    OperatorError,
    PipelineValidationError,
)
from tests.pipelines import ClickEvents, CrashOnceAt, FailOn


def test_strategy_delays():
    fixed = FixedDelayRestart(attempts=2, delay=0.25)
    assert [fixed.delay_before(a, []) for a in (1, 2, 3)] == [0.25, 0.25, None]
    backoff = ExponentialBackoffRestart(attempts=4, initial_delay=0.1, multiplier=3, max_delay=0.5)
    assert [backoff.delay_before(a, []) for a in (1, 2, 3, 4, 5)] == [
        0.1,
        pytest.approx(0.3),
        0.5,
        0.5,
        None,
    ]
    rate = FailureRateRestart(max_failures=2, interval=10, delay=0)
    assert rate.delay_before(3, [0.0, 1.0]) == 0  # two failures within 10 s: allowed
    assert rate.delay_before(3, [0.0, 1.0, 2.0]) is None  # a third within 10 s: give up
    assert rate.delay_before(9, [0.0, 20.0, 40.0]) == 0  # spread out: keeps restarting
    with pytest.raises(ValueError, match="attempts"):
        FixedDelayRestart(attempts=0)
    with pytest.raises(TypeError, match="set_restart_strategy"):
        LocalEnvironment("x").set_restart_strategy(3)


def test_restart_without_checkpoints_starts_over(tmp_path):
    env = LocalEnvironment("restart-from-scratch", strict=True)
    env.set_restart_strategy(FixedDelayRestart(attempts=1, delay=0))
    env.from_source(ClickEvents, 500).map(CrashOnceAt, "seq", 300, str(tmp_path / "m")).collect(
        "out"
    )
    result = env.submit()
    assert result.details["restarts"] == 1
    assert [r["seq"] for r in result.collected["out"]] == list(range(1, 501))


def test_restarts_run_out(tmp_path):
    env = LocalEnvironment("always-fails", strict=True)
    env.set_restart_strategy(FixedDelayRestart(attempts=2, delay=0))
    env.from_batch([1, 2, 3]).map(FailOn, 2).collect("out")
    handle = env.submit(autostop=False)
    with pytest.raises(OperatorError, match="bad record 2"):
        handle.wait()
    assert len(handle.failures) == 2  # two restarts, then the third failure is final


def test_validation_errors_are_not_restarted():
    env = LocalEnvironment("invalid")
    env.set_restart_strategy(FixedDelayRestart(attempts=5, delay=10))
    env.from_future("never-filled").collect("out")
    with pytest.raises(PipelineValidationError):
        env.submit()
