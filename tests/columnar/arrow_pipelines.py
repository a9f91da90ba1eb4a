"""Module-level functions and classes for the columnar tests (so that they pickle to workers)."""

from __future__ import annotations

import os
import random
import time

import pyarrow as pa
import pyarrow.compute as pc

from sage_core import MapFunction


def events(n: int, keys: int = 12, disorder: float = 2.0, seed: int = 5) -> list[dict]:
    """Clicks at 50 per second, up to ``disorder`` seconds out of order: late records and
    re-fires for a 1 s tumbling window with small lateness settings."""
    rng = random.Random(seed)
    return [
        {"user": f"u{rng.randrange(keys)}", "ts": round(i / 50 + rng.uniform(0, disorder), 6), "value": round(rng.uniform(-5, 5), 3), "seq": i}
        for i in range(n)
    ]


def plus_one_pandas(df):
    return df.assign(value=df["value"] + 1)


def plus_one_numpy(columns):
    return {**columns, "value": columns["value"] + 1}


def plus_one_arrow(batch):
    return batch.set_column(batch.schema.get_field_index("value"), "value", pc.add(batch["value"], 1))


def positive(batch):
    return pc.greater(batch["value"], 0)


def wrong_length(batch):
    return [True]


class KeysSeen(MapFunction):
    """Emits ``(parallel index, keys in the batch)`` for each batch it gets."""

    def execute(self, batch):
        return (self.ctx.parallel_index, sorted(set(batch["user"].to_pylist())), batch.num_rows)


class CrashOnceAtSeq(MapFunction):
    """Passes Arrow batches on (pausing, to let checkpoints happen) and raises once on the
    batch that holds row ``seq`` (a marker file remembers)."""

    def __init__(self, seq: int, marker: str):
        self.seq, self.marker = seq, marker

    def execute(self, batch):
        time.sleep(0.01)
        if self.seq in batch["seq"].to_pylist() and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            raise RuntimeError(f"crash at seq={self.seq}")
        return batch


def window_rows(table: pa.Table) -> list[tuple]:
    return sorted((r["key"], r["start"], r["end"], round(r["value"], 9), r["count"]) for r in table.to_pylist())


def seqs(table: pa.Table) -> list[int]:
    """The ``seq`` of every row (an empty collection is a table without columns)."""
    return table["seq"].to_pylist() if table.num_rows else []
