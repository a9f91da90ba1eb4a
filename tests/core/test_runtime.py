"""Job handles, cancellation, metrics, testing helpers and key hashing."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from sage_core import LocalEnvironment
from sage_core.api.testing import assert_that, equal_to, multiset_diff
from sage_core.runtime.partition import stable_hash
from tests import pipelines as p


def test_assert_that_reports_unexpected_and_missing():
    env = LocalEnvironment("assert")
    assert_that(env.from_batch([1, 2, 2]), equal_to([1, 2, 3]))
    with pytest.raises(AssertionError, match=r"unexpected elements \[2\], missing elements \[3\]"):
        env.submit()
    assert multiset_diff([{"a": 1}], [{"a": 1}, {"b": 2}]) == ([], [{"b": 2}])


def test_metrics_count_records_per_operator():
    env = LocalEnvironment("metrics")
    env.from_batch(range(100), name="src").map(p.times_two, name="double").filter(lambda x: x % 4 == 0, name="keep").sink(print, name="out")
    m = env.submit().metrics
    assert (m["src"].records_out, m["double"].records_in, m["double"].records_out) == (100, 100, 100)
    assert (m["keep"].records_in, m["keep"].records_out, m["out"].records_in) == (100, 50, 50)
    assert m["double"].seconds >= 0 and m["keep"].errors == 0


def test_handle_cancel_stops_an_unbounded_job():
    env = LocalEnvironment("cancel")
    env.from_source(p.InfiniteSource, name="src").sink(lambda x: None)
    handle = env.submit(autostop=False)
    time.sleep(0.5)
    assert not handle.done()
    assert handle.metrics()["src"].records_out > 0
    handle.cancel()
    result = handle.wait(timeout=10)
    assert result.cancelled and handle.done()
    with pytest.raises(TimeoutError):
        env2 = LocalEnvironment("still-running")
        env2.from_source(p.InfiniteSource).sink(lambda x: None)
        h2 = env2.submit(autostop=False)
        try:
            h2.wait(timeout=0.2)
        finally:
            h2.cancel()
            h2.wait(timeout=10)


def test_ctrl_c_stops_a_job_cleanly(tmp_path):
    script = tmp_path / "forever.py"
    script.write_text(
        "import signal, sys; sys.path.insert(0, %r)\n"
        # as in a user's terminal, whatever this test process inherited or blocked
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from sage_core import LocalEnvironment\n"
        "from tests.pipelines import InfiniteSource\n"
        "env = LocalEnvironment('forever')\n"
        "env.from_source(InfiniteSource).sink(lambda x: None)\n"
        "print('started', flush=True)\n"
        "try:\n"
        "    env.submit()\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted cleanly', flush=True)\n" % str(__import__("pathlib").Path(__file__).parents[2])
    )
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "PREFECT_", "DASK_"))}
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env
    )
    assert proc.stdout.readline().strip() == "started"
    time.sleep(0.5)
    proc.send_signal(__import__("signal").SIGINT)
    try:
        out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"still running 90 s after Ctrl-C; stdout: {out!r}; stderr: {err[-2000:]!r}") from None
    assert "interrupted cleanly" in out and proc.returncode == 0, err[-2000:]


def test_stable_hash_is_the_same_in_another_process():
    keys = ["user-1", b"raw", 42, 3.5, None, ("a", 1)]
    code = "from sage_core.runtime.partition import stable_hash; print([stable_hash(k) for k in %r])" % (keys,)
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == str([stable_hash(k) for k in keys])


def test_services_lifecycle_hooks_run():
    class Tracked:
        events = []

        def setup(self):
            self.events.append("setup")

        def start(self):
            self.events.append("start")

        def stop(self):
            self.events.append("stop")

        def __call__(self, x):
            return x + 1

    class Ask(p.MapFunction):
        def execute(self, data):
            return self.call_service("tracked", data)

    env = LocalEnvironment("hooks")
    env.register_service("tracked", Tracked)
    assert_that(env.from_batch([1]).map(Ask), equal_to([2]))
    env.submit()
    assert Tracked.events == ["setup", "start", "stop"]


def test_unknown_service_is_a_clear_dead_letter():
    class Ask(p.MapFunction):
        def execute(self, data):
            return self.call_service("nope", data)

    env = LocalEnvironment("unknown-service")
    env.from_batch([1]).map(Ask).sink(print)
    [dead] = env.submit().dead_letters
    assert "no service named 'nope'" in dead.error


def test_unknown_backend_names_the_choices():
    env = LocalEnvironment("unknown-backend")
    env.from_batch([1]).sink(print)
    with pytest.raises(ImportError, match="unknown backend 'spark'; available: .*local"):
        env.submit(backend="spark")
