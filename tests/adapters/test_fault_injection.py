"""Fault injection with real processes: a Dask or Ray worker killed (SIGKILL, by its own pid)
in the middle of a job; the restart strategy starts the job again and it resumes from its
last checkpoint, so the windows equal those of an uninterrupted run (also when large
records were crossing a shuffle worker to worker)."""

from __future__ import annotations

import os
from collections import Counter

from sage_core import FixedDelayRestart, LocalEnvironment
from sage_flow import TumblingWindow
from tests.conftest import selected_backends
from tests.pipelines import ClickEvents, KillWorkerOnce

N = 3000


def pytest_generate_tests(metafunc):
    if "worker_backend" in metafunc.fixturenames:
        chosen = [b for b in selected_backends(metafunc.config) if b in ("dask", "ray")]
        metafunc.parametrize("worker_backend", chosen)


def test_killed_worker_restarts_and_resumes_from_checkpoint(worker_backend, tmp_path):
    marker = tmp_path / "killed-pid"
    env = LocalEnvironment("killed-worker", config={"initial_bundle": 8, "max_bundle": 64})
    env.enable_checkpointing(tmp_path / "checkpoints", interval=0.05)
    env.set_restart_strategy(FixedDelayRestart(attempts=2, delay=0.5))
    events = env.from_source(ClickEvents, N).map(KillWorkerOnce, 2 * N // 3, str(marker))
    windows = events.keyby(lambda e: e["user"]).window(TumblingWindow(seconds=1), timestamp="ts")
    windows.aggregate("count", parallelism=2).collect("out")

    result = env.submit(backend=worker_backend)

    killed = int(marker.read_text())
    assert killed != os.getpid()  # a worker process died, not the driver
    assert result.details["restarts"] == 1
    assert result.details["checkpoints"]["resumed_from"] is not None
    expected = Counter((f"u{i % 7}", float(int(i * 0.01))) for i in range(1, N + 1))
    assert {(r.key, r.start): r.value for r in result.collected["out"]} == dict(expected)
    assert result.dead_letters == []


def test_killed_worker_in_a_shuffle_of_large_records_resumes_exactly(worker_backend, tmp_path):
    """64 KB records cross a keyed shuffle worker to worker; a worker dies mid-job; the job
    restarts, resumes from its checkpoint and the windows are exact."""
    n = 1200
    marker = tmp_path / "killed-pid"
    env = LocalEnvironment("killed-worker-shuffle", config={"initial_bundle": 8, "max_bundle": 32})
    env.enable_checkpointing(tmp_path / "checkpoints", interval=0.05)
    env.set_restart_strategy(FixedDelayRestart(attempts=2, delay=0.5))
    events = env.from_source(ClickEvents, n, 7, 64 * 1024).map(KillWorkerOnce, 2 * n // 3, str(marker))
    windows = events.keyby(lambda e: e["user"]).window(TumblingWindow(seconds=1), timestamp="ts")
    windows.aggregate("count", parallelism=2).collect("out")

    result = env.submit(backend=worker_backend)

    assert int(marker.read_text()) != os.getpid()
    assert result.details["restarts"] == 1
    assert result.details["checkpoints"]["resumed_from"] is not None
    expected = Counter((f"u{i % 7}", float(int(i * 0.01))) for i in range(1, n + 1))
    assert {(r.key, r.start): r.value for r in result.collected["out"]} == dict(expected)
    assert result.dead_letters == []
