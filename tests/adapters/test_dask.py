"""Dask-specific behaviour: an existing cluster started in its own processes, options."""

from __future__ import annotations

import inspect
import os

import pytest

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

from sage_adapters.dask import DaskOptions  # noqa: E402
from sage_adapters.shipping import ShippingOptions  # noqa: E402
from sage_core import LocalEnvironment  # noqa: E402
from tests import pipelines as p  # noqa: E402


@pytest.fixture(scope="module")
def external_cluster():
    """A scheduler and two workers started from Dask's command line, as an operator would."""
    from sage_adapters.dask.testing import external_cluster as start

    with start(workers=2) as address, distributed.Client(address, set_as_default=False) as client:
        yield address, client


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
    """Dask's own options keep Dask's names; SAGE's shipping options are the only others."""
    cluster_args = set(inspect.signature(distributed.LocalCluster).parameters)
    client_args = set(inspect.signature(distributed.Client).parameters)
    for field in set(DaskOptions.model_fields) - set(ShippingOptions.model_fields):
        assert field in cluster_args | client_args, field
