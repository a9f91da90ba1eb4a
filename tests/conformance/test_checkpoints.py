"""Checkpoints on every backend: a job that fails, resumed from its checkpoint, gives the
same output as one that ran without interruption."""

from __future__ import annotations

from collections import Counter

import pytest

from sage_core import FixedDelayRestart, LocalEnvironment, OperatorError
from sage_flow import TumblingWindow
from tests.pipelines import ClickEvents, CrashOnceAt, Pause, RunningCount

N = 3000


def window_job(name, crash_marker=None, checkpoints=None):
    env = LocalEnvironment(name, strict=True, config={"initial_bundle": 8, "max_bundle": 64})
    if checkpoints is not None:
        env.enable_checkpointing(checkpoints, interval=0.05)
    events = env.from_source(ClickEvents, N)
    if crash_marker is not None:
        events = events.map(CrashOnceAt, "seq", 2 * N // 3, crash_marker)
    windows = events.keyby(lambda e: e["user"]).window(TumblingWindow(seconds=1), timestamp="ts")
    windows.aggregate("count", parallelism=2, name="clicks").collect("out")
    return env


def rows(result):
    return sorted((r.key, r.start, r.end, r.value) for r in result.collected["out"])


def test_windows_resume_from_checkpoint_as_if_uninterrupted(backend, tmp_path):
    expected = rows(window_job("clicks-reference").submit(backend=backend))
    store = tmp_path / "checkpoints"
    marker = str(tmp_path / "crashed")

    with pytest.raises(OperatorError, match="crash at seq=2000"):
        window_job("clicks", marker, store).submit(backend=backend)
    assert sorted(p.name for p in store.iterdir()), "the failed run left checkpoints behind"

    result = window_job("clicks", marker, store).submit(backend=backend)
    assert result.details["checkpoints"]["resumed_from"] is not None
    assert rows(result) == expected
    assert sum(r[3] for r in rows(result)) == N
    assert result.metrics["clicks"].records_in == N  # counters continue from the checkpoint
    assert list(store.iterdir()) == []  # a completed job removes its checkpoints


def keyed_job(data, marker, storage):
    env = LocalEnvironment(
        "running-counts", strict=True, config={"initial_bundle": 8, "max_bundle": 64}
    )
    env.enable_checkpointing(storage, interval=0.05)
    counted = (
        env.from_batch(data).map(Pause).keyby(lambda r: r["k"]).map(RunningCount, parallelism=2)
    )
    counted.map(lambda pair: {"k": pair[0], "n": pair[1]}).map(
        CrashOnceAt, "n", 300, marker
    ).collect("out")
    return env


def test_keyed_state_and_list_source_resume(backend, tmp_path):
    data = [{"k": i % 5} for i in range(2500)]
    storage = f"sqlite://{tmp_path}/checkpoints.db"
    marker = str(tmp_path / "crashed")
    with pytest.raises(OperatorError, match="crash at n=300"):
        keyed_job(data, marker, storage).submit(backend=backend)

    result = keyed_job(data, marker, storage).submit(backend=backend)
    assert result.details["checkpoints"]["resumed_from"] is not None
    got = Counter((r["k"], r["n"]) for r in result.collected["out"])
    assert got == Counter(
        (k, n) for k in range(5) for n in range(1, 501)
    )  # each count exactly once


def test_restart_strategy_resumes_a_failed_job(backend, tmp_path):
    expected = rows(window_job("restart-reference").submit(backend=backend))
    env = window_job("restarted", str(tmp_path / "crashed"), tmp_path / "checkpoints")
    env.set_restart_strategy(FixedDelayRestart(attempts=1, delay=0.1))
    result = env.submit(backend=backend)
    assert result.details["restarts"] == 1
    assert result.details["checkpoints"]["resumed_from"] is not None
    assert rows(result) == expected
