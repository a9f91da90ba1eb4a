"""Reading sources in bundles: bounded (lists, iterables, BatchFunction) and polled.

A reader returns at most ``max_records`` records per ``read`` call and says when the source
has ended.
"""

from __future__ import annotations

import time
from itertools import islice
from typing import Any

from sage_core import ir
from sage_core.context import RuntimeContext
from sage_core.functions import StopSignal
from sage_core.runtime.operators import instantiate


class BatchReader:
    """A bounded source: an iterable, or a ``BatchFunction`` whose ``execute`` returns None at the end."""

    def __init__(self, node: ir.Node, ctx: RuntimeContext):
        spec = node.function
        assert spec is not None
        if spec.is_class:
            self.obj = instantiate(spec, ctx)
            self._it = iter(self.obj.execute, None)
        else:
            self.obj = None
            self._it = iter(spec.target)

    def read(self, max_records: int, max_seconds: float) -> tuple[list[Any], bool]:
        items = list(islice(self._it, max_records))
        return items, len(items) < max_records


class PollReader:
    """An unbounded ``SourceFunction``: ``None`` means no data yet, ``StopSignal`` ends it."""

    def __init__(self, node: ir.Node, ctx: RuntimeContext):
        assert node.function is not None
        self.obj = instantiate(node.function, ctx)

    def read(self, max_records: int, max_seconds: float) -> tuple[list[Any], bool]:
        execute = self.obj.execute
        items: list[Any] = []
        deadline = time.perf_counter() + max_seconds
        while len(items) < max_records:
            record = execute()
            if record is None:
                break
            if record is StopSignal or isinstance(record, StopSignal):
                return items, True
            items.append(record)
            if time.perf_counter() > deadline:
                break
        return items, False


READERS: dict[str, type[BatchReader] | type[PollReader]] = {ir.SOURCE_BATCH: BatchReader, ir.SOURCE_POLL: PollReader}
