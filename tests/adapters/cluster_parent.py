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
    time.sleep(2)  # helpers that start after the job (Ray's agents) are running by now
    print(" ".join(map(str, descendants(os.getpid()))), flush=True)
    time.sleep(600)
