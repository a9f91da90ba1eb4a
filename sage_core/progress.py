"""A live view of running jobs (rich): records per operator, throughput, errors, queues.

``sage run`` shows it on stderr for every job the file submits; in code::

    with LiveProgress() as progress:
        progress.watch(env.submit(autostop=False))
        ...

Sources that read a sized collection (``from_batch(list)``) get a progress bar.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from sage_core import ir
from sage_core.results import OperatorMetrics

__all__ = ["LiveProgress", "metrics_table"]


def source_totals(graph: ir.Graph) -> dict[str, int]:
    """Records each bounded source will read, where its collection has a length."""
    totals = {}
    for node in graph.nodes:
        spec = node.function
        if node.kind == ir.SOURCE_BATCH and spec is not None and not spec.is_class:
            try:
                totals[node.name] = len(spec.target)
            except TypeError:
                continue
    return totals


def metrics_table(
    title: str,
    metrics: Mapping[str, OperatorMetrics],
    seconds: float,
    totals: Mapping[str, int] | None = None,
) -> Table:
    """One row per operator: counts, throughput over ``seconds``, p95 latency, queue."""
    table = Table(title=title, title_justify="left", expand=False)
    totals = totals or {}
    columns = ["operator", "in", "out", "rec/s", "errors", "dead", "filtered", "queue", "p95 ms"]
    for column in [*columns, "progress"] if totals else columns:
        table.add_column(column, justify="left" if column in ("operator", "progress") else "right", no_wrap=True)
    for name, m in metrics.items():
        done = m.records_out if m.kind in ir.SOURCE_KINDS else m.records_in
        p95 = m.latency.quantile(0.95)
        total = totals.get(name)
        bar: Any = ""
        if total:
            bar = ProgressBar(total=total, completed=min(done, total), width=20)
        cells = [
            name,
            f"{m.records_in:,}",
            f"{m.records_out:,}",
            f"{done / seconds:,.0f}" if seconds > 0 else "",
            f"{m.errors:,}",
            f"{m.dead_letters:,}",
            f"{m.filtered:,}",
            f"{m.queue_depth:,}",
            "" if math.isnan(p95) else f"{p95 * 1e3:.3f}",
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
