"""Knowledge-base sync on a local Dask cluster and on a local Ray: the same chunk ids as on threads.

Each backend starts its local cluster as ``env.submit(backend=...)`` does for every test
(the Dask adapter's LocalCluster with 2 worker processes, reused for the session; Ray with
``num_cpus=2``). The embedding model loads in the worker process that runs the embedder.
"""

from __future__ import annotations

import pytest

pytest.importorskip("sentence_transformers", reason="needs the recipes extra")
pytest.importorskip("langchain_text_splitters", reason="needs the recipes extra")

from sage_recipes.knowledge_base import KnowledgeBase  # noqa: E402
from tests.recipes.kb_helpers import indexed_chunk_ids, write_corpus  # noqa: E402

EXPECTED = {"ray.md#0", "windows.txt#0", "guides/sage_db.rst#0", "manual.pdf#0"}
OPTIONS = {"dask": {"n_workers": 2}, "ray": {"num_cpus": 2}}


@pytest.mark.parametrize("cluster", ["dask", "ray"])
def test_sync_runs_on_a_local_cluster(cluster, tmp_path, monkeypatch):
    pytest.importorskip({"dask": "distributed", "ray": "ray"}[cluster], reason=f"the {cluster} extra is not installed")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = write_corpus(tmp_path / "docs")
    kb = KnowledgeBase(folder, tmp_path / "index")
    report = kb.sync(cluster, **OPTIONS[cluster])
    assert report.ok and report.backend == cluster and report.added == 4
    assert indexed_chunk_ids(kb.db_path) == EXPECTED and report.chunks_written == 4
    (folder / "windows.txt").unlink()
    (folder / "ray.md").write_text("Ray actors host the stage instances of a SAGE job.")
    again = kb.sync(cluster, **OPTIONS[cluster])
    assert (again.changed, again.removed, again.chunks_written) == (1, 1, 1)
    assert indexed_chunk_ids(kb.db_path) == EXPECTED - {"windows.txt#0"}
    assert kb.ask("What hosts the stage instances?", k=1)["sources"] == ["ray.md"]
