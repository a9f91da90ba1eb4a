"""Operator metrics: a latency histogram that merges across instances, and the Prometheus
text format for a job's metrics.

Read metrics through one API on every backend: ``handle.metrics()`` while a job runs,
``result.metrics`` after it; ``handle.prometheus()`` / ``result.prometheus()`` give the
same numbers in the Prometheus text format, and :func:`serve_metrics` exposes them on an
HTTP endpoint for a Prometheus server to scrape.

Example::

    handle = env.submit(autostop=False)
    server = serve_metrics(handle, port=9464)     # http://127.0.0.1:9464/metrics
    handle.metrics()["embed"].latency.quantile(0.95)
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from sage_core.observe.results import OperatorMetrics

__all__ = ["LATENCY_BOUNDS", "LatencyHistogram", "serve_metrics", "to_prometheus"]

# Upper bounds (seconds) of the latency buckets: 1 µs to about 134 s, doubling.
LATENCY_BOUNDS: tuple[float, ...] = tuple(1e-6 * 2.0**i for i in range(28))


class LatencyHistogram:
    """Counts of per-record latencies in doubling buckets; instances merge by addition.

    >>> h = LatencyHistogram()
    >>> h.observe(0.001, count=90)
    >>> h.observe(0.1, count=10)
    >>> h.count, round(h.quantile(0.5), 4) <= 0.001 < round(h.quantile(0.95), 4)
    (100, True)
    """

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BOUNDS) + 1)  # the last bucket is +Inf
        self.total = 0.0  # sum of observed latencies, seconds

    def observe(self, seconds: float, count: int = 1) -> None:
        """Record ``count`` records that took ``seconds`` each."""
        self.counts[bisect_left(LATENCY_BOUNDS, seconds)] += count
        self.total += seconds * count

    @property
    def count(self) -> int:
        return sum(self.counts)

    def add(self, other: LatencyHistogram) -> None:
        self.counts = [a + b for a, b in zip(self.counts, other.counts)]
        self.total += other.total

    def copy(self) -> LatencyHistogram:
        new = LatencyHistogram()
        new.counts, new.total = list(self.counts), self.total
        return new

    def quantile(self, q: float) -> float:
        """The ``q`` quantile (0..1), interpolated inside its bucket as Prometheus'
        ``histogram_quantile`` does; ``nan`` when nothing was observed."""
        n = self.count
        if n == 0:
            return math.nan
        rank, seen = q * n, 0
        for i, c in enumerate(self.counts):
            if c and seen + c >= rank:
                if i == len(LATENCY_BOUNDS):
                    return LATENCY_BOUNDS[-1]
                lower = LATENCY_BOUNDS[i - 1] if i else 0.0
                return lower + (LATENCY_BOUNDS[i] - lower) * (rank - seen) / c
            seen += c
        return LATENCY_BOUNDS[-1]

    def percentiles(self) -> dict[str, float]:
        """p50, p95 and p99 in seconds (empty when nothing was observed)."""
        if not self.count:
            return {}
        return {f"p{int(q * 100)}": self.quantile(q) for q in (0.5, 0.95, 0.99)}

    def __getstate__(self) -> tuple[list[int], float]:
        return self.counts, self.total

    def __setstate__(self, state: tuple[list[int], float]) -> None:
        self.counts, self.total = state


_COUNTERS = (
    ("records_in", "records that entered the operator"),
    ("records_out", "records the operator emitted"),
    ("errors", "records that failed after their retries"),
    ("filtered", "records a filter dropped"),
    ("retries", "extra attempts at failing records"),
    ("dead_letters", "records sent to the dead-letter output"),
    ("seconds", "time spent in the operator, seconds"),
    ("backpressure_seconds", "time the operator waited for room downstream, seconds"),
)


class _JobCollector:
    def __init__(self, job: str, read: Callable[[], Mapping[str, OperatorMetrics]]):
        self.job = job
        self.read = read

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        metrics = self.read()
        labels = ["job", "operator"]
        for field, doc in _COUNTERS:
            family = CounterMetricFamily(f"sage_operator_{field}", doc, labels=labels)
            for name, m in metrics.items():
                family.add_metric([self.job, name], float(getattr(m, field)))
            yield family
        queue = GaugeMetricFamily("sage_operator_queue_depth", "records waiting for the operator", labels=labels)
        latency = HistogramMetricFamily(
            "sage_operator_latency_seconds", "processing time per record (bundle time / records)", labels=labels
        )
        custom = CounterMetricFamily("sage_operator_custom", "counters from ctx.metrics.inc()", labels=[*labels, "name"])
        for name, m in metrics.items():
            queue.add_metric([self.job, name], m.queue_depth)
            cumulative, buckets = 0, []
            for bound, c in zip([*LATENCY_BOUNDS, math.inf], m.latency.counts):
                cumulative += c
                buckets.append(("+Inf" if bound == math.inf else repr(bound), cumulative))
            latency.add_metric([self.job, name], buckets, m.latency.total)
            for key, value in m.custom.items():
                custom.add_metric([self.job, name, key], float(value))
        yield from (queue, latency, custom)


def _registry(job: str, read: Callable[[], Mapping[str, OperatorMetrics]]) -> CollectorRegistry:
    """A registry that reads ``read()`` when scraped (prometheus_client is imported only
    here, when metrics are first exported, not by ``import sage_core``)."""
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_JobCollector(job, read))  # type: ignore[arg-type]
    return registry


def to_prometheus(job: str, metrics: Mapping[str, OperatorMetrics]) -> str:
    """A job's operator metrics in the Prometheus text exposition format."""
    from prometheus_client import generate_latest

    return generate_latest(_registry(job, lambda: metrics)).decode()


def serve_metrics(handle: Any, port: int = 9464, host: str = "127.0.0.1") -> tuple[Any, Any]:
    """Serve a running job's metrics at ``http://host:port/metrics`` (Prometheus text format).

    Binds to 127.0.0.1 unless ``host`` says otherwise. Returns prometheus_client's
    ``(server, thread)``: ``server.shutdown()`` stops it. ``port=0`` picks a free port
    (``server.server_port``).
    """
    from prometheus_client import start_http_server

    return start_http_server(port, addr=host, registry=_registry(handle.name, handle.metrics))
