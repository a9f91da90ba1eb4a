"""Window specifications: frozen, validated, picklable descriptions of *how* to window.

This module holds only the four window spec dataclasses and their validation. It holds no
state and no engine code; :class:`sage_flow.WindowAggregate` turns a spec into an engine.

Example::

    >>> from sage_flow import TumblingWindow, SlidingWindow, SessionWindow, CountWindow
    >>> TumblingWindow(60)
    TumblingWindow(seconds=60.0, time='event')
    >>> SlidingWindow(size=60, slide=10, time="processing").time
    'processing'
    >>> SessionWindow(gap=30).gap
    30.0
    >>> CountWindow(100, slide=10)
    CountWindow(size=100, slide=10)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

TimeMode = Literal["event", "processing"]

__all__ = [
    "CountWindow",
    "SessionWindow",
    "SlidingWindow",
    "TimeMode",
    "TumblingWindow",
    "Window",
]


def _seconds(name: str, owner: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = f"{owner}: {name} must be a number of seconds, got {value!r}"
        raise TypeError(msg)
    out = float(value)
    if not (math.isfinite(out) and out > 0):
        msg = f"{owner}: {name} must be a finite number of seconds > 0, got {value!r}"
        raise ValueError(msg)
    return out


def _time_mode(owner: str, value: Any) -> TimeMode:
    if value not in ("event", "processing"):
        msg = f"{owner}: time must be 'event' or 'processing', got {value!r}"
        raise ValueError(msg)
    return value  # type: ignore[no-any-return]


@dataclass(frozen=True)
class TumblingWindow:
    """Fixed, non-overlapping windows ``[k*seconds, (k+1)*seconds)``.

    ``time="event"`` (default) windows by the record's timestamp and fires on the
    watermark; ``time="processing"`` windows by the wall clock when the record arrives.

    >>> TumblingWindow(1.5).seconds
    1.5
    """

    seconds: float
    time: TimeMode = "event"

    def __post_init__(self) -> None:
        object.__setattr__(self, "seconds", _seconds("seconds", "TumblingWindow", self.seconds))
        _time_mode("TumblingWindow", self.time)

    def _engine_args(self) -> dict[str, Any]:
        return {"window": "tumbling", "size": self.seconds, "slide": self.seconds}


@dataclass(frozen=True)
class SlidingWindow:
    """Overlapping windows of length ``size`` starting every ``slide`` seconds.

    A record at time t belongs to every window ``[j*slide, j*slide + size)`` containing t.

    >>> SlidingWindow(size=10, slide=5)
    SlidingWindow(size=10.0, slide=5.0, time='event')
    """

    size: float
    slide: float
    time: TimeMode = "event"

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", _seconds("size", "SlidingWindow", self.size))
        object.__setattr__(self, "slide", _seconds("slide", "SlidingWindow", self.slide))
        if self.slide > self.size:
            msg = (
                f"SlidingWindow: slide ({self.slide}) must not exceed size ({self.size}); "
                f"records between windows would belong to no window"
            )
            raise ValueError(msg)
        _time_mode("SlidingWindow", self.time)

    def _engine_args(self) -> dict[str, Any]:
        return {"window": "sliding", "size": self.size, "slide": self.slide}


@dataclass(frozen=True)
class SessionWindow:
    """Per-key sessions: a record at t opens ``[t, t + gap)``; sessions that overlap or
    touch merge into one.

    >>> SessionWindow(gap=30)
    SessionWindow(gap=30.0, time='event')
    """

    gap: float
    time: TimeMode = "event"

    def __post_init__(self) -> None:
        object.__setattr__(self, "gap", _seconds("gap", "SessionWindow", self.gap))
        _time_mode("SessionWindow", self.time)

    def _engine_args(self) -> dict[str, Any]:
        return {"window": "session", "gap": self.gap}


@dataclass(frozen=True)
class CountWindow:
    """Per-key windows over record counts, in arrival order.

    Every ``slide`` records of a key (default ``slide = size``: tumbling), a window over
    that key's last ``size`` records fires. Start/end are the key's record positions
    (``end`` exclusive). Count windows need no timestamps and have no late records.

    >>> CountWindow(3)
    CountWindow(size=3, slide=None)
    """

    size: int
    slide: int | None = None

    def __post_init__(self) -> None:
        for name in ("size", "slide"):
            v = getattr(self, name)
            if name == "slide" and v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                msg = f"CountWindow: {name} must be an integer > 0, got {v!r}"
                raise ValueError(msg)

    @property
    def time(self) -> TimeMode:
        """Count windows follow arrival order; reported as ``"processing"``."""
        return "processing"

    def _engine_args(self) -> dict[str, Any]:
        return {
            "window": "count",
            "count_size": self.size,
            "count_slide": self.size if self.slide is None else self.slide,
        }


Window = TumblingWindow | SlidingWindow | SessionWindow | CountWindow
