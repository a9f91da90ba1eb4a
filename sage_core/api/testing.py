"""Helpers for testing pipelines on any backend, in the manner of Beam's ``assert_that``.

Example::

    from sage_core import LocalEnvironment
    from sage_core.api.testing import assert_that, equal_to

    env = LocalEnvironment("t")
    doubled = env.from_batch([1, 2, 3]).map(lambda x: x * 2)
    assert_that(doubled, equal_to([2, 4, 6]))
    env.submit()        # raises AssertionError naming unexpected and missing records
"""

from __future__ import annotations

import itertools
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from sage_core.api.datastream import DataStream
from sage_core.api.functions import CollectSink

_labels = itertools.count()

__all__ = ["CollectSink", "assert_that", "equal_to", "free_port", "multiset_diff", "wait_for"]


def multiset_diff(actual: Iterable[Any], expected: Iterable[Any]) -> tuple[list[Any], list[Any]]:
    """``(unexpected, missing)`` comparing as multisets (order ignored, counts kept)."""
    actual, expected = list(actual), list(expected)
    try:
        a, e = Counter(actual), Counter(expected)
        return list((a - e).elements()), list((e - a).elements())
    except TypeError:  # unhashable records (dicts): match pairwise
        missing = list(expected)
        unexpected = []
        for item in actual:
            for i, want in enumerate(missing):
                if want == item:
                    del missing[i]
                    break
            else:
                unexpected.append(item)
        return unexpected, missing


def equal_to(expected: Iterable[Any]) -> Callable[[list[Any]], None]:
    """A matcher: the output equals ``expected`` as a multiset."""
    expected = list(expected)

    def check(actual: list[Any]) -> None:
        unexpected, missing = multiset_diff(actual, expected)
        if unexpected or missing:
            msg = f"output differs from expected: unexpected elements {unexpected[:20]!r}, missing elements {missing[:20]!r}"
            raise AssertionError(msg)

    return check


def assert_that(stream: DataStream, matcher: Callable[[list[Any]], None], label: str | None = None) -> None:
    """Check the records of ``stream`` with ``matcher`` when ``env.submit()`` returns."""
    label = label or f"assert_that_{next(_labels)}"
    stream.collect(label)
    stream.env.add_check(label, matcher)


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns a true value (returned); fail after ``timeout`` seconds.

    For tests of running jobs: wait for an effect with a deadline, not a fixed sleep.

    >>> wait_for(lambda: 42, what="the answer")
    42
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout} s (last: {last!r})")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for servers a test starts).

    >>> 0 < free_port() < 65536
    True
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
