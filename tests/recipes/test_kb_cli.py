"""``sage ask`` and ``sage chat`` over a real folder: summary, answers, the extractive label, an endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sentence_transformers", reason="needs the recipes extra")
pytest.importorskip("langchain_text_splitters", reason="needs the recipes extra")

from typer.testing import CliRunner  # noqa: E402

from sage_core.cli import app  # noqa: E402
from tests.recipes.kb_helpers import write_corpus  # noqa: E402

RAY_QUESTION = "How do I run a pipeline on Ray?"


@pytest.fixture
def cli_env(tmp_path, monkeypatch, minilm):
    """A corpus folder, SAGE_HOME in tmp_path, no LLM endpoint configured."""
    monkeypatch.setenv("SAGE_HOME", str(tmp_path / "home"))
    for name in ("SAGE_LLM_BASE_URL", "OPENAI_BASE_URL", "SAGE_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    return write_corpus(tmp_path / "docs")


def invoke(*args: str, stdin: str | None = None):
    result = CliRunner().invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_ask_prints_the_summary_and_an_extractive_answer(cli_env, tmp_path):
    result = invoke("ask", RAY_QUESTION, "--docs", str(cli_env))
    summary, answer = result.stderr, result.stdout
    assert "4 (4 new, 0 changed, 0 removed, 0 unchanged)" in summary
    assert str(tmp_path / "home" / "kb" / "docs-") in summary.replace("\n", "")
    assert "documents read" in summary and "chunks embedded" in summary
    assert answer.startswith("[extractive answer") and "generator: extractive (no LLM endpoint configured" in answer
    assert "ray.md" in answer.split("sources:")[1].splitlines()[1]
    again = invoke("ask", RAY_QUESTION, "--docs", str(cli_env))
    assert "(0 new, 0 changed, 0 removed, 4 unchanged)" in again.stderr


def test_ask_json_uses_the_configured_endpoint(cli_env, tmp_path, openai_server, monkeypatch):
    monkeypatch.setenv("SAGE_LLM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("SAGE_LLM_MODEL", "tiny")
    result = invoke("ask", RAY_QUESTION, "--docs", str(cli_env), "--db", str(tmp_path / "idx"), "--k", "2", "--json")
    reply = json.loads(result.stdout)
    assert reply["generator"] == "openai:tiny"
    assert reply["answer"] == f"ANSWER from ray.md#0: {RAY_QUESTION}"
    assert reply["sources"][0] == "ray.md" and len(reply["passages"]) == 2
    assert reply["sync"]["added"] == 4 and reply["sync"]["db_path"] == str(tmp_path / "idx")


def test_chat_answers_each_line_of_stdin_until_exit(cli_env):
    questions = f"{RAY_QUESTION}\n\nWhere does a restarted job resume from?\nexit\nWhat is a tumbling window?\n"
    result = invoke("chat", str(cli_env), stdin=questions)
    answers = result.stdout.split("generator: extractive")
    assert len(answers) == 3  # two answers; nothing after `exit`
    assert "ray.md" in answers[1].split("sources:")[1].splitlines()[1]
    assert "manual.pdf" in answers[2].split("sources:")[1].splitlines()[1]
    assert "tumbling" not in result.stdout


def test_chat_with_watch_answers_and_stops_at_end_of_input(cli_env):
    result = invoke("chat", "--watch", "--interval", "0.2", str(cli_env), stdin=f"{RAY_QUESTION}\n")
    assert "watching" in result.stderr and result.stdout.count("generator: extractive") == 1


def test_bad_arguments_are_named(cli_env, tmp_path):
    result = CliRunner().invoke(app, ["ask", "q", "--docs", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "sage ask: " in result.output and "does not exist" in result.output
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["ask", "q", "--docs", str(tmp_path / "empty")])
    assert result.exit_code == 2 and "nothing to answer from: 0 documents" in result.output
    result = CliRunner().invoke(app, ["chat", str(cli_env), "--docs", str(tmp_path)])
    assert result.exit_code == 2 and "two different folders" in result.output
    result = CliRunner().invoke(app, ["ask", "q", "--docs", str(cli_env), "--backend", "nope"])
    assert result.exit_code != 0 and "nope" in str(result.exception)


def test_sage_ask_runs_as_a_command_and_sage_run_needs_no_recipes(cli_env, tmp_path):
    sage = Path(sys.executable).parent / "sage"
    env = {"SAGE_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1", "PATH": str(Path(sys.executable).parent)}
    proc = subprocess.run([str(sage), "ask", RAY_QUESTION, "--docs", str(cli_env)], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "generator: extractive" in proc.stdout and "4 new" in proc.stderr
    probe = "import sys, sage_core.cli; print(sorted(m for m in sys.modules if m.startswith('sage_recipes')))"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60).stdout.strip() == "[]"
