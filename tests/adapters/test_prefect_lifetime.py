"""The Prefect servers SAGE starts die with their parent, send no telemetry and stop quietly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("prefect", reason="the prefect extra is not installed")

from sage_adapters.lifetime import is_running  # noqa: E402

ROOT = Path(__file__).parents[2]


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return {**env, "PYTHONPATH": str(ROOT), "PREFECT_HOME": str(tmp_path / "prefect_home")}



@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_server_dies_with_its_parent(tmp_path, sig):
    parent = subprocess.Popen(
        [sys.executable, "-m", "tests.adapters.prefect_parent", "serve"],
        cwd=ROOT, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        pid, url = parent.stdout.readline().split()
        server = int(pid)
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
        parent.send_signal(sig)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 15
        while is_running(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not is_running(server), f"server {server} outlived its parent killed by {sig.name}"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/health", timeout=2)
    finally:
        parent.kill()
        parent.wait()


def test_run_without_api_url_is_quiet_and_sends_no_telemetry(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tests.adapters.prefect_parent", "run"],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "True"
    for noise in ("Traceback", "CancelledError", "telemetry", "ERROR"):
        assert noise not in done.stderr, f"{noise!r} in the run's output:\n{done.stderr}"
