"""``sage ask`` and ``sage chat``: the knowledge-base commands, plugged into the ``sage`` CLI.

Holds: the two commands' options, the checks made before anything heavy is loaded, and the
mapping of their errors to one line and an exit code. The ``sage.commands`` entry points
``ask`` and ``chat`` point at :data:`commands`, so ``sage_core.cli`` finds them without
importing this package.

Must not hold: the knowledge-base work itself (:mod:`sage_recipes.kb_console`), nor any
module-level import heavier than typer and ``sage_core.cli``: ``sage --help`` imports this
module to list the commands, and the recipe extras are imported only when a command runs.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

import typer

from sage_core.cli import SageCommand, backend_options, fail, flag

__all__ = ["ask", "chat", "commands"]

commands = typer.Typer(add_completion=False)


def _kb_console(command: str) -> ModuleType:
    """The knowledge-base console module, or a clear error naming the extra to install."""
    try:
        return import_module("sage_recipes.kb_console")
    except ImportError as exc:
        raise fail(command, f"needs the recipe extras ({exc}); install with: pip install -e '.[recipes]'", 2) from exc


def _run(command: str, fn: Any, *args: object) -> None:
    """Run a knowledge-base command; bad input (a missing folder, an empty index) ends with its message."""
    try:
        code = fn(*args)
    except (FileNotFoundError, LookupError, ValueError) as exc:
        raise fail(command, str(exc), 2) from exc
    raise typer.Exit(code)


@commands.command(cls=SageCommand)
def ask(
    question: str = typer.Argument(..., help="the question"),
    docs: Path = typer.Option(None, "--docs", file_okay=False, help="folder of .md/.txt/.rst/.pdf files (default: SAGE's own docs/)"),
    db: Path = typer.Option(None, "--db", help="index folder (default: $SAGE_HOME/kb/<folder>-<hash>, $SAGE_HOME = ~/.local/share/sage)"),
    backend: str = typer.Option("local", "--backend", "-b", help="where ingestion runs: local, dask or ray (a local cluster is started)"),
    address: str = typer.Option(None, "--address", help="an existing dask/ray cluster for the ingestion"),
    option: list[str] = typer.Option([], "--option", "-o", help="backend option key=value (repeatable)"),
    k: int = typer.Option(4, "--k", "-k", min=1, help="passages to retrieve"),
    as_json: bool = flag(False, "--json/--no-json", "print the answer, passages and sync report as JSON on stdout"),
) -> None:
    """Sync the folder's documents into the index (only new/changed files), then answer QUESTION."""
    if not question.strip():
        raise fail("ask", f"the question is empty ({question!r}); ask something, e.g. sage ask \"How do I run a pipeline on Ray?\"", 2)
    kb_console = _kb_console("ask")
    options = backend_options("ask", backend, address, option)
    _run("ask", kb_console.run_ask, question, str(docs) if docs else None, str(db) if db else None, backend, k, as_json, options)


@commands.command(cls=SageCommand)
def chat(
    folder: Path = typer.Argument(None, file_okay=False, help="folder of documents (same as --docs)"),
    docs: Path = typer.Option(None, "--docs", file_okay=False, help="folder of .md/.txt/.rst/.pdf files (default: SAGE's own docs/)"),
    db: Path = typer.Option(None, "--db", help="index folder (default: $SAGE_HOME/kb/<folder>-<hash>)"),
    watch: bool = flag(False, "--watch/--no-watch", "keep the index live: changed files are re-indexed within seconds"),
    interval: float = typer.Option(0.5, "--interval", min=0.05, help="seconds between scans of the folder with --watch"),
    backend: str = typer.Option("local", "--backend", "-b", help="where the first sync runs: local, dask or ray"),
    address: str = typer.Option(None, "--address", help="an existing dask/ray cluster for the first sync"),
    option: list[str] = typer.Option([], "--option", "-o", help="backend option key=value (repeatable)"),
    k: int = typer.Option(4, "--k", "-k", min=1, help="passages to retrieve"),
) -> None:
    """Sync the folder, then answer questions read from stdin until end of input or `exit`."""
    if folder and docs and folder.resolve() != docs.resolve():
        raise typer.BadParameter(f"two different folders given: {folder} and --docs {docs}; give one")
    kb_console = _kb_console("chat")
    options = backend_options("chat", backend, address, option)
    target = folder or docs
    _run("chat", kb_console.run_chat, str(target) if target else None, str(db) if db else None, backend, k, watch, interval, options)
