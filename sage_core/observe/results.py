"""What a job gives back: per-operator metrics, dead letters, collected records.

Holds plain result types only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sage_core.observe.metrics import LatencyHistogram, to_prometheus


@dataclass(frozen=True)
class DeadLetter:
    """A record that raised inside an operator, with where and why."""

    operator: str
    function: str
    record: Any
    error: str
    traceback: str
    key: Any = None
    attempts: int = 1  # calls made before giving up (more than 1 with a retry strategy)


@dataclass
class OperatorMetrics:
    """Counters of one operator, summed over its parallel instances.

    ``latency`` holds the processing time per record (each bundle's time divided by its
    records); ``queue_depth`` (records waiting) and ``backpressure_seconds`` (time the
    operator could not run because a queue downstream was full) are kept by the driver
    for the first operator of each stage.
    """

    name: str
    kind: str = ""
    records_in: int = 0
    records_out: int = 0
    errors: int = 0
    filtered: int = 0
    retries: int = 0
    dead_letters: int = 0
    seconds: float = 0.0
    queue_depth: int = 0
    backpressure_seconds: float = 0.0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    custom: dict[str, float] = field(default_factory=dict)

    def add(self, other: OperatorMetrics) -> None:
        self.kind = self.kind or other.kind
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latency.add(other.latency)
        for k, v in other.custom.items():
            self.custom[k] = self.custom.get(k, 0) + v

    def unaccounted(self) -> int | None:
        """``records_in - (out + filtered + dead letters)`` for operators that emit at most
        one record per input (map, filter, sink, keyby, comap); ``None`` for the others.
        A sink's "out" is the records it took without error. The dead letters are those
        that reached the driver, so anything but 0 means records went missing."""
        if self.kind not in _ONE_TO_ONE:
            return None
        out = self.records_in - self.errors if self.kind == "sink" else self.records_out
        return self.records_in - (out + self.filtered + self.dead_letters)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "records_in": self.records_in,
            "records_out": self.records_out,
            "errors": self.errors,
            "filtered": self.filtered,
            "retries": self.retries,
            "dead_letters": self.dead_letters,
            "seconds": round(self.seconds, 6),
            "queue_depth": self.queue_depth,
            "backpressure_seconds": round(self.backpressure_seconds, 6),
            "latency": {k: round(v, 9) for k, v in self.latency.percentiles().items() if not math.isnan(v)},
        }
        if self.custom:
            out["custom"] = dict(self.custom)
        return out


_SUMMED = ("records_in", "records_out", "errors", "filtered", "retries", "dead_letters", "seconds", "queue_depth", "backpressure_seconds")
_ONE_TO_ONE = frozenset({"map", "filter", "sink", "keyby", "comap"})


@dataclass
class JobResult:
    """Returned by ``env.submit(autostop=True)`` and by ``JobHandle.wait()``.

    Example::

        result = env.submit()
        result.metrics["map_1"].records_out
        result.collected["out"]          # records of ``stream.collect("out")``
        result.dead_letters              # failed records, with operator and error
    """

    name: str
    backend: str
    metrics: dict[str, OperatorMetrics]
    collected: dict[str, list[Any]]
    dead_letters: list[DeadLetter]
    seconds: float
    cancelled: bool = False
    details: dict[str, Any] = field(default_factory=dict)  # backend facts, e.g. a Prefect flow run id

    def summary(self) -> str:
        lines = [f"job {self.name!r} on {self.backend}: {self.seconds:.3f} s" + (" (cancelled)" if self.cancelled else "")]
        for m in self.metrics.values():
            p95 = m.latency.quantile(0.95)
            latency = "" if math.isnan(p95) else f" p95={p95 * 1e3:.3f}ms"
            lines.append(f"  {m.name}: in={m.records_in} out={m.records_out} errors={m.errors} time={m.seconds:.3f}s{latency}")
        if self.dead_letters:
            lines.append(f"  dead letters: {len(self.dead_letters)}")
        return "\n".join(lines)

    def count_check(self) -> dict[str, int]:
        """Operators whose records do not add up (in = out + filtered + dead letters);
        empty when every record is accounted for."""
        return {name: n for name, m in self.metrics.items() if (n := m.unaccounted() or 0)}

    def to_arrow(self, name: str) -> Any:
        """``collected[name]`` as one ``pyarrow.Table`` (Arrow batches concatenated, dict
        and dataclass records as rows); needs pyarrow."""
        from sage_core.columnar.arrow import table_of

        return table_of(self.collected.get(name, []))

    def prometheus(self) -> str:
        """The metrics in the Prometheus text format (see :mod:`sage_core.observe.metrics`)."""
        return to_prometheus(self.name, self.metrics)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": self.backend,
            "seconds": self.seconds,
            "cancelled": self.cancelled,
            "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
            "dead_letters": len(self.dead_letters),
            **({"details": self.details} if self.details else {}),
        }
