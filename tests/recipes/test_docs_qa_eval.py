"""Retrieval quality of the knowledge base behind `sage ask` over SAGE's own docs/.

``eval/docs_qa.jsonl`` holds questions as users ask them, each with the sections of docs/
that answer it (file and heading path). The index is built exactly as ``sage ask`` builds
it (Markdown sections, all-MiniLM-L6-v2 on ONNX Runtime, the knowledge base's hybrid
retrieval settings); a question is
answered at rank r when one of its sections is the r-th passage. The test reports
recall@3 (questions answered in the first three passages) and MRR (over the first ten),
and fails below recall@3 = 0.9.

    python -m pytest tests/recipes/test_docs_qa_eval.py -q -rP     # shows the report
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime", reason="needs the recipes extra")
pytest.importorskip("langchain_text_splitters", reason="needs the recipes extra")

from sage_recipes.documents import load_documents  # noqa: E402
from sage_recipes.knowledge_base import RETRIEVAL, KnowledgeBase, default_docs_folder  # noqa: E402
from sage_recipes.markdown_sections import MarkdownChunker  # noqa: E402
from sage_recipes.onnx_embedding import OnnxEmbedder  # noqa: E402
from sage_recipes.rag import ask  # noqa: E402

CASES = Path(__file__).parent / "eval" / "docs_qa.jsonl"
MIN_RECALL_AT_3 = 0.9


def load_cases() -> list[dict]:
    return [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]


def section(path: str, heading: str) -> str:
    return f"{path} :: {heading}"


@pytest.fixture(scope="module")
def docs_index(tmp_path_factory):
    kb = KnowledgeBase(default_docs_folder(), tmp_path_factory.mktemp("docs_qa") / "kb")
    report = kb.sync()
    assert report.ok and report.chunks > 100, report.summary()
    return kb


def test_the_eval_set_has_enough_questions_and_names_real_sections():
    cases = load_cases()
    assert len(cases) >= 30
    chunker = MarkdownChunker(KnowledgeBase(default_docs_folder()).chunk_size)
    present = {section(c["metadata"]["path"], c["metadata"]["heading"]) for d in load_documents(default_docs_folder()) for c in chunker.execute(d)}
    for n, case in enumerate(cases, 1):
        assert case["question"].strip() and case["answers"], f"{CASES.name} line {n}: a question and its answers are needed"
        for answer in case["answers"]:
            name = section(answer["path"], answer["heading"])
            assert name in present, f"{CASES.name} line {n} names {name!r}, which docs/ no longer has: update the line"


def test_retrieval_answers_the_docs_questions_in_the_first_three_passages(docs_index):
    cases = load_cases()
    questions = [c["question"] for c in cases]
    replies = ask(questions, docs_index.db_path, docs_index.collection, k=10, embedder=OnnxEmbedder, **RETRIEVAL)
    ranks: list[int | None] = []
    misses = []
    for case, reply in zip(cases, replies):
        wanted = {section(a["path"], a["heading"]) for a in case["answers"]}
        got = [section(p["metadata"].get("path", ""), p["metadata"].get("heading", "")) for p in reply["passages"]]
        rank = next((i for i, name in enumerate(got, 1) if name in wanted), None)
        ranks.append(rank)
        if rank is None or rank > 3:
            misses.append(f"  rank {rank or '>10'}: {case['question']!r} → first: {got[:3]}")
    recall3 = sum(r is not None and r <= 3 for r in ranks) / len(ranks)
    mrr = sum(1 / r for r in ranks if r is not None) / len(ranks)
    report = f"docs QA retrieval over {len(cases)} questions: recall@3 {recall3:.3f}, MRR@10 {mrr:.3f}, recall@1 {sum(r == 1 for r in ranks) / len(ranks):.3f}"
    print(report, *misses, sep="\n")
    assert recall3 >= MIN_RECALL_AT_3, "\n".join([report, "questions not answered in the first three passages:", *misses])
