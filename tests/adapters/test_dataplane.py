"""The data plane on Dask and Ray: records move worker to worker, the driver handles
references and counts only, and nothing is left on the cluster after a job."""

from __future__ import annotations

import os
import time
from collections import defaultdict

from sage_core import LocalEnvironment
from sage_core.api.testing import wait_for
from sage_core.runtime.driver import Driver
from sage_core.runtime.instance import CallOutput
from tests import pipelines as p
from tests.conftest import selected_backends


def pytest_generate_tests(metafunc):
    if "cluster_backend" in metafunc.fixturenames:
        chosen = [b for b in selected_backends(metafunc.config) if b in ("dask", "ray")]
        metafunc.parametrize("cluster_backend", chosen)


def shuffle(n: int, size: int, keys: int = 5) -> LocalEnvironment:
    """A source making payloads on a worker, a keyed shuffle to two instances, digests out."""
    env = LocalEnvironment("shuffle", config={"max_bundle": 64})
    payloads = env.from_batch(p.PayloadSource, n, size, keys, os.getpid())
    payloads.keyby(p.payload_key).map(p.payload_digest, parallelism=2).collect("digests")
    return env


def test_records_are_never_opened_in_the_driver(cluster_backend):
    p.LOADED_IN_DRIVER[0] = 0
    result = shuffle(600, 20_000).submit(backend=cluster_backend)
    digests = result.collected["digests"]
    assert sorted(seq for _, seq, _, _ in digests) == list(range(1, 601))
    assert all(key == seq % 5 and size == 20_000 for key, seq, _, size in digests)
    assert p.LOADED_IN_DRIVER[0] == 0  # not one payload was unpickled in this process
    assert result.metrics["map_2"].records_in == 600


def test_large_parts_move_worker_to_worker(cluster_backend, monkeypatch):
    """Shuffled parts of 4 or more 300 KB records (over 1 MiB) reach the driver as
    references only (a part's size decides; the digests after the map are small)."""
    seen: list[tuple[str, int]] = []
    complete = Driver._complete

    def spying(self, handle, outcome):
        if isinstance(outcome, CallOutput) and self.busy[handle][0] == 0:  # the source's stage
            seen.extend((type(part.data).__name__, part.num_records) for part in outcome.routed)
        return complete(self, handle, outcome)

    monkeypatch.setattr(Driver, "_complete", spying)
    result = shuffle(200, 300_000).submit(backend=cluster_backend)
    assert len(result.collected["digests"]) == 200
    large = [kind for kind, n in seen if n >= 4]
    assert large, seen  # the shuffle made parts of several records
    assert not any(kind in ("list", "InlinePart") for kind in large), seen


def test_order_per_key_is_kept_across_the_shuffle(cluster_backend):
    result = shuffle(1000, 100, keys=7).submit(backend=cluster_backend)
    by_key = defaultdict(list)
    for key, seq, _, _ in result.collected["digests"]:
        by_key[key].append(seq)
    assert set(by_key) == set(range(7))
    assert all(seqs == sorted(seqs) for seqs in by_key.values())
    assert sum(map(len, by_key.values())) == 1000


def _cluster_holdings(backend: str) -> dict:
    """What the cluster holds for jobs: Dask keys and kept parts per worker, Ray objects."""
    if backend == "dask":
        from sage_adapters import hosting
        from sage_adapters.dask.backend import DaskOptions, _client

        client = _client(DaskOptions())
        keys = client.run(lambda dask_worker: len(dask_worker.data))
        parts = client.run(lambda: len(hosting._PARTS))
        return {"keys": sorted(keys.values()), "parts": sorted(parts.values()), "scheduler": len(client.who_has())}
    import ray
    from ray._private.internal_api import memory_summary

    summary = memory_summary(address=ray.get_runtime_context().gcs_address, stats_only=True)
    line = next(line for line in summary.splitlines() if "Plasma memory usage" in line)
    return {"plasma": line.split("memory usage")[1].split(",")[:2]}


def _settled(backend: str) -> dict:
    """The holdings once they stay the same for 2 s (releases travel asynchronously)."""
    seen = [_cluster_holdings(backend)]
    while len(seen) < 5 or any(h != seen[-1] for h in seen[-5:]):
        time.sleep(0.5)
        seen.append(_cluster_holdings(backend))
    return seen[-1]


def test_nothing_is_left_on_the_cluster_after_a_job(cluster_backend):
    shuffle(50, 1000).submit(backend=cluster_backend)  # cluster started, warm
    before = _settled(cluster_backend)
    result = shuffle(400, 200_000).submit(backend=cluster_backend)  # 80 MB through the shuffle
    assert len(result.collected["digests"]) == 400
    # releases travel asynchronously (driver -> scheduler -> workers): wait for them
    wait_for(lambda: _cluster_holdings(cluster_backend) == before, timeout=20, what=f"the cluster back at {before}")
