"""A local job with checkpoints and an exactly-once JSONL sink, run as its own process by
tests/core/test_checkpoint.py (which kills it with SIGKILL and runs it again)."""

from __future__ import annotations

import sys

from sage_core import LocalEnvironment
from sage_core.reliability.sinks import JsonlSink
from tests.pipelines import ClickEvents, RunningCount


def main(store: str, out: str, n: int) -> None:
    env = LocalEnvironment("killed-driver", config={"initial_bundle": 8, "max_bundle": 32})
    env.enable_checkpointing(store, interval=0.05)
    counted = env.from_source(ClickEvents, n).keyby(lambda e: e["user"]).map(RunningCount)
    counted.sink(JsonlSink, out)
    result = env.submit()
    print("resumed_from", result.details["checkpoints"]["resumed_from"], flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
