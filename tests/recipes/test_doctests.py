"""The examples in the recipe and LangChain modules' docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

# module -> the optional package its examples need
MODULES = {
    "sage_recipes.batching": None,
    "sage_recipes.chunking": "langchain_text_splitters",
    "sage_recipes.documents": None,
    "sage_recipes.folder_watch": None,
    "sage_recipes.embedding": "langchain_core",
    "sage_recipes.generation": None,
    "sage_recipes.prompting": None,
    "sage_recipes.sources": None,
    "sage_recipes.io.files": None,
    "sage_recipes.io.api": None,
    "sage_recipes.io.terminal": None,
    "sage_recipes.io.database": None,
    "sage_recipes.evaluation": "sacrebleu",
    "sage_recipes.reranking": "sentence_transformers",
    "sage_recipes.agents": "langchain_core",
    "sage_recipes.paths": None,
    "sage_recipes.extractive": None,
    "sage_recipes.markdown_sections": "langchain_text_splitters",
    "sage_recipes.document_index": "onnxruntime",
    "sage_recipes.onnx_embedding": "onnxruntime",
    "sage_adapters.langchain.operators": "langchain_core",
    "sage_adapters.langchain.runnable": "langchain_core",
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_docstring_examples(name):
    if MODULES[name]:
        pytest.importorskip(MODULES[name])
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
