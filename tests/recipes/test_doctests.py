"""The examples in the recipe and LangChain modules' docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "sage_recipes.batching",
    "sage_recipes.chunking",
    "sage_recipes.embedding",
    "sage_recipes.generation",
    "sage_recipes.prompting",
    "sage_recipes.sources",
    "sage_adapters.langchain.operators",
    "sage_adapters.langchain.runnable",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
