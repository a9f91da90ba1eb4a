"""The data plane on Dask and Ray: what the driver pays per record, and its share of the job.

Pipeline (as a cluster user writes it): a batch source that makes each payload on a worker,
``keyby``, a map at parallelism 2 that reduces each payload to a float, a counting sink.
N records (default 2,000) at 64 B and at 256 KB of payload.

1. Driver CPU per record (this process's CPU time over the whole submit / N), at 64 B and
   256 KB. Target: the 256 KB figure <= 1.5x the 64 B one (the driver's cost does not grow
   with payload size).
2. Records/s and the driver's share of all CPU used (this process against every process of
   the cluster: scheduler, workers, raylets, ...), with 1 and 2 worker processes, and on a
   simulated multi-node cluster (a Dask cluster of 4 worker processes; a Ray cluster of 3
   nodes from ``ray.cluster_utils.Cluster``). Target: the driver below 10% at 256 KB.
3. What the cluster holds after the job (Dask keys on the workers, objects in Ray's store)
   against before it. Target: back at its level.

Dask runs on an external cluster started from ``dask scheduler`` / ``dask worker`` so that
the driver's process holds the client alone. Variants run interleaved, ``--repeat`` times;
min and median are printed.

    python benchmarks/bench_dataplane.py [--n 2000] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from dataclasses import dataclass, field

import psutil

from sage_core import BatchFunction, LocalEnvironment

SIZES = {"64 B": 64, "256 KB": 256 * 1024}


class Payloads(BatchFunction):
    """``n`` records of ``size`` random bytes, made where the source runs."""

    def __init__(self, n: int, size: int):
        self.n, self.size, self.sent = n, size, 0

    def execute(self):
        if self.sent >= self.n:
            return None
        self.sent += 1
        return (self.sent % 64, os.urandom(self.size))


def first(record):
    return record[0]


def reduce_payload(record) -> float:
    return float(sum(record[1][:16]))


def discard(value: float) -> None:
    """The sink: SAGE's metrics count what reaches it."""


def build(n: int, size: int) -> LocalEnvironment:
    env = LocalEnvironment("dataplane")
    env.from_batch(Payloads, n, size).keyby(first).map(reduce_payload, parallelism=2).sink(discard, name="count")
    return env


def cluster_cpu() -> dict[int, float]:
    """CPU seconds of every process below this one (the clusters this script started)."""
    seen = {}
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            seen[proc.pid] = t.user + t.system
    return seen


@dataclass
class Samples:
    driver_us: list[float] = field(default_factory=list)
    rate: list[float] = field(default_factory=list)
    share: list[float] = field(default_factory=list)


def run_once(n: int, size: int, backend: str, options: dict) -> tuple[float, float, float]:
    """(driver CPU µs per record, records/s, driver share of all CPU) of one job."""
    env = build(n, size)
    cluster0, cpu0, t0 = cluster_cpu(), time.process_time(), time.perf_counter()
    result = env.submit(backend=backend, **options)
    wall, cpu1, cluster1 = time.perf_counter() - t0, time.process_time(), cluster_cpu()
    assert result.metrics["count"].records_in == n, result.metrics
    driver = cpu1 - cpu0
    others = sum(c - cluster0.get(pid, 0.0) for pid, c in cluster1.items())
    return driver / n * 1e6, n / wall, driver / (driver + others)


def dask_holdings(address: str) -> list[int]:
    from distributed import Client

    with Client(address, set_as_default=False) as client:
        return sorted(client.run(lambda dask_worker: len(dask_worker.data)).values())


def ray_holdings() -> str:
    try:
        import ray
        from ray._private.internal_api import memory_summary

        summary = memory_summary(address=ray.get_runtime_context().gcs_address, stats_only=True)
    except Exception as exc:  # noqa: BLE001 - needs grpcio; say why instead of failing the run
        return f"n/a ({type(exc).__name__})"
    line = next((x for x in summary.splitlines() if "Plasma memory usage" in x), "")
    return line.split("usage")[-1].split(",")[0:2].__str__() if line else "n/a"


def settle(read, seconds: float = 2.0):
    """A reading once it stays the same for ``seconds`` (releases travel asynchronously)."""
    seen = [read()]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (len(seen) < 4 or any(x != seen[-1] for x in seen[-4:])):
        time.sleep(seconds / 4)
        seen.append(read())
    return seen[-1]


def report(title: str, variants: dict[str, Samples]) -> None:
    print(f"\n{title}")
    print(f"   {'variant':34s} {'driver µs/rec min / med':>24s} {'records/s med':>14s} {'driver share med':>17s}")
    for name, s in variants.items():
        print(
            f"   {name:34s} {min(s.driver_us):10.1f} / {statistics.median(s.driver_us):8.1f}"
            f" {statistics.median(s.rate):14,.0f} {statistics.median(s.share):16.1%}"
        )


def payload_ratios(variants: dict[str, Samples]) -> None:
    print("\n   driver CPU per record, 256 KB against 64 B (target <= 1.5x):")
    for name in variants:
        if name.endswith("64 B"):
            big = name.replace("64 B", "256 KB")
            if big in variants:
                small_us = statistics.median(variants[name].driver_us)
                big_us = statistics.median(variants[big].driver_us)
                print(f"   {name[:-5]:34s} {big_us / small_us:5.2f}x")


def interleaved(configs: dict[str, tuple[str, dict]], n: int, repeat: int) -> dict[str, Samples]:
    variants = {f"{name}, {label}": Samples() for name in configs for label in SIZES}
    for _ in range(repeat):
        for name, (backend, options) in configs.items():
            for label, size in SIZES.items():
                us, rate, share = run_once(n, size, backend, options)
                s = variants[f"{name}, {label}"]
                s.driver_us.append(us)
                s.rate.append(rate)
                s.share.append(share)
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="n=200, one repeat")
    args = parser.parse_args()
    n, repeat = (200, 1) if args.quick else (args.n, args.repeat)

    import ray

    from sage_adapters.dask.testing import external_cluster

    print(f"{n} records per job, {repeat} interleaved repeats; {os.cpu_count()} CPUs")
    with external_cluster(workers=1) as dask1, external_cluster(workers=2) as dask2, external_cluster(workers=4) as dask4:
        ray.init(num_cpus=2, include_dashboard=False, object_store_memory=2 * 1024**3)
        configs = {
            "dask, 1 worker": ("dask", {"address": dask1}),
            "dask, 2 workers": ("dask", {"address": dask2}),
            "dask, 4 workers (multi-node)": ("dask", {"address": dask4}),
            "ray, 1 worker": ("ray", {"hosts": 1}),
            "ray, 2 workers": ("ray", {"hosts": 2}),
        }
        for backend, options in configs.values():  # warm: connections, worker imports
            run_once(50, 64, backend, options)
        before = {a: settle(lambda a=a: dask_holdings(a)) for a in (dask1, dask2, dask4)}
        ray_before = settle(ray_holdings)
        variants = interleaved(configs, n, repeat)
        after = {a: settle(lambda a=a: dask_holdings(a)) for a in (dask1, dask2, dask4)}
        ray_after = settle(ray_holdings)
        ray.shutdown()

    from ray.cluster_utils import Cluster

    sim = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 1024**3})
    for _ in range(2):
        sim.add_node(num_cpus=1, object_store_memory=1024**3)
    ray.init(address=sim.address)
    multi = {"ray, 3 nodes (multi-node)": ("ray", {"address": sim.address, "hosts": 3})}
    run_once(50, 64, *multi["ray, 3 nodes (multi-node)"])
    variants.update(interleaved(multi, n, repeat))
    ray.shutdown()
    sim.shutdown()

    report("1-2. driver CPU per record, records/s, driver share of all CPU", variants)
    payload_ratios(variants)
    print("\n3. what the cluster holds, before -> after the measured jobs (target: equal)")
    for name, address in (("dask, 1 worker", dask1), ("dask, 2 workers", dask2), ("dask, 4 workers", dask4)):
        print(f"   {name:34s} keys per worker {before[address]} -> {after[address]}")
    print(f"   {'ray object store':34s} {ray_before} -> {ray_after}")


if __name__ == "__main__":
    main()
