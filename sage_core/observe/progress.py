"""A live view of running jobs (rich): records per operator, throughput, errors, queues.

``sage run`` shows it on stderr for every job the file submits; in code::

    with LiveProgress() as progress:
        progress.watch(env.submit(autostop=False))
        ...

Sources that read a sized collection (``from_batch(list)``) get a progress bar.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from sage_core import ir
from sage_core.observe.results import OperatorMetrics

_SOURCE_KINDS = frozenset({ir.BatchSource.kind, ir.PollSource.kind})

__all__ = ["LiveProgress", "compact_count", "metrics_table", "source_totals"]


def source_totals(graph: ir.Graph) -> dict[str, int]:
    """Records each bounded source will read, where its collection has a length."""
    totals = {}
    for node in graph.nodes:
        spec = node.function
        if isinstance(node, ir.BatchSource) and spec is not None and not spec.is_class:
            try:
                totals[node.name] = len(spec.target)
            except TypeError:
                continue
    return totals


def compact_count(n: float) -> str:
    """A count in at most 5 characters.

    >>> [compact_count(n) for n in (950, 9_500, 39_812, 278_000, 1_234_567)]
    ['950', '9,500', '39.8k', '278k', '1.2M']
    """
    if n < 10_000:
        return f"{n:,.0f}"
    for unit, scale in (("k", 1e3), ("M", 1e6), ("G", 1e9)):
        if round(n / scale) < 1000:
            return f"{n / scale:.1f}{unit}" if round(n / scale, 1) < 100 else f"{n / scale:.0f}{unit}"
    return f"{n:.1e}"


def metrics_table(
    title: str,
    metrics: Mapping[str, OperatorMetrics],
    seconds: float,
    totals: Mapping[str, int] | None = None,
) -> Table:
    """One row per operator: counts, throughput over ``seconds``, p95 latency, queue."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    totals = totals or {}
    columns = ["operator", "in", "out", "rec/s", "err", "dead", "filt", "queue", "p95 ms"]
    for column in [*columns, "progress"] if totals else columns:
        table.add_column(column, justify="left" if column in ("operator", "progress") else "right", no_wrap=True)
    for name, m in metrics.items():
        done = m.records_out if m.kind in _SOURCE_KINDS else m.records_in
        p95 = m.latency.quantile(0.95)
        total = totals.get(name)
        bar: Any = ""
        if total:
            bar = ProgressBar(total=total, completed=min(done, total), width=10)
        cells = [
            name,
            compact_count(m.records_in),
            compact_count(m.records_out),
            compact_count(done / seconds) if seconds > 0 else "",
            compact_count(m.errors),
            compact_count(m.dead_letters),
            compact_count(m.filtered),
            compact_count(m.queue_depth),
            "" if math.isnan(p95) else f"{p95 * 1e3:.2f}",
        ]
        table.add_row(*cells, *([bar] if totals else []))
    return table


class LiveProgress:
    """Redraws a table per watched job a few times a second until :meth:`stop`."""

    def __init__(self, console: Console | None = None, refresh_per_second: float = 4.0):
        self.console = console or Console(stderr=True)
        if not self.console.is_terminal:  # a log file or a pipe: room for every column
            self.console.width = max(self.console.width, 132)
        self._jobs: list[tuple[Any, float, dict[str, int]]] = []  # (handle, started, source totals)
        self._final: dict[int, tuple[dict[str, OperatorMetrics], float]] = {}
        self._lock = threading.Lock()
        self._live = Live(
            get_renderable=self._render,
            console=self.console,
            refresh_per_second=refresh_per_second,
            transient=False,
            # prints of the pipeline go above the view when both share a terminal; stdout
            # redirected to a file stays the file's
            redirect_stdout=sys.stdout.isatty(),
            redirect_stderr=False,
        )

    def watch(self, handle: Any) -> None:
        """Show ``handle``'s job (a :class:`~sage_core.JobHandle`) from now on."""
        with self._lock:
            self._jobs.append((handle, time.monotonic(), source_totals(handle.graph)))

    def _render(self) -> Group:
        with self._lock:
            jobs = list(self._jobs)
        tables = []
        for index, (handle, started, totals) in enumerate(jobs):
            if index in self._final:
                metrics, seconds = self._final[index]
            else:
                seconds = time.monotonic() - started
                metrics = handle.metrics()
                if handle.done():
                    self._final[index] = (metrics, seconds)
            state = "done" if index in self._final else "running"
            title = f"job {handle.name!r} on {handle.backend}: {state}, {seconds:.1f} s"
            tables.append(metrics_table(title, metrics, seconds, totals))
        return Group(*tables)

    def start(self) -> LiveProgress:
        self._live.start()
        return self

    def stop(self) -> None:
        self._live.stop()

    def __enter__(self) -> LiveProgress:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
