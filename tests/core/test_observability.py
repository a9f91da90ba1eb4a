"""Structured logs with secrets masked, and metrics served over HTTP for Prometheus."""

from __future__ import annotations

import io
import json
import logging
import os
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sage_core import LocalEnvironment, MapFunction
from sage_core.observe.logs import configure_logging, redact
from sage_core.observe.metrics import serve_metrics
from tests import pipelines as p

SECRET = "sk-test-0123456789abcdefXYZ"


@pytest.fixture
def json_logs(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_API_KEY", SECRET)
    stream = io.StringIO()
    handler = configure_logging("INFO", json=True, stream=stream)
    yield stream
    logging.getLogger("sage").removeHandler(handler)


class CallsAnApi(MapFunction):
    def execute(self, data):
        key = os.environ["MY_SERVICE_API_KEY"]
        self.ctx.logger.info("calling the API for %s with key %s", data, key)
        if data == 2:
            raise PermissionError(f"401 for key {key}")
        return data


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"key is {SECRET}", "key is ***"),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer ***"),
        ("retry with api_key=supersecretvalue&x=1", "retry with api_key=***&x=1"),
        ('{"password": "hunter22"}', '{"password": "***"}'),
        ("postgresql://sage:pa55word@db:5432/kb", "postgresql://sage:***@db:5432/kb"),
        ("nothing secret here: tokens are counted", "nothing secret here: tokens are counted"),
    ],
)
def test_redact(monkeypatch, text, expected):
    monkeypatch.setenv("MY_SERVICE_API_KEY", SECRET)
    assert redact(text) == expected


def test_operator_logs_carry_job_and_operator_and_never_the_key(json_logs):
    env = LocalEnvironment("logged")
    env.from_batch([1, 2, 3]).map(CallsAnApi, name="call_api").collect("out")
    result = env.submit()
    assert result.collected["out"] == [1, 3]
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    calls = [entry for entry in lines if entry["message"].startswith("calling the API")]
    assert len(calls) == 3
    assert {(e["job"], e["operator"], e["logger"]) for e in calls} == {("logged", "call_api", "sage.logged.call_api")}
    assert all(e["message"].endswith("with key ***") for e in calls)
    assert SECRET not in json_logs.getvalue()
    [dead] = result.dead_letters
    assert dead.error == "PermissionError: 401 for key ***" and SECRET not in dead.traceback


def test_job_restart_warnings_name_the_job(json_logs, tmp_path):
    from sage_core import FixedDelayRestart

    env = LocalEnvironment("restarted", config={"strict": True})
    env.set_restart_strategy(FixedDelayRestart(attempts=1, delay=0))
    env.from_batch(range(5)).map(p.FailFirstTime, str(tmp_path / "marker")).collect("out")
    assert sorted(env.submit().collected["out"]) == list(range(5))
    [warning] = [json.loads(line) for line in json_logs.getvalue().splitlines() if '"sage.job"' in line]
    assert warning["level"] == "WARNING" and warning["job"] == "restarted" and "restart 1" in warning["message"]


def test_metrics_endpoint_serves_a_running_job_on_localhost():
    env = LocalEnvironment("served")
    env.from_source(p.InfiniteSource).map(p.times_two, name="double").sink(p.SlowSink, 0.0005, name="slow_sink")
    handle = env.submit(autostop=False)
    server, _thread = serve_metrics(handle, port=0)
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        seen = 0.0
        while seen < 50:  # scrape until the running job has moved records
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
                body = response.read().decode()
            families = {f.name: f for f in text_string_to_metric_families(body)}
            seen = {s.labels["operator"]: s.value for s in families["sage_operator_records_in"].samples}.get("slow_sink", 0.0)
        assert {s.labels["job"] for s in families["sage_operator_records_out"].samples} == {"served"}
    finally:
        server.shutdown()
        handle.cancel()
        handle.wait(30)
