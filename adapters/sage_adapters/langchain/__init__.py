"""LangChain interop, both directions.

- :func:`runnable_map` / :class:`RunnableMap`: any LangChain Runnable as a SAGE operator,
  one ``batch`` call per bundle, failures as dead letters.
- :class:`PipelineRunnable` / :func:`as_runnable`: a SAGE pipeline as a LangChain Runnable.
- :class:`SageDBVectorStore`: sage_db as a LangChain VectorStore (``as_retriever()`` too).
- :class:`MiniLMEmbeddings`: the shipped all-MiniLM-L6-v2 as LangChain Embeddings.
- :class:`MiniLMReranker`: SAGE's embedding reranker as a LangChain document compressor.

Needs ``langchain-core`` (``pip install -e '.[langchain]'``). See docs/langchain.md.

Holds every SAGE class that is a LangChain object (a Runnable, VectorStore, Embeddings or
document compressor) or that runs one as an operator. Layering: this package sits on top of
``sage_core``, ``sage_db`` and ``sage_recipes`` (the MiniLM models it wraps come from the
recipes) and nothing in them imports it. Must not hold pipeline steps or models of its own:
recipe steps that accept any LangChain object by duck typing (``LangChainEmbedder``,
``CompressorReranker``) live in ``sage_recipes``.
"""

from __future__ import annotations

try:
    import langchain_core  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the install
    msg = "sage_adapters.langchain needs langchain-core; install with `pip install -e '.[langchain]'`"
    raise ImportError(msg) from exc

from sage_adapters.langchain.embeddings import MiniLMEmbeddings
from sage_adapters.langchain.operators import RunnableMap, runnable_map
from sage_adapters.langchain.reranker import MiniLMReranker
from sage_adapters.langchain.runnable import PipelineRunnable, as_runnable
from sage_adapters.langchain.vectorstore import SageDBVectorStore

__all__ = ["MiniLMEmbeddings", "MiniLMReranker", "PipelineRunnable", "RunnableMap", "SageDBVectorStore", "as_runnable", "runnable_map"]
