"""Windows as a SAGE operator: how a ``window(...).aggregate(...)`` node runs on every backend.

Holds :class:`WindowOperator`, the runtime operator the driver calls with keyed bundles. The
window state itself is :class:`~sage_flow.operator.WindowAggregate` (C++ engine); this module
only adapts it to SAGE's operator contract: fired windows flow downstream as
:class:`~sage_flow.results.WindowResult` records, late records go to the
side output ``"late"`` when the pipeline reads it (``.side_output("late")``), else to the
dead-letter output with the window operator's name, as malformed records do.
"""

from __future__ import annotations

from sage_core.runtime.operators import Operator


class LateRecordError(Exception):
    """A record arrived after every window it belongs to was purged (past allowed lateness)."""


class WindowOperator(Operator):
    """Runs a :class:`~sage_flow.operator.WindowAggregate` over keyed bundles."""

    def run(self, items, input_index):  # pragma: no cover - validation requires a keyed input
        msg = f"window operator {self.node.name!r} needs a keyed stream; call .keyby(...) before .window(...)"
        raise TypeError(msg)

    def run_keyed(self, pairs, input_index):
        keys = [pair[0] for pair in pairs]
        records = [pair[1] for pair in pairs]
        outcome = self.obj.process_batch(keys, records)
        for record, exc in outcome.errors:
            self.fail(record, exc)
        if outcome.late:
            self._late(pairs, outcome.late)
        return [(r.key, r) for r in outcome.results]

    def _late(self, pairs, late):
        """Late records go to the ``"late"`` side output when it is read, else to dead letters."""
        if "late" in self.side_ports:
            key_of = {id(record): key for key, record in pairs}
            for record in late:
                self.emit_side("late", (key_of.get(id(record)), record))
            return
        watermark = self.obj.watermark
        for record in late:
            self.fail(record, LateRecordError(f"late record: its windows closed (watermark {watermark})"))

    def end(self):
        return [(r.key, r) for r in self.obj.flush()]
