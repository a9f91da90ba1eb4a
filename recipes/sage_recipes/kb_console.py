"""The knowledge base on a terminal: progress bars, the sync summary, answers, the chat loop.

Used by ``sage ask`` and ``sage chat`` (``sage_core/cli.py`` imports this module inside
those commands only). Progress and summaries go to stderr; ``--json`` output to stdout.

Example::

    from rich.console import Console
    from sage_recipes.kb_console import SyncProgress, print_summary
    from sage_recipes.knowledge_base import KnowledgeBase

    kb, err = KnowledgeBase("docs"), Console(stderr=True)
    with SyncProgress(err) as bars:
        report = kb.sync(progress=bars.update)
    print_summary(report, err)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sage_recipes.generation import endpoint_from_env
from sage_recipes.knowledge_base import KnowledgeBase, SyncReport, default_docs_folder

__all__ = ["SyncProgress", "chat_loop", "print_answer", "print_summary", "run_ask", "run_chat"]

EXIT_WORDS = frozenset({"exit", "quit", ":q"})


class SyncProgress:
    """Rich progress bars fed by :meth:`KnowledgeBase.sync`'s ``progress`` callback."""

    def __init__(self, console: Console):
        self.bars = Progress(
            TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> SyncProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def update(self, state: dict[str, int]) -> None:
        if not self.tasks:
            for key, label in (("documents_read", "documents read"), ("chunks_embedded", "chunks embedded"), ("chunks_written", "chunks written")):
                self.tasks[key] = self.bars.add_task(label, total=None)
        self.bars.update(self.tasks["documents_read"], completed=state["documents_read"], total=state["documents"])
        total_chunks = state["chunks"] if state["documents_read"] >= state["documents"] else None
        self.bars.update(self.tasks["chunks_embedded"], completed=state["chunks_embedded"], total=total_chunks)
        self.bars.update(self.tasks["chunks_written"], completed=state["chunks_written"], total=total_chunks)


def print_summary(report: SyncReport, console: Console) -> None:
    """The sync report in a few lines (paths unwrapped, so they can be copied)."""
    lines = [
        f"[bold]documents[/bold]  {report.documents} ({report.added} new, {report.changed} changed, "
        f"{report.removed} removed, {report.unchanged} unchanged)",
        f"[bold]chunks[/bold]     {report.chunks} in the index ({report.chunks_written} embedded now, {report.chunks_deleted} deleted)",
        f"[bold]time[/bold]       {report.seconds:.1f} s on {report.backend}",
        f"[bold]folder[/bold]     {escape(report.folder)}",
        f"[bold]index[/bold]      {escape(report.db_path)} (collection {report.collection!r})",
    ]
    lines += [f"[red]failed[/red]     {escape(f['document'])} at {f['operator']}: {escape(f['error'])}" for f in report.failed]
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False)


def generator_note(generator: str) -> str:
    if generator == "extractive":
        return "extractive (no LLM endpoint configured: set SAGE_LLM_BASE_URL and SAGE_LLM_MODEL for generated answers)"
    return generator


def print_answer(reply: dict[str, Any], console: Console) -> None:
    console.print(escape(reply["answer"]))
    console.print(f"[dim]generator: {escape(generator_note(reply['generator']))}[/dim]")
    console.print("[dim]sources:[/dim]")
    for p in reply["passages"]:
        console.print(f"[dim]  {p['score']:.3f}  {escape(p['path'])}  ({escape(p['id'])})[/dim]")


def _open(docs: str | None, db: str | None) -> KnowledgeBase:
    return KnowledgeBase(docs or default_docs_folder(), db)


def _sync(kb: KnowledgeBase, err: Console, backend: str, options: dict[str, Any]) -> SyncReport:
    with SyncProgress(err) as bars:
        report = kb.sync(backend, progress=bars.update, **options)
    print_summary(report, err)
    if report.chunks == 0:
        patterns = " ".join(kb.patterns)
        msg = f"nothing to answer from: {report.documents} documents ({patterns}) in {kb.folder}, {len(report.failed)} failed"
        raise LookupError(msg)
    return report


def run_ask(question: str, docs: str | None, db: str | None, backend: str, k: int, as_json: bool, options: dict[str, Any]) -> int:
    """``sage ask``: sync, then answer one question. Returns the exit code."""
    err, out = Console(stderr=True), Console()
    kb = _open(docs, db)
    report = _sync(kb, err, backend, options)
    reply = kb.ask(question, k=k)
    if as_json:
        print(json.dumps({**reply, "sync": report.to_dict()}, indent=2, default=str))
    else:
        print_answer(reply, out)
    return 0 if report.ok else 1


def chat_loop(kb: KnowledgeBase, lines: Iterable[str], out: Console, k: int, *, prompt: bool = True) -> int:
    """Answer each line of ``lines`` until it ends or a line is ``exit``; returns the number answered."""
    answered = 0
    if prompt:
        out.print("[bold]?[/bold] ", end="")
    for line in lines:
        question = line.strip()
        if question.lower() in EXIT_WORDS:
            break
        if question:
            print_answer(kb.ask(question, k=k), out)
            answered += 1
        if prompt:
            out.print("[bold]?[/bold] ", end="")
    return answered


def run_chat(docs: str | None, db: str | None, backend: str, k: int, watch: bool, interval: float, options: dict[str, Any], stdin: TextIO | None = None) -> int:
    """``sage chat``: sync (and with ``watch``, keep the index live), then answer stdin line by line."""
    err, out = Console(stderr=True), Console()
    kb = _open(docs, db)
    _sync(kb, err, backend, options)
    endpoint = endpoint_from_env()["base_url"]
    err.print(f"answers from {escape(endpoint) if endpoint else 'the extractive generator (no LLM endpoint configured)'}; "
              "type a question, `exit` or end of input to quit")
    live = kb.watch(interval, initial_sync=False) if watch else None
    if live is not None:
        err.print(f"watching {kb.folder} for changes every {interval:g} s")
    try:
        chat_loop(kb, stdin or sys.stdin, out, k, prompt=(stdin or sys.stdin).isatty())
    finally:
        if live is not None:
            live.stop()
    return 0
