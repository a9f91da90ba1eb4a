"""The driver loop shared by every backend: the control plane.

It pulls bundles from sources, queues each call's output parts for the target instances,
and keeps at most one call in flight per instance (so order per instance, and per key, is
kept). A part is a count and the records, or, on a distributed backend, a reference to
records that stay on the workers: the driver passes references along and never opens the
records (only ``collect`` output, dead letters and metrics come back to it).

Backpressure: an instance is called only while every instance downstream of it has fewer
than ``max_pending_bundles`` queued. End of stream: a stage finishes when all its upstream
stages have finished and it has drained; a stage fed by a feedback edge (a loop) finishes
when its loop is idle and everything feeding the loop from outside has finished.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any

from sage_core.api.config import EnvConfig
from sage_core.observe.logs import sage_logger
from sage_core.observe.results import DeadLetter, JobResult, OperatorMetrics
from sage_core.reliability.checkpoint import CheckpointConfig, Checkpoints
from sage_core.runtime.gc_tuning import young_generation
from sage_core.runtime.instance import CallOutput
from sage_core.runtime.session import JobSpec, Session

log = sage_logger("sage.driver")


class Driver:
    def __init__(
        self,
        job: JobSpec,
        session: Session,
        config: EnvConfig,
        backend_name: str,
        checkpoint: CheckpointConfig | None = None,
    ):
        self.job = job
        self.session = session
        self.config = config
        self.backend_name = backend_name
        self.stages = job.plan.stages
        self.cancel_event = threading.Event()
        self.pending: dict[tuple[int, int], deque] = {
            (s.id, i): deque() for s in self.stages for i in range(s.parallelism)
        }
        self.busy: dict[Any, tuple[int, int, str]] = {}
        self.busy_inst: set[tuple[int, int]] = set()
        self.source_done: set[tuple[int, int]] = set()
        self.ended: set[int] = set()
        self.finishing: dict[int, int] = {}
        self.next_pull: dict[tuple[int, int], float] = {}
        self.backoff: dict[tuple[int, int], float] = {}
        self.sec_per_record: dict[int, float] = {}
        self.bundle: dict[int, int] = {s.id: max(1, config.initial_bundle // 2) for s in self.stages}
        self.inst_metrics: dict[tuple[int, int], dict[str, OperatorMetrics]] = {}
        self.collected: dict[str, list] = {}
        self.dead_letters: list[DeadLetter] = []
        self.dead_by_operator: Counter[str] = Counter()
        self.blocked_since: dict[int, float] = {}  # stage id -> when backpressure stopped it
        self.blocked_seconds: dict[int, float] = {}
        self.targets = {s.id: sorted({r.target for r in s.routes if not r.feedback}) for s in self.stages}
        self.loops = {s.id: _loop_of(s.id, self.stages) for s in self.stages if s.feedback_upstream}
        self.started = time.perf_counter()
        self.checkpoints = None if checkpoint is None else Checkpoints(checkpoint, job.graph)
        self.quiescing = False  # a checkpoint is due: sources wait until nothing is in flight
        self.resumed_from: int | None = None

    # -- public ------------------------------------------------------------------------
    def run(self) -> JobResult:
        with young_generation(self.config.gc_threshold):
            return self._run()

    def _run(self) -> JobResult:
        self.started = time.perf_counter()
        try:
            self.session.start(self.job)
            if self.checkpoints is not None:
                self._resume()
            self._loop()
            if self.checkpoints is not None and not self.cancel_event.is_set():
                self.checkpoints.clear()
        except BaseException:
            self._drain_busy(timeout=5.0)
            raise
        finally:
            self.session.close()
        result = self.result(cancelled=self.cancel_event.is_set())
        missing = result.count_check()
        if missing and not result.cancelled:
            result.details["unaccounted"] = missing
            log.error("job %r: records unaccounted for (in != out + filtered + dead letters): %s", self.job.name, missing, extra={"job": self.job.name})
        return result

    def cancel(self) -> None:
        self.cancel_event.set()

    def metrics(self) -> dict[str, OperatorMetrics]:
        """Every operator's counters summed over its instances, plus what the driver keeps:
        dead letters received, records queued and time blocked by backpressure."""
        totals: dict[str, OperatorMetrics] = {}
        for per_node in list(self.inst_metrics.values()):
            for name, m in per_node.items():
                total = totals.get(name) or totals.setdefault(name, OperatorMetrics(name))
                total.add(m)
        for name, count in list(self.dead_by_operator.items()):
            (totals.get(name) or totals.setdefault(name, OperatorMetrics(name))).dead_letters = count
        now = time.monotonic()
        for stage in self.stages:
            head = totals.get(stage.head.name)
            if head is None:
                continue
            queues = [self.pending[(stage.id, i)] for i in range(stage.parallelism)]
            head.queue_depth = sum(count for queue in queues for _, _, count in list(queue))
            since = self.blocked_since.get(stage.id)
            head.backpressure_seconds = self.blocked_seconds.get(stage.id, 0.0) + (0.0 if since is None else now - since)
        order = [n.name for n in self.job.graph.nodes]
        return {name: totals[name] for name in order if name in totals}

    def result(self, cancelled: bool = False) -> JobResult:
        details: dict[str, Any] = {}
        if self.checkpoints is not None:
            details["checkpoints"] = {"saved": self.checkpoints.saved, "resumed_from": self.resumed_from}
        return JobResult(
            name=self.job.name,
            backend=self.backend_name,
            metrics=self.metrics(),
            collected=self.collected,
            dead_letters=self.dead_letters,
            seconds=time.perf_counter() - self.started,
            cancelled=cancelled,
            details=details,
        )

    # -- loop --------------------------------------------------------------------------
    def _loop(self) -> None:
        while len(self.ended) < len(self.stages):
            if self.cancel_event.is_set():
                self._drain_busy(timeout=5.0)
                return
            if self.checkpoints is not None and (self.quiescing or self.checkpoints.due()):
                self.quiescing = True
                if not self.busy and not any(self.pending.values()):
                    self._checkpoint()
                    continue
            self._schedule()
            if not self.busy:
                if self.quiescing:
                    continue
                wake = min(self.next_pull.values(), default=None)
                if wake is None:
                    if len(self.ended) == len(self.stages):
                        return
                    msg = f"job {self.job.name!r} cannot make progress; stage states: {self._describe_state()}"
                    raise RuntimeError(msg)
                time.sleep(max(0.0, min(wake - time.monotonic(), 0.1)))
                continue
            timeout = 0.1
            if self.next_pull:
                timeout = max(0.0, min(timeout, min(self.next_pull.values()) - time.monotonic()))
            for handle, outcome in self.session.wait(list(self.busy), timeout):
                self._complete(handle, outcome)

    def _schedule(self) -> None:
        now = time.monotonic()
        for stage in self.stages:
            sid = stage.id
            if sid in self.ended or sid in self.finishing:
                continue
            room = self._has_room(sid)
            self._note_backpressure(stage, room, now)
            for i in range(stage.parallelism):
                key = (sid, i)
                if key in self.busy_inst or not room:
                    continue
                if stage.is_source:
                    if self.quiescing or key in self.source_done or self.next_pull.get(key, 0.0) > now:
                        continue
                    self.next_pull.pop(key, None)
                    max_seconds = self.config.bundle_target_ms / 1000.0
                    self._submit(key, "pull", (self._bundle_size(sid), max_seconds))
                elif self.pending[key]:
                    self._submit(key, "process", (self._take(key, self._bundle_size(sid)),))
            if not self.quiescing and self._can_finish(stage):
                self.finishing[sid] = stage.parallelism
                for i in range(stage.parallelism):
                    self._submit((sid, i), "finish", ())

    def _submit(self, key: tuple[int, int], method: str, args: tuple) -> None:
        handle = self.session.submit(key[0], key[1], method, args)
        self.busy[handle] = (key[0], key[1], method)
        self.busy_inst.add(key)

    def _complete(self, handle: Any, outcome: CallOutput | BaseException) -> None:
        sid, i, method = self.busy.pop(handle)
        self.busy_inst.discard((sid, i))
        if isinstance(outcome, BaseException):
            raise outcome
        stage = self.stages[sid]
        for part in outcome.routed:
            route = stage.routes[part.route]
            if route.target in self.ended:
                self._late(route.target, self.session.fetch(part.data))
            else:
                self.pending[(route.target, part.target)].append((route.input_index, part.data, part.num_records))
        for name, records in outcome.collected.items():
            self.collected.setdefault(name, []).extend(records)
        if outcome.dead_letters:
            self.dead_letters.extend(outcome.dead_letters)
            self.dead_by_operator.update(d.operator for d in outcome.dead_letters)
        self.inst_metrics[(sid, i)] = outcome.metrics
        if outcome.records_in:
            spr = outcome.seconds / outcome.records_in
            old = self.sec_per_record.get(sid)
            self.sec_per_record[sid] = spr if old is None else 0.7 * old + 0.3 * spr
        if method == "pull":
            self._after_pull((sid, i), outcome)
        elif method == "finish":
            self.finishing[sid] -= 1
            if self.finishing[sid] == 0:
                del self.finishing[sid]
                self.ended.add(sid)

    def _after_pull(self, key: tuple[int, int], outcome: CallOutput) -> None:
        if outcome.done:
            self.source_done.add(key)
        elif outcome.records_in == 0:  # idle polling source: back off up to idle_poll_ms
            delay = min(self.backoff.get(key, 0.0005) * 2, self.config.idle_poll_ms / 1000.0)
            self.backoff[key] = delay
            self.next_pull[key] = time.monotonic() + delay
        else:
            self.backoff.pop(key, None)

    # -- checkpoints -------------------------------------------------------------------
    def _call_all(self, calls: dict[tuple[int, int], tuple[str, tuple]]) -> dict[tuple[int, int], Any]:
        """Call every listed instance (nothing else in flight) and wait for all the answers."""
        handles = {self.session.submit(sid, i, method, args): (sid, i) for (sid, i), (method, args) in calls.items()}
        answers: dict[tuple[int, int], Any] = {}
        while handles:
            for handle, outcome in self.session.wait(list(handles), 1.0):
                key = handles.pop(handle)
                if isinstance(outcome, BaseException):
                    self._drain(handles, timeout=5.0)
                    raise outcome
                answers[key] = outcome
        return answers

    def _drain(self, handles: dict, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the calls in ``handles``, dropping each as it ends."""
        deadline = time.monotonic() + timeout
        while handles and time.monotonic() < deadline:
            for handle, _ in self.session.wait(list(handles), 0.1):
                handles.pop(handle)

    def _checkpoint(self) -> None:
        """Everything has drained: save every running instance's state and the driver's."""
        assert self.checkpoints is not None
        running = [(s.id, i) for s in self.stages if s.id not in self.ended for i in range(s.parallelism)]
        states = self._call_all({key: ("snapshot", ()) for key in running})
        driver_state = {
            "ended": set(self.ended),
            "source_done": set(self.source_done),
            "collected": self.collected,
            "dead_letters": self.dead_letters,
            "inst_metrics": self.inst_metrics,
        }
        self.checkpoints.save(driver_state, states)
        self.quiescing = False

    def _resume(self) -> None:
        """Start from the newest checkpoint of this job, if there is one."""
        assert self.checkpoints is not None
        state = self.checkpoints.begin()
        if state is None:
            return
        saved = state["driver"]
        self.ended, self.source_done = set(saved["ended"]), set(saved["source_done"])
        self.collected, self.dead_letters = saved["collected"], saved["dead_letters"]
        self.inst_metrics = saved["inst_metrics"]
        self.dead_by_operator = Counter(d.operator for d in self.dead_letters)
        self._call_all({key: ("restore", (data,)) for key, data in state["instances"].items()})
        self.resumed_from = state["id"]

    # -- decisions ---------------------------------------------------------------------
    def _bundle_size(self, sid: int) -> int:
        """Grow bundles (doubling) until the slowest stage takes ``bundle_target_ms`` per bundle."""
        slowest = max(self.sec_per_record.values(), default=0.0)
        target = self.config.bundle_target_ms / 1000.0
        ideal = self.config.max_bundle if slowest <= 0 else int(target / slowest)
        size = max(1, min(ideal, self.bundle[sid] * 2, self.config.max_bundle))
        self.bundle[sid] = size
        return size

    def _take(self, key: tuple[int, int], limit: int) -> list[tuple[int, Any]]:
        """Queued parts for one call, ``(input index, part data)``, up to ``limit`` records."""
        queue = self.pending[key]
        input_index, data, count = queue.popleft()
        batches = [(input_index, data)]
        while queue and count + queue[0][2] <= limit:
            input_index, data, n = queue.popleft()
            count += n
            batches.append((input_index, data))
        return batches

    def _note_backpressure(self, stage, room: bool, now: float) -> None:
        """Track how long a stage with work to do is held back by full queues downstream."""
        sid = stage.id
        waiting = not room and (
            any((sid, i) not in self.source_done for i in range(stage.parallelism))
            if stage.is_source
            else any(self.pending[(sid, i)] for i in range(stage.parallelism))
        )
        since = self.blocked_since.get(sid)
        if waiting and since is None:
            self.blocked_since[sid] = now
        elif not waiting and since is not None:
            self.blocked_seconds[sid] = self.blocked_seconds.get(sid, 0.0) + now - since
            del self.blocked_since[sid]

    def _has_room(self, sid: int) -> bool:
        cap = self.config.max_pending_bundles
        for t in self.targets[sid]:
            for i in range(self.stages[t].parallelism):
                if len(self.pending[(t, i)]) >= cap:
                    return False
        return True

    def _idle(self, sid: int) -> bool:
        return all(
            (sid, i) not in self.busy_inst and not self.pending[(sid, i)]
            for i in range(self.stages[sid].parallelism)
        )

    def _can_finish(self, stage) -> bool:
        sid = stage.id
        if not all(u in self.ended for u in stage.upstream) or not self._idle(sid):
            return False
        if stage.is_source and any((sid, i) not in self.source_done for i in range(stage.parallelism)):
            return False
        if stage.feedback_upstream:
            loop = self.loops[sid]
            for member in loop:
                if not self._idle(member):
                    return False
                outside = [u for u in self.stages[member].upstream if u not in loop]
                if not all(u in self.ended for u in outside):
                    return False
        return True

    def _late(self, target: int, items: list) -> None:
        """Records routed to a stage that already finished (only possible around loops)."""
        name = self.stages[target].head.name
        for record in items:
            self.dead_letters.append(
                DeadLetter(name, "", record, "RuntimeError: record arrived after the operator had finished", "")
            )
            self.dead_by_operator[name] += 1

    def _drain_busy(self, timeout: float) -> None:
        self._drain(self.busy, timeout)
        self.busy_inst = {(sid, i) for sid, i, _m in self.busy.values()}

    def _describe_state(self) -> str:
        parts = []
        for s in self.stages:
            state = "ended" if s.id in self.ended else "finishing" if s.id in self.finishing else "running"
            queued = sum(len(self.pending[(s.id, i)]) for i in range(s.parallelism))
            parts.append(f"{s.name}={state}(queued={queued})")
        return ", ".join(parts)


def _loop_of(sid: int, stages) -> set[int]:
    """Stages on a cycle through ``sid``: reachable from it and able to reach it."""
    succ = {s.id: {r.target for r in s.routes} for s in stages}
    pred: dict[int, set[int]] = {s.id: set() for s in stages}
    for a, targets in succ.items():
        for b in targets:
            pred[b].add(a)

    def reach(start: int, edges: dict[int, set[int]]) -> set[int]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    return reach(sid, succ) & reach(sid, pred)


