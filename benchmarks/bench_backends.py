"""Backends against the local executor, in the same run.

1. Parallel speed-up: 4,000 records, each ~2 ms of CPU-bound pure Python, parallelism 2 on
   Dask and Ray (2 worker processes) against the local executor at parallelism 1.
   Target: >= 1.7x on 2 cores.
2. Per-record overhead with trivial operators (map -> filter -> map -> sink) on each backend:
   (backend time - local time) / records. Target: Dask and Ray <= 50 us per record.
3. Prefect: 10,000 records with 1 ms of (sleeping) work each; wall time against the local
   executor. Target: <= 1.5x. The Prefect server is started by a warm-up run, excluded.

Cluster start-up is excluded everywhere (each backend runs a warm-up job first) and printed.

    python benchmarks/bench_backends.py [--quick]
"""

from __future__ import annotations

import argparse
import time

from sage_core import LocalEnvironment


def burn(x: int, loops: int) -> int:
    acc = 0
    for i in range(loops):
        acc += i * i
    return x


def sleepy(x: int) -> int:
    time.sleep(0.001)
    return x


def calibrate(target_s: float = 0.002) -> int:
    loops = 10_000
    while True:
        t0 = time.perf_counter()
        burn(0, loops)
        took = time.perf_counter() - t0
        if took > 0.02:
            return max(1, int(loops * target_s / took))
        loops *= 2


def timed(build, backend: str, **options) -> tuple[float, object]:
    env = LocalEnvironment("bench")
    build(env)
    t0 = time.perf_counter()
    result = env.submit(backend=backend, **options)
    return time.perf_counter() - t0, result


def warm_up(backend: str, **options) -> float:
    t0 = time.perf_counter()
    timed(lambda env: env.from_batch([1, 2]).map(abs, parallelism=2).collect("x"), backend, **options)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    n_cpu = 400 if args.quick else 4000
    n_trivial = 20_000 if args.quick else 200_000
    n_prefect = 1000 if args.quick else 10_000
    backends = {"dask": {"n_workers": 2}, "ray": {"num_cpus": 2}}

    for name, options in backends.items():
        print(f"{name}: start-up (warm-up job) {warm_up(name, **options):.1f} s")

    loops = calibrate()
    print(f"\n1. parallel speed-up: {n_cpu} records x ~2 ms CPU ({loops} loop iterations each)")

    def cpu(parallelism):
        return lambda env: env.from_batch(range(n_cpu)).map(burn, loops, parallelism=parallelism).collect("out")

    local_s, _ = timed(cpu(1), "local")
    print(f"   local, parallelism 1 : {local_s:6.2f} s")
    for name, options in backends.items():
        took, result = timed(cpu(2), name, **options)
        assert sorted(result.collected["out"]) == list(range(n_cpu))
        print(f"   {name:5s}, parallelism 2 : {took:6.2f} s   speed-up {local_s / took:4.2f}x  (target >= 1.7x)")

    print(f"\n2. per-record overhead, trivial operators, {n_trivial:,} records")

    def trivial(env):
        (env.from_batch(range(n_trivial)).map(lambda x: x * 2).filter(lambda x: x % 3 == 0)
            .map(lambda x: x + 1).sink(lambda x: None))

    local_s, _ = timed(trivial, "local")
    print(f"   local  : {local_s:6.3f} s ({n_trivial / local_s / 1e6:5.2f} M records/s)")
    for name, options in backends.items():
        took, _ = timed(trivial, name, **options)
        overhead_us = max(0.0, took - local_s) / n_trivial * 1e6
        print(f"   {name:6s} : {took:6.3f} s  ratio {took / local_s:5.2f}x  overhead {overhead_us:5.2f} us/record (target <= 50)")

    print(f"\n3. Prefect: {n_prefect:,} records x 1 ms of work")
    print(f"   prefect start-up (warm-up flow, excluded): {warm_up('prefect'):.1f} s")

    def io_bound(env):
        env.from_batch(range(n_prefect)).map(sleepy).collect("out")

    local_s, _ = timed(io_bound, "local")
    took, result = timed(io_bound, "prefect")
    assert sorted(result.collected["out"]) == list(range(n_prefect))
    print(f"   local   : {local_s:6.2f} s")
    print(f"   prefect : {took:6.2f} s  ratio {took / local_s:4.2f}x  (target <= 1.5x)")


if __name__ == "__main__":
    main()
