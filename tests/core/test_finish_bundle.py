"""finish_bundle(): sinks that buffer make each bundle visible while an unbounded job runs."""

from __future__ import annotations

import json
import sqlite3

import pytest

from sage_core import LocalEnvironment, OperatorError, SinkFunction
from sage_core.api.testing import wait_for
from sage_core.reliability.sinks import JsonlSink
from sage_recipes.io import SQLiteSink
from tests import pipelines as p


class CountBundles(SinkFunction):
    def __init__(self):
        self.seen = 0

    def execute(self, data):
        self.seen += 1

    def finish_bundle(self):
        self.ctx.collect("bundles", self.seen)


class BrokenFlush(SinkFunction):
    def execute(self, data):
        pass

    def finish_bundle(self):
        raise ConnectionError("store is down")


def test_finish_bundle_follows_every_bundle():
    env = LocalEnvironment("bundles", config={"max_bundle": 10})
    env.from_batch(range(95)).sink(CountBundles)
    seen = env.submit().collected["bundles"]
    assert len(seen) >= 10 and seen == sorted(seen) and seen[-1] == 95


def test_a_failing_finish_bundle_fails_the_job_naming_the_operator():
    env = LocalEnvironment("broken-flush")
    env.from_batch(range(5)).sink(BrokenFlush, name="store")
    with pytest.raises(OperatorError, match=r"store.*finish_bundle\(\): ConnectionError: store is down"):
        env.submit()


def test_buffering_sinks_show_an_unbounded_stream_while_it_runs(tmp_path):
    env = LocalEnvironment("live-sinks")
    ticks = env.from_source(p.InfiniteSource).map(p.Numbered)
    ticks.sink(JsonlSink, tmp_path / "out.jsonl")
    ticks.sink(SQLiteSink, str(tmp_path / "out.db"), "ticks", columns=["n"], json_column=None, batch_size=1_000_000)
    handle = env.submit(autostop=False)
    try:
        lines = wait_for(lambda: (tmp_path / "out.jsonl").read_text().splitlines() if (tmp_path / "out.jsonl").exists() else [], what="JSONL lines")
        assert json.loads(lines[0]) == {"id": 1, "n": 1}

        def rows():
            if not (tmp_path / "out.db").exists():
                return 0
            with sqlite3.connect(tmp_path / "out.db") as conn:
                try:
                    return conn.execute("SELECT COUNT(*) FROM ticks").fetchone()[0]
                except sqlite3.OperationalError:  # the table is not there yet
                    return 0

        assert wait_for(rows, what="rows in SQLite") > 0  # far below batch_size: committed per bundle
    finally:
        handle.cancel()
        handle.wait(30)
