"""A user's pipeline module that lives next to the user's script, not installed anywhere."""

import sys

import wc_helpers

from sage_core import MapFunction


class Count(MapFunction):
    """(word, weight, whether this module was imported by name where it runs)."""

    def execute(self, word):
        return (word, wc_helpers.weight(word), "wc_pipeline" in sys.modules)


def first_letter(word):
    return word[0]
