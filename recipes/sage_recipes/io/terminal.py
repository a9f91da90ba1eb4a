"""A terminal sink: one line per record, through rich.

Example::

    >>> from sage_core import LocalEnvironment
    >>> env = LocalEnvironment("doc_terminal")
    >>> _ = env.from_batch([{"n": 1}]).sink(TerminalSink, prefix="out: ", color=False)
    >>> _ = env.submit()
    out: {"n": 1}
"""

from __future__ import annotations

import json
import sys
from typing import Any

from sage_core.api.functions import SinkFunction

__all__ = ["TerminalSink"]


class TerminalSink(SinkFunction):
    """Prints each record on one line: dicts and lists as compact JSON, the rest as ``str``.

    ``fields`` keeps only those keys of dict records; ``max_width`` cuts long lines
    (``None``: never). ``color=True`` lets rich highlight the JSON when the output is a
    terminal. On Dask and Ray the lines go to the worker's standard output.
    """

    def __init__(
        self,
        prefix: str = "",
        *,
        fields: list[str] | None = None,
        max_width: int | None = None,
        color: bool = True,
    ):
        self.prefix = prefix
        self.fields = list(fields) if fields else None
        self.max_width = max_width
        self.color = color
        self._console: Any = None

    def open(self) -> None:
        from rich.console import Console

        # sys.stdout as it is now (test runners and notebooks swap it)
        self._console = Console(file=sys.stdout, soft_wrap=True, highlight=self.color, no_color=not self.color)

    def format(self, data: Any) -> str:
        """The line printed for ``data``."""
        if self.fields is not None and isinstance(data, dict):
            data = {k: data[k] for k in self.fields if k in data}
        if isinstance(data, (dict, list)):
            line = json.dumps(data, default=str, ensure_ascii=False)
        else:
            line = str(data)
        line = self.prefix + " ".join(line.splitlines())
        if self.max_width is not None and len(line) > self.max_width:
            line = line[: max(self.max_width - 1, 0)] + "…"
        return line

    def execute(self, data: Any) -> None:
        if self._console is None:
            self.open()
        self._console.print(self.format(data), markup=False, crop=False, overflow="ignore")
