"""The examples in sage_flow's docstrings run and print what they show."""

from __future__ import annotations

import doctest

import pytest

import sage_flow
import sage_flow.aggregate
import sage_flow.operator
import sage_flow.windows


@pytest.mark.parametrize("module", [sage_flow, sage_flow.aggregate, sage_flow.operator, sage_flow.windows])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
