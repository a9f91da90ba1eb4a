"""Shared fixtures. ``backend`` runs a test once per backend under test.

Choose backends with ``--backends=local,dask`` or ``SAGE_TEST_BACKENDS``; by default every
backend registered in this installation is tested. Each distributed backend is started once
per test session: one LocalCluster for Dask (reused by the adapter), one local Ray, one
temporary Prefect server and database.
"""

from __future__ import annotations

import os

import pytest

from sage_core.registry import available_backends

# A user's project folder that tests copy and run as scripts: nothing in it is a test.
collect_ignore = ["adapters/user_project"]


def pytest_addoption(parser):
    parser.addoption("--backends", default=None, help="comma-separated backends to test (default: all installed)")


def selected_backends(config) -> list[str]:
    raw = config.getoption("--backends") or os.environ.get("SAGE_TEST_BACKENDS")
    return [b.strip() for b in raw.split(",") if b.strip()] if raw else available_backends()


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", selected_backends(metafunc.config), indirect=True)


@pytest.fixture(scope="session")
def prefect_server():
    """A temporary Prefect API server and database for the whole session (it dies with pytest)."""
    from sage_adapters.prefect.server import temporary_server

    with temporary_server(timeout=120):
        yield


@pytest.fixture
def backend(request) -> str:
    """The backend name (with its session-wide server started when it needs one)."""
    if request.param == "prefect":
        request.getfixturevalue("prefect_server")
    return request.param
