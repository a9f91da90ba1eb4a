"""A process that starts SAGE's Prefect server, for tests/adapters/test_prefect_lifetime.py.

``serve``: start the server where Prefect would start its own, print ``<server pid> <api
url>``, then wait to be killed. ``run``: run a pipeline on the Prefect backend and exit.
"""

from __future__ import annotations

import sys
import time

from sage_adapters.prefect.server import ensure_server
from sage_core import LocalEnvironment
from tests.pipelines import times_two


def main(mode: str) -> None:
    if mode == "serve":
        from prefect.server.api.server import SubprocessASGIServer

        url = ensure_server()
        print(SubprocessASGIServer._instances[None].server_process.pid, url, flush=True)
        time.sleep(600)
    env = LocalEnvironment("quiet")
    env.from_batch(range(20)).map(times_two).collect("out")
    print(sorted(env.submit(backend="prefect").collected["out"]) == [2 * i for i in range(20)])


if __name__ == "__main__":
    main(sys.argv[1])
