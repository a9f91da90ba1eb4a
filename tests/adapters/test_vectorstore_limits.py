"""The LangChain store passes k and filter through sage_db's limits: k never sizes memory."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_core", reason="the langchain extra is not installed")

from langchain_core.embeddings import DeterministicFakeEmbedding  # noqa: E402

from sage_adapters.langchain import SageDBVectorStore  # noqa: E402


@pytest.fixture
def store(tmp_path):
    s = SageDBVectorStore(DeterministicFakeEmbedding(size=16), str(tmp_path / "db"))
    s.add_texts([f"document {i}" for i in range(20)], [{"n": i % 2} for i in range(20)])
    yield s
    s.close()


def test_k_beyond_the_store_returns_every_document(store):
    assert len(store.similarity_search("document", k=10**8)) == 20
    assert len(store.similarity_search("document", k=10**8, filter={"n": 1})) == 10
    assert len(store.hybrid_search("document", k=10**8)) == 20
    assert len(store.as_retriever(search_kwargs={"k": 10**9}).invoke("document")) == 20


@pytest.mark.parametrize("k", [10**12, 2**63])
def test_absurd_k_is_refused_naming_k(store, k):
    with pytest.raises(ValueError, match=rf"^k={k} is beyond"):
        store.similarity_search("document", k=k)
    with pytest.raises(ValueError, match=rf"^k={k} is beyond"):
        store.hybrid_search("document", k=k)


def test_filter_that_is_not_a_dict_names_filter(store):
    for call in (store.similarity_search, store.hybrid_search):
        with pytest.raises(TypeError, match=r"filter must be a dict such as \{'topic': 'storage'\}.*'n = 1'"):
            call("document", filter="n = 1")
