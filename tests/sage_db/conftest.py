"""Shared data generators for the sage_db tests (no fixtures with side effects on the repo)."""

from __future__ import annotations

import numpy as np
import pytest


def clustered(n: int, dim: int, centres: int, seed: int = 0, spread: float = 0.15) -> np.ndarray:
    """Gaussian mixture: the kind of data graph indexes are built for."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim)).astype(np.float32)
    labels = rng.integers(0, centres, n)
    return (c[labels] + spread * rng.standard_normal((n, dim))).astype(np.float32)


def brute_force(
    x: np.ndarray, q: np.ndarray, k: int, metric: str, allowed: np.ndarray | None = None
):
    """Reference top-k: indices and scores, NumPy only."""
    if metric == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    if metric == "l2":
        s = ((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    else:
        s = q @ x.T
    if allowed is not None:
        s = np.where(allowed[None, :], s, np.inf if metric == "l2" else -np.inf)
    order = np.argsort(s if metric == "l2" else -s, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(s, order, 1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
