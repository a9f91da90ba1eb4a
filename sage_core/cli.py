"""The ``sage`` command line: run a pipeline file, report the installation.

    sage run examples/wordcount.py --backend local --json   # live progress on stderr, metrics as JSON
    sage doctor
"""

from __future__ import annotations

import json
import platform
import runpy
import sys
from importlib import import_module, metadata
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from sage_core import environment
from sage_core.progress import LiveProgress
from sage_core.registry import available_backends, get_backend
from sage_core.results import JobResult

app = typer.Typer(help="SAGE: declarative dataflow for LLM and AI pipelines.", no_args_is_help=True, add_completion=False)
console = Console()

BACKEND_PACKAGES = {"local": None, "dask": "distributed", "ray": "ray", "prefect": "prefect"}
NATIVE_MODULES = ("sage_db", "sage_flow")
OPTIONAL_PACKAGES = ("faiss-cpu", "langchain-core", "sentence-transformers", "torch")


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


@app.command()
def run(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="a Python file that builds and submits a pipeline"),
    backend: str = typer.Option(None, "--backend", "-b", help="run every submit() of the file on this backend"),
    address: str = typer.Option(None, "--address", help="cluster address for dask/ray"),
    option: list[str] = typer.Option([], "--option", "-o", help="backend option key=value (repeatable)"),
    as_json: bool = typer.Option(False, "--json", help="print the final metrics of each job as JSON"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a live view of each job on stderr"),
) -> None:
    """Run FILE as ``__main__``, optionally on another backend, with a live view of its jobs."""
    options = _parse_options(option)
    if address:
        options["address"] = address
    if backend is None and options:
        raise typer.BadParameter("--address/--option need --backend")
    if backend is not None:
        get_backend(backend)  # fail early with the extra to install
    results: list[JobResult] = []
    environment.override_backend(backend, **options)
    environment.add_job_listener(results.append)
    live = LiveProgress() if progress else None
    if live is not None:
        environment.add_start_listener(live.watch)
        live.start()
    sys.argv = [str(file)]
    try:
        runpy.run_path(str(file), run_name="__main__")
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
        return metadata.version("sage-dataflow")
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@app.command()
def doctor() -> None:
    """Report Python, backends, native extensions and optional packages."""
    table = Table(title="SAGE installation")
    table.add_column("component")
    table.add_column("status")
    table.add_column("details")
    table.add_row("python", "ok", f"{platform.python_version()} ({sys.executable})")
    table.add_row("sage-dataflow", "ok", _version(None) or "?")
    broken = False
    for name in available_backends():
        try:
            get_backend(name)
            table.add_row(f"backend {name}", "ok", _version(BACKEND_PACKAGES.get(name)) or "built in")
        except ImportError as exc:
            table.add_row(f"backend {name}", "missing", str(exc))
    for module in NATIVE_MODULES:
        try:
            mod = import_module(module)
            table.add_row(f"native {module}", "ok", f"{mod.__version__} ({Path(mod._core.__file__).name})")
        except ImportError as exc:
            broken = True
            table.add_row(f"native {module}", "missing", str(exc).splitlines()[0])
    for dist in OPTIONAL_PACKAGES:
        version = _version(dist)
        table.add_row(dist, "ok" if version else "not installed", version or "")
    console.print(table)
    if broken:
        raise typer.Exit(1)


if __name__ == "__main__":  # pragma: no cover
    app()
