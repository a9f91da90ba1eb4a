"""Reading sources in bundles: bounded (lists, iterables, BatchFunction) and polled.

A reader returns at most ``max_records`` records per ``read`` call and says when the source
has ended.
"""

from __future__ import annotations

import time
from itertools import islice
from typing import Any

from sage_core import ir
from sage_core.api.context import RuntimeContext
from sage_core.api.functions import StopSignal
from sage_core.runtime.operators import instantiate


class BatchReader:
    """A bounded source: an iterable, or a ``BatchFunction`` whose ``execute`` returns None at the end."""

    def __init__(self, node: ir.Node, ctx: RuntimeContext):
        spec = node.function
        assert spec is not None
        self.position = 0  # records read so far
        if spec.is_class:
            self.obj = instantiate(spec, ctx)
            self._it = iter(self.obj.execute, None)
        else:
            self.obj = None
            self._iterable = spec.target
            self._it = iter(spec.target)

    def read(self, max_records: int, max_seconds: float) -> tuple[list[Any], bool]:
        items = list(islice(self._it, max_records))
        self.position += len(items)
        return items, len(items) < max_records

    def seek(self, position: int) -> None:
        """Resume after ``position`` records: an iterable is read again from its start and
        skipped forward (a ``BatchFunction`` restores its own attributes instead)."""
        if self.obj is None:
            self._it = islice(iter(self._iterable), position, None)
        self.position = position


class PollReader:
    """An unbounded ``SourceFunction``: ``None`` means no data yet, ``StopSignal`` ends it."""

    def __init__(self, node: ir.Node, ctx: RuntimeContext):
        assert node.function is not None
        self.obj = instantiate(node.function, ctx)
        self.position = 0

    def seek(self, position: int) -> None:
        """A polled source keeps its position in its own state (``snapshot``/``restore``)."""
        self.position = position

    def read(self, max_records: int, max_seconds: float) -> tuple[list[Any], bool]:
        execute = self.obj.execute
        items: list[Any] = []
        deadline = time.perf_counter() + max_seconds
        done = False
        while len(items) < max_records:
            record = execute()
            if record is None:
                break
            if record is StopSignal or isinstance(record, StopSignal):
                done = True
                break
            items.append(record)
            if time.perf_counter() > deadline:
                break
        self.position += len(items)
        return items, done
