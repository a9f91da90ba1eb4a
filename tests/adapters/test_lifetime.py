"""Clusters SAGE starts (a Dask LocalCluster, a local Ray) end with the process that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sage_adapters.lifetime import is_running, tethered

ROOT = Path(__file__).parents[2]



def _kill_parent_and_wait(cmd, sig, *, startup=180, grace=30):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = parent.stdout.readline()
        helpers = [int(p) for p in line.split()]
        assert helpers, f"the parent started no helper processes ({parent.poll()=})"
        parent.send_signal(sig)
        parent.wait(timeout=30)
        deadline = time.monotonic() + grace
        while any(map(is_running, helpers)) and time.monotonic() < deadline:
            time.sleep(0.2)
        return len(helpers), [p for p in helpers if is_running(p)]
    finally:
        parent.kill()
        parent.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("cluster", ["dask", "ray"])
def test_cluster_ends_with_its_parent(cluster, sig):
    pytest.importorskip({"dask": "distributed"}.get(cluster, cluster))
    started, left = _kill_parent_and_wait([sys.executable, "-m", "tests.adapters.cluster_parent", cluster], sig)
    assert started >= 2
    assert left == [], f"{len(left)} of {started} {cluster} processes outlived a parent killed by {sig.name}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_tethered_module_ends_with_its_parent(tmp_path, sig):
    script = (
        "import subprocess, sys; from sage_adapters.lifetime import is_running, tethered; "
        "p = subprocess.Popen(tethered([sys.executable, '-m', 'http.server', '0'])); "
        "print(p.pid, flush=True); p.wait()"
    )
    started, left = _kill_parent_and_wait([sys.executable, "-c", script], sig, grace=10)
    assert started == 1 and left == []


def test_tethered_refuses_a_command_it_cannot_wrap():
    with pytest.raises(ValueError, match=r"\[python, '-m', module, ...\]"):
        tethered(["uvicorn", "app:app"])
