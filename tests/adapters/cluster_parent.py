"""A process that runs one job on a backend SAGE starts itself, for test_lifetime.py.

Prints the pids of every process below it once the job is done, then waits to be killed.
"""

from __future__ import annotations

import os
import sys
import time

from sage_adapters.lifetime import children
from sage_core import LocalEnvironment
from tests.pipelines import times_two


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        out += kids
        todo += kids
    return out


if __name__ == "__main__":
    env = LocalEnvironment("lifetime")
    env.from_batch(range(10)).map(times_two, parallelism=2).collect("out")
    assert sorted(env.submit(backend=sys.argv[1]).collected["out"]) == [2 * i for i in range(10)]
    # helpers may start after the job (Ray's agents): report them once the set stays the same for 1 s
    helpers, steady_since, deadline = set(descendants(os.getpid())), time.monotonic(), time.monotonic() + 60
    while time.monotonic() - steady_since < 1.0 and time.monotonic() < deadline:
        time.sleep(0.1)
        now = set(descendants(os.getpid()))
        if now != helpers:
            helpers, steady_since = now, time.monotonic()
    print(" ".join(map(str, sorted(helpers))), flush=True)
    time.sleep(600)
