"""Function classes and helpers shared by the conformance tests.

They live at module level so every backend (threads, Dask, Ray, Prefect) can ship them.
"""

from __future__ import annotations

import os
import time

from sage_core import (
    BatchFunction,
    CoMapFunction,
    FlatMapFunction,
    JoinFunction,
    MapFunction,
    SinkFunction,
    SourceFunction,
    StopSignal,
)


class Upper(MapFunction):
    def execute(self, data):
        return data.upper()


class AddN(MapFunction):
    def __init__(self, n):
        self.n = n

    def execute(self, data):
        return data + self.n


class SplitWords(FlatMapFunction):
    def execute(self, data):
        return data.split()


class CollectWords(FlatMapFunction):
    """Emits through ``collect`` instead of returning."""

    def execute(self, data):
        for word in data.split():
            self.collect(word)


class Countdown(BatchFunction):
    def __init__(self, start):
        self.n = start

    def execute(self):
        if self.n <= 0:
            return None
        self.n -= 1
        return self.n


class TickSource(SourceFunction):
    """Unbounded-style source: returns None (no data yet) every other poll, stops after ``n``."""

    def __init__(self, n):
        self.n = n
        self.sent = 0
        self.polls = 0

    def execute(self):
        self.polls += 1
        if self.sent >= self.n:
            return StopSignal
        if self.polls % 2:
            return None
        self.sent += 1
        return self.sent


class ShardedSource(SourceFunction):
    """Each parallel instance emits its own share of range(n)."""

    def __init__(self, n):
        self.n = n
        self.next = None

    def execute(self):
        if self.next is None:
            self.next = self.ctx.parallel_index
        if self.next >= self.n:
            return StopSignal
        value = self.next
        self.next += self.ctx.parallelism
        return value


class InfiniteSource(SourceFunction):
    """Never ends by itself; counts what it produced in a custom metric."""

    def execute(self):
        self.ctx.metrics.inc("produced")
        return 1


class SlowSink(SinkFunction):
    def __init__(self, delay):
        self.delay = delay

    def execute(self, data):
        time.sleep(self.delay)
        self.ctx.metrics.inc("consumed")


class WhereAmI(MapFunction):
    """Tags each record with the key and the parallel instance that saw it."""

    def execute(self, data):
        return (self.ctx.current_key, self.ctx.parallel_index, data)


class WherePid(MapFunction):
    """Tags each record with the process that handled it."""

    def execute(self, data):
        return (os.getpid(), data)


class RunningCount(MapFunction):
    """Keyed state: a per-key counter."""

    def execute(self, data):
        count = self.ctx.state.get("count", 0) + 1
        self.ctx.state["count"] = count
        return (self.ctx.current_key, count)


class Tagger(CoMapFunction):
    def map0(self, data):
        return ("left", data)

    def map1(self, data):
        return ("right", data)


class InnerJoin(JoinFunction):
    def execute(self, payload, key, tag):
        sides = self.ctx.state.setdefault("sides", ([], []))
        sides[tag].append(payload)
        other = sides[1 - tag]
        return [(key, payload, o) if tag == 0 else (key, o, payload) for o in other]


class FlushOnClose(SinkFunction):
    """Buffers everything and only emits (to the driver) on close: proves drain-then-stop."""

    def __init__(self):
        self.buffer = []

    def execute(self, data):
        self.buffer.append(data)

    def close(self):
        self.ctx.collect("flushed", sorted(self.buffer))


class FailOn(MapFunction):
    def __init__(self, bad):
        self.bad = bad

    def execute(self, data):
        if data == self.bad:
            raise ValueError(f"bad record {data}")
        return data


class FailFirstTime(MapFunction):
    """Raises on its first record ever (a marker file remembers), then passes records on."""

    def __init__(self, marker):
        self.marker = marker

    def execute(self, data):
        if not os.path.exists(self.marker):
            open(self.marker, "w").close()
            raise RuntimeError("first attempt fails")
        return data


class AskService(MapFunction):
    def execute(self, data):
        return self.call_service("calc", data, method="square", timeout=10)


class AskServiceAsync(MapFunction):
    def execute(self, data):
        return self.call_service_async("calc", data, method="square").result(timeout=10)


class AskSlowService(MapFunction):
    def execute(self, data):
        return self.call_service("calc", 1.0, method="sleep", timeout=0.2)


class Calculator:
    """A service with lifecycle hooks."""

    def __init__(self, offset=0):
        self.offset = offset
        self.ready = False

    def setup(self):
        self.ready = True

    def square(self, x):
        assert self.ready
        return x * x + self.offset

    def sleep(self, seconds):
        time.sleep(seconds)
        return seconds

    def health(self):
        return {"ready": self.ready}


def times_two(x):
    return x * 2


def is_even(x):
    return x % 2 == 0


def first_letter(word):
    return word[0]


def modulo_key(x):
    return x % 5


def loop_step(x):
    return x + 1


def below_limit(x):
    return x < 5


def at_limit(x):
    return x >= 5


class ClickEvents(SourceFunction):
    """``n`` click events of ``users`` users, 10 ms of event time apart; pauses 5 ms every
    50 events so that a job with a short checkpoint interval checkpoints several times.
    With ``blob`` each event also carries that many random bytes."""

    def __init__(self, n, users=7, blob=0):
        self.n, self.users, self.blob, self.sent = n, users, blob, 0

    def execute(self):
        if self.sent >= self.n:
            return StopSignal
        self.sent += 1
        if self.sent % 50 == 0:
            time.sleep(0.005)
        event = {"user": f"u{self.sent % self.users}", "ts": self.sent * 0.01, "seq": self.sent}
        if self.blob:  # a large record: ``blob`` random bytes
            event["blob"] = os.urandom(self.blob)
        return event


class Pause(MapFunction):
    """Passes records on, sleeping 5 ms every 50 records (to let checkpoints happen)."""

    def __init__(self):
        self.seen = 0

    def execute(self, data):
        self.seen += 1
        if self.seen % 50 == 0:
            time.sleep(0.005)
        return data


class CrashOnceAt(MapFunction):
    """Raises once, on the record whose ``field`` equals ``value`` (a marker file remembers)."""

    def __init__(self, field, value, marker):
        self.field, self.value, self.marker = field, value, marker

    def execute(self, data):
        if data[self.field] == self.value and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            raise RuntimeError(f"crash at {self.field}={self.value}")
        return data


class KillWorkerOnce(MapFunction):
    """SIGKILLs the worker process it runs in, once, at record ``at`` (a marker file
    remembers): a real worker death in the middle of a job."""

    def __init__(self, at, marker):
        self.at, self.marker = at, marker

    def execute(self, data):
        if data["seq"] == self.at and not os.path.exists(self.marker):
            with open(self.marker, "w") as f:
                f.write(str(os.getpid()))
            os.kill(os.getpid(), 9)
        return data


class Flaky(MapFunction):
    """Raises once on each record of ``transient`` and always on each record of ``poison``."""

    def __init__(self, transient, poison):
        self.transient, self.poison = transient, poison
        self.failed: set = set()

    def execute(self, data):
        if data in self.poison:
            raise ValueError(f"poison record {data}")
        if data in self.transient and data not in self.failed:
            self.failed.add(data)
            raise ConnectionError(f"transient failure on {data}")
        return data


def not_multiple_of_three(x):
    return x % 3 != 0


def slow_identity(x):
    time.sleep(0.002)
    return x


class RejectOdd(SinkFunction):
    """Takes even records; sends odd ones to the dead letters without raising."""

    def execute(self, data):
        if data % 2:
            self.ctx.dead_letter(data, f"odd record {data}")
        else:
            self.ctx.collect("taken", data)


class Numbered(MapFunction):
    """``{"id": n, "n": n}`` for the n-th record it sees."""

    def __init__(self):
        self.n = 0

    def execute(self, data):
        self.n += 1
        return {"id": self.n, "n": self.n}


# -- data plane: records that notice when they are unpickled in the driver -------------------
LOADED_IN_DRIVER = [0]  # payloads unpickled in the process that created the source (the driver)


class Payload:
    """A keyed record with ``size`` bytes of data that counts its unpickling in process ``home``."""

    def __init__(self, key, seq, data, home):
        self.key, self.seq, self.data, self.home = key, seq, data, home

    def __reduce__(self):
        return (_load_payload, (self.key, self.seq, self.data, self.home))


def _load_payload(key, seq, data, home):
    if os.getpid() == home:
        LOADED_IN_DRIVER[0] += 1
    return Payload(key, seq, data, home)


class PayloadSource(BatchFunction):
    """``n`` payloads of ``size`` random bytes over ``keys`` keys, made where the source runs."""

    def __init__(self, n, size, keys, home):
        self.n, self.size, self.keys, self.home, self.sent = n, size, keys, home, 0

    def execute(self):
        if self.sent >= self.n:
            return None
        self.sent += 1
        return Payload(self.sent % self.keys, self.sent, os.urandom(self.size), self.home)


def payload_key(record):
    return record.key


def payload_digest(record):
    """What a consumer keeps of a payload: its key, sequence number and a checksum."""
    return (record.key, record.seq, sum(record.data[:64]), len(record.data))
