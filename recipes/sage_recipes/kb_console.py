"""The knowledge base on a terminal: progress bars, the sync summary, answers, the chat loop.

Used by ``sage ask`` and ``sage chat`` (:mod:`sage_recipes.cli` imports this module when
one of them runs, never for ``--help``). Progress and summaries go to stderr; ``--json``
output to stdout. Holds the terminal side of the knowledge base; must not hold command-line
parsing (that is :mod:`sage_recipes.cli`) nor the knowledge base itself.

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

import contextlib
import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from sage_db import SageDBLockedError
from sage_recipes.generation import endpoint_from_env
from sage_recipes.knowledge_base import KnowledgeBase, SyncReport, default_docs_folder
from sage_recipes.rag import AnsweringError

__all__ = ["SyncProgress", "answering_error", "chat_loop", "print_answer", "print_summary", "run_ask", "run_chat"]

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


def print_answer(reply: dict[str, Any], console: Console, *, show_question: bool = False) -> None:
    """The answer, rendered as Markdown (code highlighted) on a terminal and as plain text
    otherwise, then the generator and the passages it came from."""
    if show_question:
        console.print(Text(f"? {reply['question']}", style="bold"), soft_wrap=True)
    if console.is_terminal:
        console.print(Markdown(reply["answer"], code_theme="monokai"))
    else:
        console.print(reply["answer"], markup=False, highlight=False, soft_wrap=True)
    console.print(f"[dim]generator: {escape(generator_note(reply['generator']))}[/dim]", soft_wrap=True)
    console.print("[dim]sources:[/dim]")
    for p in reply["passages"]:
        where = f"{p['path']} — {p['heading']}" if p.get("heading") else p["path"]
        console.print(f"[dim]  {p['score']:.3f}  {escape(where)}  ({escape(p['id'])})[/dim]", soft_wrap=True)


def answering_error(exc: AnsweringError) -> str:
    """One line saying why a question was not answered and what to do."""
    lines = exc.error.strip().splitlines()
    first = (lines[0] if lines else "unknown error")[:400]
    if exc.operator == "generate":
        endpoint = endpoint_from_env()
        return (
            f"the LLM endpoint {endpoint['base_url']} (model {endpoint['model'] or 'default'}) did not answer: {first}; "
            "check SAGE_LLM_BASE_URL, SAGE_LLM_MODEL and SAGE_LLM_API_KEY, or unset SAGE_LLM_BASE_URL for extractive answers"
        )
    return f"the question could not be answered at step {exc.operator!r}: {first}"


def _open(docs: str | None, db: str | None) -> KnowledgeBase:
    return KnowledgeBase(docs or default_docs_folder(), db)


def _sync(kb: KnowledgeBase, err: Console, backend: str, options: dict[str, Any]) -> SyncReport:
    try:
        with SyncProgress(err) as bars:
            report = kb.sync(backend, progress=bars.update, **options)
    except SageDBLockedError as exc:  # another sage ask/chat is writing this index
        msg = f"{exc}; wait for it to finish, or give this one another index with --db"
        raise IndexBusyError(msg) from exc
    print_summary(report, err)
    if report.chunks == 0:
        patterns = " ".join(kb.patterns)
        msg = f"nothing to answer from: {report.documents} documents ({patterns}) in {kb.folder}, {len(report.failed)} failed"
        raise LookupError(msg)
    return report


class IndexBusyError(LookupError):
    """The index is held by another writer (the CLI prints it in one line, exit code 2)."""


def run_ask(question: str, docs: str | None, db: str | None, backend: str, k: int, as_json: bool, options: dict[str, Any]) -> int:
    """``sage ask``: sync, then answer one question. Returns the exit code.

    With ``as_json`` stdout carries the JSON document alone: anything the pipeline prints
    goes to stderr.
    """
    err, out = Console(stderr=True), Console()
    kb = _open(docs, db)
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        report = _sync(kb, err, backend, options)
        try:
            reply = kb.ask(question, k=k)
        except AnsweringError as exc:
            err.print(f"[red]sage ask: {escape(answering_error(exc))}[/red]", soft_wrap=True, highlight=False)
            return 1
    if as_json:
        print(json.dumps({**reply, "sync": report.to_dict()}, indent=2, default=str))
    else:
        print_answer(reply, out)
    return 0 if report.ok else 1


def chat_loop(kb: KnowledgeBase, lines: Iterable[str], out: Console, k: int, *, prompt: bool = True, err: Console | None = None) -> int:
    """Answer each line of ``lines`` until it ends or a line is ``exit``; returns the number of
    questions that could not be answered (each said in one line on ``err``).

    Each answer is shown under its question (typed at the prompt on a terminal, echoed otherwise).
    """
    failed = 0
    err = err or Console(stderr=True)
    if prompt:
        out.print("[bold]?[/bold] ", end="")
    for line in lines:
        question = line.strip()
        if question.lower() in EXIT_WORDS:
            break
        if question:
            try:
                print_answer(kb.ask(question, k=k), out, show_question=not prompt)
            except AnsweringError as exc:
                failed += 1
                err.print(f"[red]sage chat: {escape(answering_error(exc))}[/red]", soft_wrap=True, highlight=False)
            out.print()
        if prompt:
            out.print("[bold]?[/bold] ", end="")
    return failed


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
        failed = chat_loop(kb, stdin or sys.stdin, out, k, prompt=(stdin or sys.stdin).isatty(), err=err)
    finally:
        if live is not None:
            live.stop()
    return 1 if failed else 0
