"""Prefect-specific behaviour: runs visible in Prefect's API, nesting, retries, serve, deploy."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("prefect", reason="the prefect extra is not installed")

from prefect import flow  # noqa: E402
from prefect.client.orchestration import get_client  # noqa: E402
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId  # noqa: E402
from prefect.client.schemas.sorting import TaskRunSort  # noqa: E402
from prefect.deployments import run_deployment  # noqa: E402
from prefect.settings import PREFECT_API_URL  # noqa: E402

from sage_adapters.prefect import as_prefect_flow  # noqa: E402
from sage_core import LocalEnvironment, OperatorError  # noqa: E402
from tests import pipelines as p  # noqa: E402
from tests.prefect_flows import numbers_pipeline  # noqa: E402

ROOT = Path(__file__).parents[2]


@pytest.fixture(autouse=True)
def _server(prefect_server):
    yield


def task_runs_of(flow_run_id: str, expected: int = 1, names: frozenset[str] = frozenset()):
    """The flow run and its task runs (task runs are recorded from events, so poll briefly
    until ``expected`` of them, including every one of ``names``, are there and final)."""
    deadline = time.time() + 30
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(flow_run_id)
            tasks = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])), limit=200, sort=TaskRunSort.EXPECTED_START_TIME_ASC
            )
            seen = {t.name.rsplit("-", 1)[0] for t in tasks}
            settled = len(tasks) >= expected and names <= seen and all(t.state is not None and t.state.is_final() for t in tasks)
            if settled or time.time() > deadline:
                return run, tasks
            time.sleep(0.5)


def test_flow_run_and_task_runs_are_visible_in_the_api():
    env = LocalEnvironment("visible")
    env.from_batch(range(100)).map(p.times_two, parallelism=2, name="double").collect("out")
    result = env.submit(backend="prefect")
    assert sorted(result.collected["out"]) == [2 * i for i in range(100)]
    wanted = frozenset({"source_batch_0#0.pull", "double#0.process", "double#1.finish", "collect_out#0.finish"})
    run, tasks = task_runs_of(result.details["flow_run_id"], expected=4, names=wanted)
    assert run.name and run.state.is_completed() and run.flow_id is not None
    names = {t.name.rsplit("-", 1)[0] for t in tasks}
    assert wanted <= names
    assert all(t.state.is_completed() for t in tasks)


def test_pipeline_flow_runs_inside_an_existing_flow():
    @flow(name="outer-app")
    def outer():
        return numbers_pipeline()

    summary = outer()
    assert summary["metrics"]["collect_out"]["records_in"] == 10
    with get_client(sync_client=True) as client:
        inner = client.read_flow_run(summary["details"]["flow_run_id"])
        assert inner.parent_task_run_id is not None  # a subflow of the outer run
        parent = client.read_task_run(inner.parent_task_run_id)
        outer_run = client.read_flow_run(parent.flow_run_id)
    assert client is not None and outer_run.name and outer_run.id != inner.id


def test_as_prefect_flow_accepts_an_environment():
    env = LocalEnvironment("env-flow")
    env.from_batch([1, 2, 3]).map(p.times_two).collect("out")
    summary = as_prefect_flow(env)()
    assert summary["metrics"]["map_1"]["records_out"] == 3 and summary["backend"] == "prefect"


def test_prefect_retries_rerun_a_failed_bundle(tmp_path):
    marker = tmp_path / "failed-once"
    env = LocalEnvironment("retries", strict=True)
    env.from_batch([1, 2, 3]).map(p.FailFirstTime, str(marker)).collect("out")
    with pytest.raises(OperatorError, match="first attempt fails"):
        env.submit(backend="prefect")
    marker.unlink()
    result = env.submit(backend="prefect", retries=1)
    assert sorted(result.collected["out"]) == [1, 2, 3]
    _, tasks = task_runs_of(result.details["flow_run_id"])
    assert max(t.run_count for t in tasks) == 2


def test_flow_becomes_a_deployment_and_is_served(tmp_path):
    deployment_id = numbers_pipeline.to_deployment(name="nightly").apply()
    with get_client(sync_client=True) as client:
        assert client.read_deployment(deployment_id).name == "nightly"
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PYTHONPATH": str(ROOT)}
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed with the process
    server = subprocess.Popen([sys.executable, "-m", "tests.prefect_flows"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 90
        while True:
            try:
                with get_client(sync_client=True) as client:
                    client.read_deployment_by_name("numbers_pipeline/served")
                break
            except Exception:
                assert time.time() < deadline, "the served deployment never registered"
                time.sleep(1)
        run = run_deployment("numbers_pipeline/served", timeout=180)
        assert run.state.is_completed(), run.state
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _prefect_cli(*args: str) -> str:
    """Prefect's own CLI against the server of this test session."""
    prefect = Path(sys.executable).with_name("prefect")
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "COLUMNS": "250"}
    done = subprocess.run([str(prefect), *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_prefect_cli_lists_sage_flows_runs_and_deployments():
    env = LocalEnvironment("cli-listed")
    env.from_batch(range(10)).map(p.times_two).collect("out")
    result = env.submit(backend="prefect")
    numbers_pipeline.to_deployment(name="cli-listed-deployment").apply()
    with get_client(sync_client=True) as client:
        run_name = client.read_flow_run(result.details["flow_run_id"]).name
    assert "cli-listed" in _prefect_cli("flow", "ls")
    assert run_name in _prefect_cli("flow-run", "ls", "--limit", "200")
    assert "cli-listed-deployment" in _prefect_cli("deployment", "ls")
