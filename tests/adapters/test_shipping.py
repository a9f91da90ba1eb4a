"""User code ships to an external cluster: a script whose function classes live in its own
modules (not installed, not on the workers' path) runs on a Dask cluster started with
``dask scheduler`` / ``dask worker`` and on a Ray cluster started with ``ray start --head``
(token authentication on, connected by explicit address)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import selected_backends

PROJECT = Path(__file__).parent / "user_project"
WORDS = ["apple", "avocado", "banana", "blueberry", "cherry", "date", "elderberry", "fig"] * 5


def pytest_generate_tests(metafunc):
    if "cluster_backend" in metafunc.fixturenames:
        chosen = [b for b in selected_backends(metafunc.config) if b in ("dask", "ray")]
        if metafunc.function.__name__.startswith("test_a_ray_"):
            chosen = [b for b in chosen if b == "ray"]
        metafunc.parametrize("cluster_backend", chosen, scope="module")


@pytest.fixture
def project(tmp_path) -> Path:
    """The user's folder: a script and the two modules it imports."""
    folder = tmp_path / "project"
    shutil.copytree(PROJECT, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


@pytest.fixture(scope="module")
def cluster(cluster_backend, tmp_path_factory):
    """(backend, address, extra driver environment) of a cluster started from its own CLI,
    its workers in a folder of their own."""
    workdir = tmp_path_factory.mktemp("workers")
    if cluster_backend == "dask":
        from sage_adapters.dask.testing import external_cluster

        with external_cluster(workers=2, cwd=workdir) as address:
            yield "dask", address, {}
    else:
        from sage_adapters.ray.testing import external_cluster

        with external_cluster(cpus=2, cwd=workdir) as ray_cluster:
            yield "ray", ray_cluster.address, ray_cluster.driver_env()


def run_script(project: Path, cluster, ship) -> subprocess.CompletedProcess:
    backend, address, extra_env = cluster
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_") and k != "PYTHONPATH"}
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "run_wc.py", backend, address, json.dumps(ship)],
        cwd=project, env=env, capture_output=True, text=True, timeout=240,
    )


def expected_counts() -> Counter:
    return Counter((w, len(w) * 10) for w in WORDS)


def test_user_modules_ship_to_an_external_cluster(project, cluster):
    done = run_script(project, cluster, True)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    assert Counter((word, weight) for word, weight, _ in rows) == expected_counts()


def test_modules_listed_in_ship_modules_go_by_value(project, cluster):
    done = run_script(project, cluster, ["wc_pipeline", "wc_helpers"])
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    assert Counter((word, weight) for word, weight, _ in rows) == expected_counts()
    assert not any(imported for _, _, imported in rows)  # the workers never imported it by name


def test_without_shipping_the_check_names_the_missing_module(project, cluster):
    done = run_script(project, cluster, False)
    assert done.returncode == 3, done.stderr[-3000:]
    assert "cannot import 1 module(s)" in done.stderr
    assert "module 'wc_pipeline' (used by operator 'keyby_1', operator 'map_2')" in done.stderr
    assert "ship_modules=['wc_pipeline']" in done.stderr


def test_a_ray_driver_without_the_token_is_told_what_to_set(project, cluster):
    backend, address, _ = cluster
    done = run_script(project, (backend, address, {}), True)
    assert done.returncode != 0
    assert f"the Ray cluster at '{address}' refused this driver's auth token" in done.stderr
    assert "RAY_AUTH_TOKEN" in done.stderr
