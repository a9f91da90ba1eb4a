"""The writer lock: released when handles are dropped or opening fails, held while in use."""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest

from sage_db import SageDB, SageDBCorruptionError, SageDBLockedError


@pytest.fixture
def no_gc():
    """Releasing must not wait for the cycle collector."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def _fill(db):
    col = db.collection("c", index="hnsw")
    col.upsert(["a", "b"], np.eye(4, dtype=np.float32)[:2], metadata=[{"x": 1}, {"x": 2}])
    col.search(np.ones(4, np.float32), where={"x": 1})
    return col


def test_dropping_the_handle_releases_the_lock(tmp_path, no_gc):
    db = SageDB.open(tmp_path / "db", dim=4)
    col = _fill(db)
    del db, col
    again = SageDB.open(tmp_path / "db")
    assert again.collection("c").count() == 2
    again.close()


def test_a_collection_outliving_its_handle_keeps_the_lock(tmp_path, no_gc):
    col = _fill(SageDB.open(tmp_path / "db", dim=4))
    with pytest.raises(SageDBLockedError, match=f"pid {os.getpid()}"):
        SageDB.open(tmp_path / "db")
    col.upsert(["c"], np.ones((1, 4), np.float32))  # still the writer
    del col
    with SageDB.open(tmp_path / "db") as db:
        assert db.collection("c").count() == 3


def test_a_collection_outliving_its_handle_still_pickles(tmp_path):
    import pickle

    col = _fill(SageDB.open(tmp_path / "db", dim=4))
    copy = pickle.loads(pickle.dumps(col))
    assert copy.count() == 2 and not copy.writable


@pytest.mark.parametrize(
    "content", [b'{"format": "sage_db", "vers', b"\xff\xfe garbage", b"[1, 2]", b'{"format": "x"}']
)
def test_garbled_manifest_names_the_file_and_releases_the_lock(tmp_path, content):
    SageDB.open(tmp_path / "db", dim=4).close()
    manifest = tmp_path / "db" / "SAGEDB"
    manifest.write_bytes(content)
    with pytest.raises(SageDBCorruptionError, match=rf"{manifest}.*restore the manifest from a backup"):
        SageDB.open(tmp_path / "db")
    manifest.write_text('{"format": "sage_db", "version": 1, "dim": 4}')
    with SageDB.open(tmp_path / "db") as db:  # the failed open left no lock behind
        assert db.dim == 4
