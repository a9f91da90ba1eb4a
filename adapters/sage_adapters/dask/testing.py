"""A real external Dask cluster for tests and benchmarks: ``dask scheduler`` and ``dask
worker`` started from their command line, in their own processes, as an operator would.

Holds the start and the stop of such a cluster, nothing else. Example::

    with external_cluster(workers=2, cwd=tmp_path) as address:
        env.submit(backend="dask", address=address)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from distributed import Client

from sage_core.api.testing import free_port


@contextlib.contextmanager
def external_cluster(
    workers: int = 2, threads: int = 1, cwd: str | Path | None = None, timeout: float = 60.0
) -> Iterator[str]:
    """Start a scheduler and ``workers`` worker processes on 127.0.0.1; yield the address.

    ``cwd`` is the workers' working directory (by default a fresh one, so that they cannot
    import modules that sit next to the caller's script). Everything started is stopped on
    exit, also after an error.
    """
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    dask = str(bin_dir / "dask") if (bin_dir / "dask").exists() else None
    scheduler_cmd = [dask, "scheduler"] if dask else [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    worker_cmd = [dask, "worker"] if dask else [sys.executable, "-m", "distributed.cli.dask_worker"]
    procs: list[subprocess.Popen] = []
    with contextlib.ExitStack() as stack:
        if cwd is None:
            import tempfile

            cwd = stack.enter_context(tempfile.TemporaryDirectory(prefix="sage-dask-"))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

        def start(cmd: list[str]) -> None:
            procs.append(
                subprocess.Popen(
                    cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )

        try:
            start([*scheduler_cmd, "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"])
            for _ in range(workers):
                start([*worker_cmd, address, "--nthreads", str(threads), "--no-dashboard", "--host", "127.0.0.1"])
            _wait_for_workers(address, workers, timeout)
            yield address
        finally:
            for proc in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def _wait_for_workers(address: str, workers: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with Client(address, timeout=2, set_as_default=False) as client:
                if len(client.scheduler_info(n_workers=-1)["workers"]) >= workers:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    msg = f"the Dask cluster at {address} did not get {workers} worker(s) within {timeout:.0f} s"
    raise TimeoutError(msg)
