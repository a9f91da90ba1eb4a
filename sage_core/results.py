"""What a job gives back: per-operator metrics, dead letters, collected records.

Holds plain result types only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DeadLetter:
    """A record that raised inside an operator, with where and why."""

    operator: str
    function: str
    record: Any
    error: str
    traceback: str
    key: Any = None


@dataclass
class OperatorMetrics:
    """Counters of one operator, summed over its parallel instances."""

    name: str
    records_in: int = 0
    records_out: int = 0
    errors: int = 0
    seconds: float = 0.0
    custom: dict[str, float] = field(default_factory=dict)

    def add(self, other: OperatorMetrics) -> None:
        self.records_in += other.records_in
        self.records_out += other.records_out
        self.errors += other.errors
        self.seconds += other.seconds
        for k, v in other.custom.items():
            self.custom[k] = self.custom.get(k, 0) + v

    def to_dict(self) -> dict[str, Any]:
        return {
            "records_in": self.records_in,
            "records_out": self.records_out,
            "errors": self.errors,
            "seconds": round(self.seconds, 6),
            **({"custom": dict(self.custom)} if self.custom else {}),
        }


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
            lines.append(f"  {m.name}: in={m.records_in} out={m.records_out} errors={m.errors} time={m.seconds:.3f}s")
        if self.dead_letters:
            lines.append(f"  dead letters: {len(self.dead_letters)}")
        return "\n".join(lines)

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
