"""Fixtures for the recipe tests: the real embedding model (loaded once), a small pydoc
knowledge base in a real sage_db, and a local OpenAI-compatible HTTP server."""

from __future__ import annotations

import inspect
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# a few Python documentation topics: enough to make retrieval non-trivial, quick to embed
KB_TOPICS = ["with", "try", "for", "while", "if", "pass", "import", "lambda", "assert", "del", "global", "return"]


@pytest.fixture(scope="session")
def minilm():
    from sage_recipes.embedding import load_sentence_transformer

    return load_sentence_transformer()


@pytest.fixture(scope="session")
def pydoc_kb(tmp_path_factory, minilm):
    """Path of a sage_db built by the RAG ingestion pipeline from ``KB_TOPICS``."""
    from sage_recipes.rag import build_index
    from sage_recipes.sources import pydoc_topics

    path = str(tmp_path_factory.mktemp("kb") / "pydoc")
    result = build_index(pydoc_topics(KB_TOPICS), path, "docs")
    return path, result


@pytest.fixture
def openai_server():
    from tests.recipes.openai_server import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        yield server



@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector, name, obj):
    """LangChain's standard tests include unmarked ``async def`` tests: mark them for pytest-asyncio."""
    if name.startswith("test") and inspect.iscoroutinefunction(obj) and "recipes" in str(collector.path):
        pytest.mark.asyncio(obj)
