"""The ``sage`` command line: run a pipeline file, ask a folder of documents, report the installation.

    sage run examples/wordcount.py --backend local --json   # live progress on stderr, metrics as JSON
    sage ask "How do I run a pipeline on Ray?" --docs docs
    sage chat --watch docs
    sage doctor

``ask`` and ``chat`` import ``sage_recipes`` inside the command, so ``run`` and ``doctor``
work without the recipe extras.
"""

from __future__ import annotations

import contextlib
import json
import platform
import runpy
import sys
from importlib import import_module, metadata
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from sage_core.api import environment
from sage_core.errors import BackendUnavailableError
from sage_core.observe.progress import LiveProgress
from sage_core.observe.results import JobResult
from sage_core.registry import available_backends, get_backend


def _flag_help_option(opt):
    """Show ``--help`` as a flag, without a ``<bool>`` type column."""
    if opt is not None:
        opt.metavar = ""
    return opt


class _Command(TyperCommand):
    def get_help_option(self, ctx):
        return _flag_help_option(super().get_help_option(ctx))


class _Group(TyperGroup):

    def get_help_option(self, ctx):
        return _flag_help_option(super().get_help_option(ctx))


app = typer.Typer(
    help="SAGE: declarative dataflow for LLM and AI pipelines.", no_args_is_help=True, add_completion=False, cls=_Group
)
console = Console()
err = Console(stderr=True)


def flag(default: bool, decls: str, help: str) -> bool:  # noqa: A002 - typer's own keyword
    """A boolean option shown as a flag (``--json/--no-json``), not as a ``<bool>`` value."""
    return typer.Option(default, decls, help=help, metavar="")


def _fail(command: str, message: str, code: int) -> typer.Exit:
    """Print ``sage <command>: <message>`` as one line on stderr; returns the exit to raise."""
    err.print(f"[red]sage {command}: {escape(message)}[/red]", soft_wrap=True, highlight=False)
    return typer.Exit(code)


def _check_backend(command: str, backend: str) -> None:
    """An unknown or uninstalled backend ends the command with one line and exit code 2."""
    try:
        get_backend(backend)
    except BackendUnavailableError as exc:
        raise _fail(command, str(exc), 2) from None

BACKEND_PACKAGES = {"local": None, "dask": "distributed", "ray": "ray", "prefect": "prefect"}
NATIVE_MODULES = ("sage_db", "sage_flow")
OPTIONAL_PACKAGES = ("faiss-cpu", "langchain-core", "onnxruntime", "tokenizers", "sentence-transformers", "torch")


def _parse_options(pairs: list[str]) -> dict[str, object]:
    options: dict[str, object] = {}
    for pair in pairs:
        if "=" not in pair:
            raise typer.BadParameter(f"--option expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


@app.command(cls=_Command)
def run(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="a Python file that builds and submits a pipeline"),
    backend: str = typer.Option(None, "--backend", "-b", help="run every submit() of the file on this backend"),
    address: str = typer.Option(None, "--address", help="cluster address for dask/ray"),
    option: list[str] = typer.Option([], "--option", "-o", help="backend option key=value (repeatable)"),
    as_json: bool = flag(False, "--json/--no-json", "print the final metrics of each job as JSON on stdout (the file's own prints go to stderr)"),
    progress: bool = flag(True, "--progress/--no-progress", "show a live view of each job on stderr"),
) -> None:
    """Run FILE as ``__main__``, optionally on another backend, with a live view of its jobs."""
    options = _parse_options(option)
    if address:
        options["address"] = address
    if backend is None and options:
        raise typer.BadParameter("--address/--option need --backend")
    if backend is not None:
        _check_backend("run", backend)  # fail early with the extra to install
    results: list[JobResult] = []
    environment.override_backend(backend, **options)
    environment.add_job_listener(results.append)
    live = LiveProgress() if progress else None
    if live is not None:
        environment.add_start_listener(live.watch)
        live.start()
    sys.argv = [str(file)]
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    try:
        with quiet:
            runpy.run_path(str(file), run_name="__main__")
    except BackendUnavailableError as exc:
        raise _fail("run", str(exc), 2) from None
    finally:
        environment.override_backend(None)
        environment.remove_job_listener(results.append)
        if live is not None:
            environment.remove_start_listener(live.watch)
            live.stop()
    if as_json:
        print(json.dumps([r.to_dict() for r in results], indent=2))


def _recipes(command: str):
    """The knowledge-base console module, or a clear error naming the extra to install."""
    try:
        return import_module("sage_recipes.kb_console")
    except ImportError as exc:
        raise _fail(command, f"needs the recipe extras ({exc}); install with: pip install -e '.[recipes]'", 2) from exc


def _run_recipe(command: str, fn, *args: object) -> None:
    """Run a knowledge-base command; bad input (a missing folder, an empty index) ends with its message."""
    try:
        code = fn(*args)
    except (FileNotFoundError, LookupError, ValueError) as exc:
        raise _fail(command, str(exc), 2) from exc
    raise typer.Exit(code)


def _backend_options(command: str, backend: str, address: str | None, option: list[str]) -> dict[str, object]:
    options = _parse_options(option)
    if address:
        options["address"] = address
    _check_backend(command, backend)  # fail early with the extra to install
    return options


@app.command(cls=_Command)
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
        raise _fail("ask", f"the question is empty ({question!r}); ask something, e.g. sage ask \"How do I run a pipeline on Ray?\"", 2)
    kb_console = _recipes("ask")
    options = _backend_options("ask", backend, address, option)
    _run_recipe("ask", kb_console.run_ask, question, str(docs) if docs else None, str(db) if db else None, backend, k, as_json, options)


@app.command(cls=_Command)
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
    kb_console = _recipes("chat")
    options = _backend_options("chat", backend, address, option)
    target = folder or docs
    _run_recipe("chat", kb_console.run_chat, str(target) if target else None, str(db) if db else None, backend, k, watch, interval, options)


def _version(dist: str | None) -> str | None:
    if dist is None:
        return metadata.version("sage-dataflow")
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@app.command(cls=_Command)
def doctor() -> None:
    """Report Python, backends, native extensions and optional packages."""
    table = Table(title="SAGE installation")
    table.add_column("component")
    table.add_column("status")
    table.add_column("details")
    table.add_row("python", "ok", escape(f"{platform.python_version()} ({sys.executable})"))
    table.add_row("sage-dataflow", "ok", _version(None) or "?")
    broken = False
    for name in available_backends():
        try:
            get_backend(name)
            table.add_row(f"backend {name}", "ok", _version(BACKEND_PACKAGES.get(name)) or "built in")
        except ImportError as exc:
            table.add_row(f"backend {name}", "missing", escape(str(exc)))
    for module in NATIVE_MODULES:
        try:
            mod = import_module(module)
            table.add_row(f"native {module}", "ok", escape(f"{mod.__version__} ({Path(mod._core.__file__).name})"))
        except ImportError as exc:
            broken = True
            table.add_row(f"native {module}", "missing", escape(str(exc).splitlines()[0]))
    for dist in OPTIONAL_PACKAGES:
        version = _version(dist)
        table.add_row(dist, "ok" if version else "not installed", version or "")
    console.print(table)
    if broken:
        raise typer.Exit(1)


if __name__ == "__main__":  # pragma: no cover
    app()
