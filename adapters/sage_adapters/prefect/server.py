"""The Prefect API servers SAGE starts: tied to their parent process, no telemetry, quiet.

Holds `TetheredServer` (Prefect's temporary server, started through
:func:`sage_adapters.lifetime.tethered`), :func:`ensure_server` (used by the Prefect backend
when no ``PREFECT_API_URL`` is set, where Prefect would start its own temporary server) and
:func:`temporary_server` (a server on a throw-away database, for tests and scripts).

Every server started here

* ends when the process that started it ends, SIGKILL included (Prefect's own temporary
  server outlives a killed parent, holding the parent's stdout open);
* runs with ``PREFECT_SERVER_ANALYTICS_ENABLED=false`` (no telemetry heartbeat, which fails
  offline with "Failed to send telemetry");
* writes its output, including the traceback of its own shutdown, to ``server.log`` in
  its temporary folder instead of the parent's terminal.

Example::

    with temporary_server() as api_url:    # PREFECT_API_URL points here inside the block
        env.submit(backend="prefect")
"""

from __future__ import annotations

import inspect
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import prefect
import prefect.context
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_SERVER_ALLOW_EPHEMERAL_MODE,
    PREFECT_SERVER_DATABASE_CONNECTION_URL,
    get_current_settings,
    temporary_settings,
)

from sage_adapters.lifetime import tethered

__all__ = ["TetheredServer", "ensure_server", "temporary_server"]

# Environment of every server SAGE starts (what Prefect's temporary server sets, plus no
# telemetry). Later entries win over the caller's settings.
SERVER_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


class TetheredServer(SubprocessASGIServer):
    """Prefect's temporary API server (uvicorn in a subprocess) that dies with this process.

    Prefect keeps one instance per port; :func:`ensure_server` and :func:`temporary_server`
    also register it as the default instance, which Prefect's clients use when no
    ``PREFECT_API_URL`` is set.
    """

    log_path: str | None = None

    def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
        folder = tempfile.mkdtemp(prefix="sage_prefect_server_")
        self.log_path = os.path.join(folder, "server.log")
        command = [
            sys.executable, "-m", "uvicorn",
            "--app-dir", str(prefect.__module_path__.parent),
            "--factory", "prefect.server.api.server:create_app",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--log-level", "error", "--lifespan", "on",
        ]  # fmt: skip
        env = {
            **os.environ,
            **get_current_settings().to_environment_variables(exclude_unset=True),
            **SERVER_ENV,
        }
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                tethered(command),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        """SIGTERM, up to five seconds for Prefect's shutdown, then SIGKILL (Prefect's stop)."""
        super().stop()
        if self.log_path is not None:
            shutil.rmtree(os.path.dirname(self.log_path), ignore_errors=True)
            self.log_path = None


def ensure_server(*, timeout: float = 120) -> str | None:
    """Start SAGE's server where Prefect would start its own temporary one.

    Returns the API URL of the default server, or ``None`` when ``PREFECT_API_URL`` is set
    (SAGE then uses that server and starts nothing) or Prefect's ephemeral mode is off. The
    server lives until this process exits.
    """
    if PREFECT_API_URL.value() or not PREFECT_SERVER_ALLOW_EPHEMERAL_MODE.value():
        return None
    current = SubprocessASGIServer._instances.get(None)
    if current is not None and current.running:
        return current.api_url
    SubprocessASGIServer._instances.pop(None, None)
    server = TetheredServer()  # registered by Prefect under the default (None) key
    server.start(timeout=int(timeout))
    return server.api_url


@contextmanager
def temporary_server(*, timeout: float = 120) -> Iterator[str]:
    """A Prefect API server on a fresh SQLite database for the ``with`` block.

    Yields its API URL; inside the block ``PREFECT_API_URL`` points at it. On exit Prefect's
    log and event workers are drained, then the server stops and its database is deleted.
    """
    folder = tempfile.mkdtemp(prefix="sage_prefect_db_")
    database = "sqlite+aiosqlite:///" + os.path.join(folder, "prefect.db")
    prior_default = SubprocessASGIServer._instances.get(None)
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, folder, True)
        stack.enter_context(
            temporary_settings(updates={PREFECT_SERVER_DATABASE_CONNECTION_URL: database})
        )
        server = TetheredServer(port=_free_port())
        SubprocessASGIServer._instances[None] = server
        stack.callback(_restore_default, prior_default)
        stack.callback(server.stop)
        server.start(timeout=int(timeout))
        stack.enter_context(temporary_settings(updates={PREFECT_API_URL: server.api_url}))
        # Threads and contexts copied before the block see the server too.
        stack.enter_context(
            prefect.context._temporary_global_settings_context(prefect.context.get_settings_context())
        )
        yield server.api_url
        _drain_workers()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _restore_default(prior: SubprocessASGIServer | None) -> None:
    if prior is not None:
        SubprocessASGIServer._instances[None] = prior
    else:
        SubprocessASGIServer._instances.pop(None, None)


def _drain_workers() -> None:
    """Send buffered logs and events before the server stops (no connection errors at exit)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        try:
            result = APILogWorker.instance().drain()
            if inspect.isawaitable(result):
                await result
        except RuntimeError:  # the worker never started
            pass
        drained = EventsWorker.drain_all()
        if inspect.isawaitable(drained):
            await drained

    run_coro_as_sync(drain())
