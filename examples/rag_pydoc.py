"""Question answering over Python's own documentation (``pydoc_data.topics``), offline.

Two SAGE pipelines from ``sage_recipes.rag``:

1. ingestion: topics → chunks (langchain-text-splitters) → all-MiniLM-L6-v2 embeddings
   (one encode per bundle) → sage_db (FAISS + BM25);
2. answering: question → embedding → sage_db hybrid search → QA prompt → generator.

The generator is an OpenAI-compatible endpoint when ``SAGE_LLM_BASE_URL`` (and
``SAGE_LLM_MODEL``, ``SAGE_LLM_API_KEY``) are set; otherwise the extractive generator
answers from the passages and says so.

    sage run examples/rag_pydoc.py
    SAGE_RAG_QUESTIONS="How do I write a lambda?" sage run examples/rag_pydoc.py
    SAGE_LLM_BASE_URL=http://localhost:11434/v1 SAGE_LLM_MODEL=llama3.2 sage run examples/rag_pydoc.py

The index lives in ``SAGE_RAG_DB`` (default: ``<tmp>/sage_rag_pydoc``) and is reused when
it exists; ``SAGE_RAG_REBUILD=1`` rebuilds it. ``SAGE_RAG_TOPICS=with,try,pass`` indexes only
those topics (a quick demo). ``sage run examples/rag_pydoc.py --backend dask`` runs both
pipelines on Dask.
"""

import os
import shutil
import tempfile
import time

from sage_core import LocalEnvironment
from sage_recipes.rag import RAG_CONFIG, add_answering, add_ingestion
from sage_recipes.sources import pydoc_topics

DB = os.environ.get("SAGE_RAG_DB") or os.path.join(tempfile.gettempdir(), "sage_rag_pydoc")
QUESTIONS = [
    q.strip()
    for q in os.environ.get(
        "SAGE_RAG_QUESTIONS", "What does the with statement do?|How do I catch an exception?|What does pass do?"
    ).split("|")
    if q.strip()
]


def ingest():
    topics = [t.strip() for t in os.environ.get("SAGE_RAG_TOPICS", "").split(",") if t.strip()]
    docs = pydoc_topics(topics or None)
    env = LocalEnvironment("rag_pydoc_ingest", config=RAG_CONFIG)
    add_ingestion(env.from_batch(docs, name="documents"), DB)
    start = time.perf_counter()
    result = env.submit()
    chunks = result.metrics["chunk"].records_out
    print(f"indexed {len(docs)} topics as {chunks} chunks in {time.perf_counter() - start:.1f} s on {result.backend} -> {DB}")


def answer():
    env = LocalEnvironment("rag_pydoc_ask", config=RAG_CONFIG)
    add_answering(env.from_batch([{"question": q, "order": i} for i, q in enumerate(QUESTIONS)], name="questions"), DB).collect("answers")
    result = env.submit()
    for reply in sorted(result.collected["answers"], key=lambda r: r["order"]):
        print(f"\nQ: {reply['question']}")
        print(f"A ({reply['generator']}): {reply['answer']}")
        print("   sources: " + ", ".join(f"{p['id']} ({p['score']:.3f})" for p in reply["passages"]))
    for dead in result.dead_letters:
        print(f"failed at {dead.operator}: {dead.error}")


if __name__ == "__main__":
    if os.environ.get("SAGE_RAG_REBUILD") == "1" and os.path.exists(DB):
        shutil.rmtree(DB)
    if os.path.exists(os.path.join(DB, "SAGEDB")):
        print(f"using the index in {DB} (SAGE_RAG_REBUILD=1 rebuilds it)")
    else:
        ingest()
    answer()
