"""Durability: reopen, checkpoints, a writer killed with SIGKILL, torn and corrupt files,
the writer lock, readers following the writer, and pickling."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import clustered

from sage_db import SageDB, SageDBCorruptionError, SageDBLockedError
from sage_db.collection import read_header


def _fill(col, n=300, d=8, seed=0, start=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    ids = [f"d{i}" for i in range(start, start + n)]
    col.upsert(
        ids,
        x,
        metadata=[{"i": i} for i in range(start, start + n)],
        texts=[f"text {i}" for i in range(n)],
    )
    return ids, x


def _state(col, probe):
    h = col.search(probe, k=5)
    return col.count(), h.ids, col.get(["d1", "d2"]), col.search_text("text", k=3).ids


@pytest.mark.parametrize("index", ["flat", "hnsw", "ivf"])
def test_reopen_restores_everything(tmp_path, index):
    params = {"nlist": 4} if index == "ivf" else {}
    db = SageDB.open(tmp_path / "db", dim=8)
    col = db.collection("c", metric="l2", index=index, **params)
    _, x = _fill(col)
    col.delete(["d0"])
    before = _state(col, x[3])
    db.close()
    db2 = SageDB.open(tmp_path / "db")
    assert _state(db2.collection("c"), x[3]) == before
    db2.collection("c").checkpoint()
    db2.collection("c").upsert(["extra"], x[:1] + 1)
    db2.close()
    db3 = SageDB.open(tmp_path / "db", mode="r")
    col3 = db3.collection("c")
    assert col3.count() == before[0] + 1 and "extra" in col3
    assert col3.search(x[3], k=5).ids == before[1]


def test_checkpoint_stores_hnsw_graph(tmp_path):
    x = clustered(2000, 16, 20)
    db = SageDB.open(tmp_path / "db", dim=16)
    col = db.collection("c", index="hnsw")
    col.upsert([str(i) for i in range(2000)], x)
    col.checkpoint()
    snap = tmp_path / "db" / "collections" / "c" / "snapshot.sdb"
    assert read_header(str(snap))["config"]["index"] == "hnsw"
    assert (
        os.path.getsize(tmp_path / "db" / "collections" / "c" / "wal.log")
        == read_header(str(tmp_path / "db" / "collections" / "c" / "wal.log"))["size"]
    )
    want = col.search(x[:20], k=5)
    db.close()
    got = SageDB.open(tmp_path / "db", mode="r").collection("c").search(x[:20], k=5)
    assert [h.ids for h in got] == [h.ids for h in want]


CHILD = textwrap.dedent(
    """
    import sys, numpy as np
    from sage_db import SageDB
    col = SageDB.open(sys.argv[1], dim=16).collection("c", index=sys.argv[2])
    i = 0
    while True:
        rng = np.random.default_rng(i)
        ids = [f"b{i}-{j}" for j in range(10)]
        col.upsert(ids, rng.standard_normal((10, 16)).astype("float32"),
                   metadata=[{"batch": i}] * 10, texts=["batch %d" % i] * 10)
        if i % 7 == 3:
            col.delete([f"b{i - 1}-0"])
        print(i, flush=True)  # acknowledged
        i += 1
    """
)


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_acknowledged_writes_survive_sigkill(tmp_path, index):
    path = str(tmp_path / "db")
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, path, index], stdout=subprocess.PIPE, text=True
    )
    acked = -1
    try:
        for line in proc.stdout:
            acked = int(line)
            if acked >= 40:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and acked >= 40
    col = SageDB.open(path).collection("c")
    for i in range(acked + 1):
        rng = np.random.default_rng(i)
        x = rng.standard_normal((10, 16)).astype("float32")
        deleted = {f"b{i}-0"} if (i + 1) % 7 == 3 and i + 1 <= acked else set()
        for j in range(10):
            rid = f"b{i}-{j}"
            if rid in deleted:
                assert col.get([rid]) == [None]
                continue
            if i == acked and j == 0 and (i + 1) % 7 == 3 and col.get([rid]) == [None]:
                continue  # deleted by the next, unacknowledged step
            rec = col.get([rid], include_vectors=True)[0]
            assert rec is not None, rid
            assert rec["metadata"] == {"batch": i}
            v = x[j] / np.linalg.norm(x[j])
            np.testing.assert_allclose(rec["vectors"]["default"], v, rtol=1e-5)
    # A batch after the last acknowledged one is either complete or absent.
    nxt = [col.get([f"b{acked + 1}-{j}"])[0] is not None for j in range(10)]
    assert all(nxt) or not any(nxt)


def _wal(tmp_path):
    return tmp_path / "db" / "collections" / "c" / "wal.log"


def test_torn_tail_is_cut_with_warning(tmp_path):
    db = SageDB.open(tmp_path / "db", dim=8)
    _, x = _fill(db.collection("c"), n=50)
    db.collection("c").upsert(["last"], x[:1])
    db.close()
    wal = _wal(tmp_path)
    size = os.path.getsize(wal)
    with open(wal, "r+b") as f:  # a torn final append: the record is cut in half
        f.truncate(size - 20)
    with pytest.warns(RuntimeWarning, match="unfinished write"):
        db = SageDB.open(tmp_path / "db")
        col = db.collection("c")
    assert col.count() == 50 and "last" not in col
    col.upsert(["after"], x[:1])
    db.close()
    col = SageDB.open(tmp_path / "db").collection("c")
    assert col.count() == 51 and "after" in col


def test_garbage_tail_is_cut(tmp_path):
    db = SageDB.open(tmp_path / "db", dim=8)
    _fill(db.collection("c"), n=20)
    db.close()
    with open(_wal(tmp_path), "ab") as f:
        f.write(b"\x00" * 100)
    with pytest.warns(RuntimeWarning):
        assert SageDB.open(tmp_path / "db").collection("c").count() == 20


def test_corrupt_middle_record_raises_then_repairs(tmp_path):
    db = SageDB.open(tmp_path / "db", dim=8)
    col = db.collection("c")
    _fill(col, n=10, start=0)
    first_end = os.path.getsize(_wal(tmp_path))
    _fill(col, n=10, start=10, seed=1)
    _fill(col, n=10, start=20, seed=2)
    db.close()
    with open(_wal(tmp_path), "r+b") as f:
        f.seek(first_end + 40)
        b = f.read(1)
        f.seek(first_end + 40)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(SageDBCorruptionError, match=f"offset {first_end}.*repair=True"):
        SageDB.open(tmp_path / "db").collection("c")
    with pytest.raises(SageDBCorruptionError):
        SageDB.open(tmp_path / "db", mode="r").collection("c")
    with pytest.warns(RuntimeWarning, match="repair=True cut the log"):
        col = SageDB.open(tmp_path / "db", repair=True).collection("c")
    assert col.count() == 10 and "d9" in col and "d10" not in col


@pytest.mark.parametrize("damage", ["flip", "truncate", "magic"])
def test_damaged_snapshot_gives_clear_error(tmp_path, damage):
    db = SageDB.open(tmp_path / "db", dim=8)
    _fill(db.collection("c"), n=100)
    db.collection("c").checkpoint()
    db.close()
    snap = tmp_path / "db" / "collections" / "c" / "snapshot.sdb"
    data = bytearray(snap.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
    elif damage == "truncate":
        data = data[: len(data) - 30]
    else:
        data[:8] = b"NOTSAGE!"
    snap.write_bytes(bytes(data))
    with pytest.raises(SageDBCorruptionError, match="snapshot|sage_db file"):
        SageDB.open(tmp_path / "db").collection("c")


def test_single_writer_lock(tmp_path):
    db = SageDB.open(tmp_path / "db", dim=4)
    with pytest.raises(SageDBLockedError, match="mode='r'"):
        SageDB.open(tmp_path / "db")
    db.close()
    SageDB.open(tmp_path / "db").close()


def test_reader_refresh_follows_writer_across_checkpoints(tmp_path):
    w = SageDB.open(tmp_path / "db", dim=8)
    col = w.collection("c")
    _fill(col, n=30)
    r = SageDB.open(tmp_path / "db", mode="r")
    rc = r.collection("c")
    assert rc.count() == 30
    _fill(col, n=5, start=30, seed=3)
    col.delete(["d0"])
    assert rc.count() == 30
    assert r.refresh() == 2 and rc.count() == 34 and "d0" not in rc
    col.checkpoint()
    _fill(col, n=5, start=35, seed=4)
    rc.refresh()
    assert rc.count() == 39 and "d39" in rc
    with pytest.raises(Exception, match="read-only"):
        rc.upsert(["x"], np.zeros((1, 8), np.float32))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_every_protocol(tmp_path, protocol):
    db = SageDB.open(tmp_path / "db", dim=8)
    col = db.collection("c", metric="l2")
    _, x = _fill(col, n=100)
    want = col.search(x[:5], k=4)
    by_path = pickle.loads(pickle.dumps(col, protocol=protocol))
    assert by_path.writable is False
    frozen = pickle.loads(pickle.dumps(db.frozen(), protocol=protocol))
    assert frozen.mode == "memory" and frozen.path is None
    for other in (by_path, frozen.collection("c")):
        got = other.search(x[:5], k=4)
        assert [h.ids for h in got] == [h.ids for h in want]
        np.testing.assert_allclose(
            np.stack([h.scores for h in got]), np.stack([h.scores for h in want]), rtol=1e-5
        )
    ref = pickle.loads(pickle.dumps(db.ref("r"), protocol=protocol))
    assert ref.open().collection("c").count() == 100


def test_unpickle_rejects_unknown_version():
    from sage_db.database import _restore

    with pytest.raises(Exception, match="Unpickle error"):
        _restore({"ser_version": 99, "kind": "path", "path": "/nowhere", "mode": "r"})


def test_collections_listed_and_dropped(tmp_path):
    db = SageDB.open(tmp_path / "db", dim=4)
    db.collection("a")
    db.collection("b", metric="ip")
    assert db.collections() == ["a", "b"]
    db.drop_collection("a")
    assert db.collections() == ["b"]
    with pytest.raises(KeyError):
        db.drop_collection("a")
    with pytest.raises(ValueError, match="exists with metric 'ip'"):
        db.collection("b", metric="l2")


def test_close_checkpoints_hnsw_but_not_flat(tmp_path):
    db = SageDB.open(tmp_path / "db", dim=8)
    _fill(db.collection("g", index="hnsw"), n=50)
    _fill(db.collection("f", index="flat"), n=50)
    db.close()
    base = tmp_path / "db" / "collections"
    assert (base / "g" / "snapshot.sdb").exists()
    assert not (base / "f" / "snapshot.sdb").exists()
    assert SageDB.open(tmp_path / "db", mode="r").collection("g").count() == 50


def test_reader_ignores_a_record_being_written(tmp_path):
    db = SageDB.open(tmp_path / "db", dim=8)
    col = db.collection("c")
    _fill(col, n=20)
    wal = _wal(tmp_path)
    good = os.path.getsize(wal)
    _fill(col, n=5, start=20, seed=1)
    full = wal.read_bytes()
    wal.write_bytes(full[: good + (len(full) - good) // 2])  # as if the writer were mid-append
    reader = SageDB.open(tmp_path / "db", mode="r").collection("c")
    assert reader.count() == 20
    wal.write_bytes(full)
    assert reader.refresh() == 1 and reader.count() == 25


def test_threads_share_a_handle(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    db = SageDB.open(tmp_path / "db", dim=8)
    col = db.collection("c", index="hnsw")
    ids, x = _fill(col, n=200)

    def read(i):
        return col.search(x[i % 200], k=3, where={"i": {"$gte": 0}}).ids[0]

    def write(i):
        col.upsert([f"w{i}"], x[i : i + 1] * 2, metadata=[{"i": -1}])
        return None

    with ThreadPoolExecutor(4) as pool:
        reads = list(pool.map(read, range(100)))
        list(pool.map(write, range(50)))
    assert reads == [f"d{i % 200}" for i in range(100)]
    assert col.count() == 250
