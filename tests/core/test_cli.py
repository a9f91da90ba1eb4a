"""The ``sage`` command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sage_core.observe.progress import compact_count
from sage_core.registry import available_backends

ROOT = Path(__file__).parents[2]


def sage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sage_core.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_doctor_reports_backends_and_native_extensions():
    out = sage("doctor")
    assert out.returncode == 0, out.stderr
    assert "backend local" in out.stdout and "native sage_db" in out.stdout and "native sage_flow" in out.stdout


def test_run_example_prints_its_output():
    out = sage("run", "examples/hello.py")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[:2] in (["A", "C"], ["C", "A"])


def sage_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sage_core.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=120, env={**os.environ, **env}
    )


def test_doctor_prints_extras_literally(tmp_path):
    """A backend whose package cannot be imported shows the pip extra to install, brackets included."""
    (tmp_path / "distributed").mkdir()
    (tmp_path / "distributed" / "__init__.py").write_text("raise ImportError('distributed is hidden for this test')\n")
    out = sage_with({"PYTHONPATH": str(tmp_path), "COLUMNS": "200"}, "doctor")
    assert out.returncode == 0, out.stderr
    [row] = [line for line in out.stdout.splitlines() if "backend dask" in line]
    assert "missing" in row and "pip install 'sage-dataflow[dask]'" in row


def test_help_shows_flags_as_flags():
    for command in ("run", "ask", "chat", "doctor"):
        out = sage(command, "--help")
        assert out.returncode == 0 and "<bool>" not in out.stdout, out.stdout
    assert "--json" in sage("ask", "--help").stdout


def test_run_json_prints_metrics():
    out = sage("run", "examples/wordcount.py", "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)  # the file's own prints go to stderr
    assert payload[0]["name"] == "wordcount"
    metrics = payload[0]["metrics"]
    assert metrics["flatmap_1"]["records_out"] == metrics["collect_counts"]["records_in"] > 10000


def test_run_with_unknown_backend_fails_with_one_line():
    out = sage("run", "examples/hello.py", "--backend", "spark")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [f"sage run: unknown backend 'spark'; available: {', '.join(available_backends())}"]


def test_run_on_another_backend_from_the_command_line():
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    out = sage("run", "examples/wordcount.py", "--backend", "dask", "--option", "n_workers=1", "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload[0]["backend"] == "dask" and payload[0]["metrics"]["collect_counts"]["records_in"] > 10000


def test_run_shows_a_live_progress_view_on_stderr():
    out = sage("run", "examples/wordcount.py", "--json")
    assert out.returncode == 0, out.stderr
    view = out.stderr
    assert "job 'wordcount' on local: done" in view
    for column in ("operator", "rec/s", "dead", "queue", "p95 ms"):
        assert column in view
    payload = json.loads(out.stdout)
    counted = payload[0]["metrics"]["flatmap_1"]["records_out"]
    assert compact_count(counted) in view  # the final view shows the final counts
    assert "latency" in payload[0]["metrics"]["flatmap_1"]


def test_run_without_progress_keeps_stderr_quiet():
    out = sage("run", "examples/hello.py", "--no-progress")
    assert out.returncode == 0 and "rec/s" not in out.stderr


def test_ask_and_chat_come_from_the_sage_commands_entry_points():
    """The installed metadata declares them (a stale install would not); `sage --help` lists them."""
    from importlib import metadata

    assert '[project.entry-points."sage.commands"]' in (ROOT / "pyproject.toml").read_text()
    installed = {ep.name: ep for ep in metadata.entry_points(group="sage.commands")}
    assert {"ask", "chat"} <= set(installed), installed
    assert all(installed[name].extras == ["recipes"] for name in ("ask", "chat"))
    out = sage("--help")
    assert out.returncode == 0 and all(f" {name} " in out.stdout for name in ("run", "doctor", "ask", "chat")), out.stdout


def test_a_plugin_command_that_cannot_be_imported_names_the_extra(tmp_path):
    """A `sage.commands` entry point whose module is missing: `--help` still works; the command says what to install."""
    dist = tmp_path / "sage_test_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sage-test-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[sage.commands]\nbroken = sage_no_such_module.cli:commands [extra]\n")
    env = {"PYTHONPATH": str(tmp_path), "COLUMNS": "200"}
    listing = sage_with(env, "--help")
    assert listing.returncode == 0, listing.stderr
    assert "(not installed: pip install 'sage-test-plugin[extra]')" in listing.stdout
    for args in (("broken", "x", "--flag"), ("broken", "--help")):
        out = sage_with(env, *args)
        assert out.returncode == 2 and out.stdout == "", out
        [line] = out.stderr.strip().splitlines()
        assert line.startswith("sage broken: this command comes from sage_no_such_module.cli:commands, which cannot be imported")
        assert line.endswith("install it with: pip install 'sage-test-plugin[extra]'")
    assert sage_with(env, "ask", "--help").returncode == 0  # the other plugins are not affected


def test_without_plugin_metadata_an_unknown_command_says_to_reinstall(monkeypatch):
    from typer.testing import CliRunner

    from sage_core import cli

    monkeypatch.setattr(cli, "_entry_points", dict)
    monkeypatch.setattr(cli, "plugin_command", lambda name: None)
    result = CliRunner().invoke(cli.app, ["ask", "q"])
    assert result.exit_code == 2 and "no plugin commands are installed" in result.stderr and "pip install -e ." in result.stderr
