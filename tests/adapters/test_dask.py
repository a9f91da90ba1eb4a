"""Dask-specific behaviour: an existing cluster started in its own processes, options."""

from __future__ import annotations

import inspect
import os
import socket
import subprocess
import sys
import time

import pytest

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

from sage_adapters.dask import DaskOptions  # noqa: E402
from sage_core import LocalEnvironment  # noqa: E402
from tests import pipelines as p  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def external_cluster():
    """A scheduler and two workers started as separate processes, as an operator would."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    client = None
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                client = distributed.Client(address, timeout=2, set_as_default=False)
                if len(client.scheduler_info()["workers"]) == 2:
                    break
                client.close()
                client = None
            except OSError:
                pass
            time.sleep(0.5)
        assert client is not None, "the external Dask cluster did not start"
        yield address, client
    finally:
        if client is not None:
            client.close()
        for proc in [*workers, scheduler]:
            proc.terminate()
        for proc in [*workers, scheduler]:
            proc.wait(timeout=30)


def test_runs_on_an_existing_scheduler_in_other_processes(external_cluster):
    address, client = external_cluster
    env = LocalEnvironment("external-dask")
    data = list(range(200))
    env.from_batch(data).keyby(p.modulo_key).map(p.WherePid, parallelism=2).collect("rows")
    rows = env.submit(backend="dask", address=address).collected["rows"]
    assert sorted(value for _, value in rows) == data
    worker_pids = set(client.run(os.getpid).values())
    assert {pid for pid, _ in rows} == worker_pids and os.getpid() not in worker_pids


def test_options_match_dask_signatures():
    cluster_args = set(inspect.signature(distributed.LocalCluster).parameters)
    client_args = set(inspect.signature(distributed.Client).parameters)
    for field in DaskOptions.model_fields:
        assert field in cluster_args | client_args, field
