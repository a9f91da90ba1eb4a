"""The ``sage`` command line: the app, its built-in commands and the registry of plugin commands.

    sage run examples/wordcount.py --backend local --json   # live progress on stderr, metrics as JSON
    sage doctor
    sage ask "How do I run a pipeline on Ray?" --docs docs   # a plugin command

Holds: the typer ``app``; the built-in commands ``run`` and ``doctor``, which need nothing
beyond the core's dependencies; the helpers plugin commands share (:class:`SageCommand`,
:func:`flag`, :func:`fail`, :func:`backend_options`); and the lookup of commands in the
``sage.commands`` entry-point group.

Must not hold: any command that needs another SAGE package or an optional extra, nor an
import of one. Such commands are plugins: each entry point of ``sage.commands`` is named
after its command and points at a ``typer.Typer`` (or click command) holding it, e.g.
``name = "package.module:commands [extra]"``. An entry point is loaded only when its command
runs or a help page lists it; one that cannot be imported becomes a command that says
which pip extra to install. ``doctor`` names the native extensions only to report whether
they load.
"""

from __future__ import annotations

import contextlib
import json
import platform
import runpy
import sys
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

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

COMMANDS_GROUP = "sage.commands"
DISTRIBUTION = "sage-dataflow"

console = Console()
err = Console(stderr=True)


def _flag_help_option(opt):
    """Show ``--help`` as a flag, without a ``<bool>`` type column."""
    if opt is not None:
        opt.metavar = ""
    return opt


class SageCommand(TyperCommand):
    """The command class of every ``sage`` command (``@app.command(cls=SageCommand)``):
    ``--help`` shows as a flag."""

    def get_help_option(self, ctx):
        return _flag_help_option(super().get_help_option(ctx))


def flag(default: bool, decls: str, help: str) -> bool:  # noqa: A002 - typer's own keyword
    """A boolean option shown as a flag (``--json/--no-json``), not as a ``<bool>`` value."""
    return typer.Option(default, decls, help=help, metavar="")


def fail(command: str, message: str, code: int) -> typer.Exit:
    """Print ``sage <command>: <message>`` as one line on stderr; returns the exit to raise."""
    err.print(f"[red]sage {command}: {escape(message)}[/red]", soft_wrap=True, highlight=False)
    return typer.Exit(code)


@cache
def _entry_points() -> dict[str, metadata.EntryPoint]:
    """The installed ``sage.commands`` entry points by command name (read once per process)."""
    return {ep.name: ep for ep in metadata.entry_points(group=COMMANDS_GROUP)}


def _install_hint(ep: metadata.EntryPoint) -> str:
    """``pip install '<distribution>[<extras>]'`` for the entry point's declared extras."""
    dist = ep.dist.name if ep.dist is not None else DISTRIBUTION
    extras = ",".join(ep.extras)
    return f"pip install '{dist}[{extras}]'" if extras else f"pip install '{dist}'"


def _failing_command(name: str, message: str, summary: str) -> Any:
    """A stand-in command that, whatever it is given (``--help`` too), prints
    ``sage <name>: <message>`` as one line and exits with code 2."""
    stub = typer.Typer(add_completion=False)

    @stub.command(name=name, help=summary, add_help_option=False,
                  context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def report() -> None:
        raise fail(name, message, 2)

    return typer.main.get_command(stub)


@cache
def plugin_command(name: str) -> Any:
    """The command ``name`` from the ``sage.commands`` entry point of that name (loaded
    once), a stand-in that names the extra to install if its module cannot be imported,
    or ``None`` if no entry point has that name."""
    ep = _entry_points().get(name)
    if ep is None:
        return None
    try:
        target = ep.load()
    except ImportError as exc:
        hint, where = _install_hint(ep), f"{ep.module}:{ep.attr}" if ep.attr else ep.module
        return _failing_command(name, f"this command comes from {where}, which cannot be imported ({exc}); install it with: {hint}",
                                escape(f"(not installed: {hint})"))  # help text is rich markup
    group = typer.main.get_group(target) if isinstance(target, typer.Typer) else target
    commands = getattr(group, "commands", None)  # a group holding it, or the command itself
    command = commands.get(name) if isinstance(commands, dict) else group if getattr(group, "name", None) == name else None
    if command is None:
        msg = f"entry point {ep.name} = {ep.value!r} in group {COMMANDS_GROUP!r} holds no command {name!r}"
        raise TypeError(msg)
    return command


class SageGroup(TyperGroup):
    """The ``sage`` group: the built-in commands first, then the plugin commands by name."""

    def get_help_option(self, ctx):
        return _flag_help_option(super().get_help_option(ctx))

    def list_commands(self, ctx):
        builtin = super().list_commands(ctx)
        return builtin + sorted(name for name in _entry_points() if name not in self.commands)

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name) or plugin_command(cmd_name)
        if command is None and not _entry_points() and not cmd_name.startswith("-"):
            # the installed metadata predates the plugin commands (an old editable install)
            message = (f"no such command; no plugin commands are installed (the {COMMANDS_GROUP!r} entry-point group is empty):"
                       f" reinstall {DISTRIBUTION} (from a checkout: pip install -e .) with the extras you use")
            return _failing_command(cmd_name, message, "(unknown command)")
        return command


app = typer.Typer(
    help="SAGE: declarative dataflow for LLM and AI pipelines.", no_args_is_help=True, add_completion=False, cls=SageGroup
)


def _check_backend(command: str, backend: str) -> None:
    """An unknown or uninstalled backend ends the command with one line and exit code 2."""
    try:
        get_backend(backend)
    except BackendUnavailableError as exc:
        raise fail(command, str(exc), 2) from None


BACKEND_PACKAGES = {"local": None, "dask": "distributed", "ray": "ray", "prefect": "prefect"}
# Native extensions `sage doctor` checks: the `sage.extensions` entry points (name -> module)
EXTENSION_GROUP = "sage.extensions"
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


def backend_options(command: str, backend: str, address: str | None, option: list[str]) -> dict[str, object]:
    """``--backend``/``--address``/``--option`` as submit options; an unknown or uninstalled
    backend ends ``command`` with one line and exit code 2."""
    options = _parse_options(option)
    if address:
        options["address"] = address
    _check_backend(command, backend)  # fail early with the extra to install
    return options


@app.command(cls=SageCommand)
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
        raise fail("run", str(exc), 2) from None
    finally:
        environment.override_backend(None)
        environment.remove_job_listener(results.append)
        if live is not None:
            environment.remove_start_listener(live.watch)
            live.stop()
    if as_json:
        print(json.dumps([r.to_dict() for r in results], indent=2))


def _version(dist: str | None) -> str | None:
    if dist is None:
        return metadata.version(DISTRIBUTION)
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@app.command(cls=SageCommand)
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
    for ep in sorted(metadata.entry_points(group=EXTENSION_GROUP), key=lambda ep: ep.name):
        try:
            mod = ep.load()
            table.add_row(f"native {ep.name}", "ok", escape(f"{mod.__version__} ({Path(mod._core.__file__).name})"))
        except ImportError as exc:
            broken = True
            table.add_row(f"native {ep.name}", "missing", escape(str(exc).splitlines()[0]))
    for dist in OPTIONAL_PACKAGES:
        version = _version(dist)
        table.add_row(dist, "ok" if version else "not installed", version or "")
    console.print(table)
    if broken:
        raise typer.Exit(1)


if __name__ == "__main__":  # pragma: no cover
    app()
