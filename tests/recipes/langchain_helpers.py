"""Module-level pieces for LangChain tests (importable by Dask workers)."""

from __future__ import annotations

import os


def shout(text: str) -> str:
    if "boom" in text:
        raise ValueError(f"cannot shout {text!r}")
    return f"{text.upper()}! (pid {os.getpid()})"
