"""A real external Ray cluster for tests and benchmarks: ``ray start --head`` from Ray's
command line, in its own processes, with token authentication on.

Holds the start and the stop of such a cluster, nothing else. A driver connects by explicit
address with the same token in its environment::

    with external_cluster(cpus=2) as cluster:
        # in the driver's process: RAY_AUTH_MODE=token RAY_AUTH_TOKEN=<cluster.token>
        env.submit(backend="ray", address=cluster.address)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sage_core.api.testing import free_port


@dataclass(frozen=True)
class ExternalRay:
    address: str  # host:port of the head's GCS
    token: str  # the cluster's auth token

    def driver_env(self) -> dict[str, str]:
        """Environment variables a driver process needs to connect (token auth)."""
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token}


@contextlib.contextmanager
def external_cluster(cpus: int = 2, cwd: str | Path | None = None, timeout: float = 90.0) -> Iterator[ExternalRay]:
    """Start a one-node Ray cluster (``ray start --head --block``) and yield its address and
    token. Its ports, worker port range and temp dir are its own, so it runs beside another
    Ray on the same machine. Everything started is stopped on exit."""
    token = secrets.token_hex(16)
    port = free_port()
    first_worker_port = 20000 + secrets.randbelow(20000)
    ray_bin = Path(sys.executable).parent / "ray"
    with contextlib.ExitStack() as stack:
        temp_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="sray-", dir="/tmp"))
        workdir = cwd or stack.enter_context(tempfile.TemporaryDirectory(prefix="sage-ray-"))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
        log_path = Path(temp_dir) / "ray-start.log"
        log = stack.enter_context(open(log_path, "w"))
        cmd = [
            str(ray_bin) if ray_bin.exists() else "ray", "start", "--head", "--block",
            "--node-ip-address", "127.0.0.1", "--port", str(port), f"--num-cpus={cpus}",
            "--include-dashboard=false", f"--temp-dir={temp_dir}",
            f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
            f"--min-worker-port={first_worker_port}", f"--max-worker-port={first_worker_port + 200}",
        ]
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_until_started(proc, log_path, timeout)
            yield ExternalRay(f"127.0.0.1:{port}", token)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            _kill_session(temp_dir)


def _wait_until_started(proc: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        if "Ray runtime started" in text:
            return
        if proc.poll() is not None:
            msg = f"`ray start --head` exited with {proc.returncode}:\n{text[-3000:]}"
            raise RuntimeError(msg)
        time.sleep(0.3)
    msg = f"`ray start --head` did not start within {timeout:.0f} s:\n{log_path.read_text(errors='replace')[-3000:]}"
    raise TimeoutError(msg)


def _kill_session(temp_dir: str) -> None:
    """Ray's daemons may leave their own process group: stop any process whose command line
    names this cluster's temp dir."""
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit() or int(pid_dir.name) == os.getpid():
            continue
        try:
            cmdline = (pid_dir / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if temp_dir in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(pid_dir.name), signal.SIGKILL)
