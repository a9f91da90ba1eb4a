"""``sage ask`` and ``sage chat`` over a real folder: summary, answers, the extractive label, an endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime", reason="needs the recipes extra")
pytest.importorskip("langchain_text_splitters", reason="needs the recipes extra")

from typer.testing import CliRunner  # noqa: E402

from sage_core.cli import app  # noqa: E402
from sage_core.registry import available_backends  # noqa: E402
from tests.recipes.kb_helpers import write_corpus  # noqa: E402

RAY_QUESTION = "How do I run a pipeline on Ray?"

DEPLOY = """# Deploying

Pipelines run anywhere Python runs.

## With Prefect

Turn the pipeline into a flow, then serve or deploy it like any flow:

```python
from sage_adapters.prefect import as_prefect_flow

@as_prefect_flow
def wordcount():
    ...

wordcount.serve(name="nightly")
```
"""


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
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
    assert answers[0].startswith(f"? {RAY_QUESTION}\n[extractive answer")  # each answer under its question
    assert answers[1].split("\n\n? ")[1].startswith("Where does a restarted job resume from?\n[extractive answer")
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
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == ["sage ask: unknown backend 'nope'; available: " + ", ".join(available_backends())]


def test_an_empty_question_is_refused_before_anything_is_loaded(cli_env, tmp_path):
    result = CliRunner().invoke(app, ["ask", "  \t ", "--docs", str(cli_env)])
    assert result.exit_code == 2 and "the question is empty" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "home").exists()  # no index was created, no model loaded


def test_the_extractive_answer_shows_the_passage_whole_with_its_code(cli_env, tmp_path):
    (cli_env / "deploy.md").write_text(DEPLOY)
    result = invoke("ask", "How do I deploy a pipeline with Prefect?", "--docs", str(cli_env), "--json")
    reply = json.loads(result.stdout)  # stdout holds the JSON document alone
    first = reply["answer"].split("\n\n", 1)[1]
    assert first.startswith("#### deploy.md — Deploying > With Prefect `[deploy.md#")
    assert '```python\nfrom sage_adapters.prefect import as_prefect_flow' in first and 'wordcount.serve(name="nightly")\n```' in first
    assert reply["passages"][0]["heading"] == "Deploying > With Prefect" and reply["sources"][0] == "deploy.md"


def test_a_failing_endpoint_is_one_line_and_exit_code_1(cli_env, tmp_path, openai_server, monkeypatch):
    openai_server.reject = (401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}})
    monkeypatch.setenv("SAGE_LLM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("SAGE_LLM_MODEL", "tiny")
    monkeypatch.setenv("SAGE_LLM_API_KEY", "sk-secret-key-12345678")
    result = CliRunner().invoke(app, ["ask", RAY_QUESTION, "--docs", str(cli_env)])
    assert result.exit_code == 1 and result.stdout == ""
    [line] = [x for x in result.stderr.splitlines() if x.startswith("sage ask:")]
    assert f"the LLM endpoint {openai_server.base_url} (model tiny) did not answer: AuthenticationError" in line
    assert "401" in line and "SAGE_LLM_API_KEY" in line and "Traceback" not in result.stderr
    assert "sk-secret-key-12345678" not in result.stderr


def test_sage_ask_runs_as_a_command_and_sage_run_needs_no_recipes(cli_env, tmp_path):
    sage = Path(sys.executable).parent / "sage"
    env = {"SAGE_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1", "PATH": str(Path(sys.executable).parent)}
    proc = subprocess.run([str(sage), "ask", RAY_QUESTION, "--docs", str(cli_env)], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "generator: extractive" in proc.stdout and "4 new" in proc.stderr
    probe = "import sys, sage_core.cli; print(sorted(m for m in sys.modules if m.startswith('sage_recipes')))"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60).stdout.strip() == "[]"
