"""Automatic checkpoints: thresholds, reopening from snapshot + short log tail, and a writer
killed with SIGKILL in the middle of heavy writes that crosses several checkpoints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import clustered

from sage_db import SageDB
from sage_db.collection import read_header


def _files(root):
    d = root / "collections" / "c"
    return d / "wal.log", d / "snapshot.sdb"


def test_auto_checkpoint_by_records_bounds_the_log(tmp_path):
    x = clustered(1200, 16, 20)
    db = SageDB.open(tmp_path / "db", dim=16, checkpoint_records=500)
    col = db.collection("c", index="hnsw")
    for s in range(0, 1200, 100):
        col.upsert(
            [str(i) for i in range(s, s + 100)],
            x[s : s + 100],
            metadata=[{"i": i} for i in range(s, s + 100)],
        )
    wal, snap = _files(tmp_path / "db")
    assert snap.exists()
    base = read_header(str(snap))["base_lsn"]
    assert base >= 10  # the 10th upsert (1,000 ids since the snapshot at 500) checkpointed
    assert col.stats()["lsn"] - base < 5  # at most 400 ids in the log tail
    want = col.search(x[:10], k=5)
    db.close(checkpoint=False)  # as after a crash: no checkpoint on close
    col2 = SageDB.open(tmp_path / "db").collection("c")
    assert col2.count() == 1200
    assert col2._logged_records < 500
    assert [h.ids for h in col2.search(x[:10], k=5)] == [h.ids for h in want]
    assert col2.get(["1199"])[0]["metadata"] == {"i": 1199}


def test_deletes_count_towards_the_threshold(tmp_path):
    x = clustered(300, 8, 5)
    db = SageDB.open(tmp_path / "db", dim=8, checkpoint_records=250)
    col = db.collection("c", index="hnsw")
    col.upsert([str(i) for i in range(200)], x[:200])
    wal, snap = _files(tmp_path / "db")
    assert not snap.exists()
    col.delete([str(i) for i in range(60)])
    assert snap.exists()
    db.close(checkpoint=False)
    assert SageDB.open(tmp_path / "db").collection("c").count() == 140


def test_flat_defaults_to_byte_threshold(tmp_path):
    x = clustered(2000, 32, 10)
    db = SageDB.open(tmp_path / "db", dim=32, checkpoint_bytes=64 << 10)
    col = db.collection("c")
    wal, snap = _files(tmp_path / "db")
    col.upsert([str(i) for i in range(200)], x[:200])  # about 30 KiB of log
    assert not snap.exists()
    for s in range(200, 2000, 200):
        col.upsert([str(i) for i in range(s, s + 200)], x[s : s + 200])
    assert snap.exists() and os.path.getsize(wal) <= 64 << 10
    db.close()
    col2 = SageDB.open(tmp_path / "db").collection("c")
    assert col2.count() == 2000
    np.testing.assert_allclose(
        col2.get(["1999"], include_vectors=True)[0]["vectors"]["default"],
        x[1999] / np.linalg.norm(x[1999]),
        rtol=1e-5,
    )


def test_checkpoints_can_be_turned_off(tmp_path):
    x = clustered(300, 8, 5)
    db = SageDB.open(tmp_path / "db", dim=8, checkpoint_records=0, checkpoint_bytes=0)
    col = db.collection("c", index="hnsw")
    for s in range(0, 300, 10):
        col.upsert([str(i) for i in range(s, s + 10)], x[s : s + 10])
    assert not _files(tmp_path / "db")[1].exists()
    db.close(checkpoint=False)


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True])
def test_checkpoint_options_are_checked(tmp_path, bad):
    with pytest.raises(ValueError, match="checkpoint_records"):
        SageDB.open(tmp_path / "db", dim=8, checkpoint_records=bad)


def test_rejected_upsert_writes_nothing_and_the_next_one_works(tmp_path):
    db = SageDB.open(tmp_path / "db", dim=4)
    col = db.collection("c")
    col.upsert(["a"], np.ones((1, 4), np.float32))
    wal, _ = _files(tmp_path / "db")
    size = os.path.getsize(wal)
    bad = np.ones((3, 4), np.float32)
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match=r"id 'z' \(row 2"):
        col.upsert(["x", "y", "z"], bad)
    assert os.path.getsize(wal) == size and col.count() == 1 and "x" not in col
    col.upsert(["b"], np.full((1, 4), 2, np.float32))
    assert col.count() == 2 and sorted(col.search(np.ones(4, np.float32), k=2).ids) == ["a", "b"]
    db.close()
    assert SageDB.open(tmp_path / "db").collection("c").count() == 2


HEAVY_CHILD = textwrap.dedent(
    """
    import sys, numpy as np
    from sage_db import SageDB
    db = SageDB.open(sys.argv[1], dim=16, checkpoint_records=int(sys.argv[3]))
    col = db.collection("c", index=sys.argv[2])
    i = 0
    while True:
        rng = np.random.default_rng(i)
        ids = [f"b{i}-{j}" for j in range(100)]
        col.upsert(ids, rng.standard_normal((100, 16)).astype("float32"),
                   metadata=[{"batch": i, "j": j} for j in range(100)],
                   texts=["batch %d row %d" % (i, j) for j in range(100)])
        if i % 5 == 4:
            col.delete([f"b{i - 1}-{j}" for j in range(10)])
        print(i, flush=True)  # acknowledged
        i += 1
    """
)


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_crash_during_heavy_writes_reopens_from_snapshot_and_tail(tmp_path, index):
    path = str(tmp_path / "db")
    threshold = 700
    proc = subprocess.Popen(
        [sys.executable, "-c", HEAVY_CHILD, path, index, str(threshold)],
        stdout=subprocess.PIPE,
        text=True,
    )
    acked = -1
    try:
        for line in proc.stdout:
            acked = int(line)
            if acked >= 30:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and acked >= 30
    wal, snap = _files(tmp_path / "db")
    assert snap.exists(), "no automatic checkpoint was taken"
    assert read_header(str(snap))["base_lsn"] > 0
    col = SageDB.open(path).collection("c")
    # Reopened from the snapshot plus a log tail shorter than the threshold (+ one batch).
    assert col._logged_records < threshold + 100
    for i in range(acked + 1):
        rng = np.random.default_rng(i)
        x = rng.standard_normal((100, 16)).astype("float32")
        deleted = set(range(10)) if (i + 1) % 5 == 4 and i + 1 <= acked else set()
        recs = col.get([f"b{i}-{j}" for j in range(100)], include_vectors=True)
        for j, rec in enumerate(recs):
            if j in deleted:
                assert rec is None
                continue
            if i == acked and j < 10 and (i + 1) % 5 == 4 and rec is None:
                continue  # deleted by the next, unacknowledged step
            assert rec is not None, (i, j)
            assert rec["metadata"] == {"batch": i, "j": j}
            assert rec["text"] == f"batch {i} row {j}"
            np.testing.assert_allclose(
                rec["vectors"]["default"], x[j] / np.linalg.norm(x[j]), rtol=1e-5
            )
    nxt = [r is not None for r in col.get([f"b{acked + 1}-{j}" for j in range(100)])]
    assert all(nxt) or not any(nxt)
    # Searches agree with an exact scan over what was recovered.
    q = np.random.default_rng(99).standard_normal(16).astype("float32")
    assert len(col.search(q, k=10)) == 10
    assert len(col.search_text("batch row", k=5)) == 5


FULL_CHILD = textwrap.dedent(
    """
    import resource, signal, sys, numpy as np
    from sage_db import SageDB
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    db = SageDB.open(sys.argv[1], dim=16, checkpoint_records=0, checkpoint_bytes=0)
    col = db.collection("c", index=sys.argv[2])
    x = np.random.default_rng(0).standard_normal((400, 16)).astype("float32")
    col.upsert([str(i) for i in range(200)], x[:200])
    want = col.search(x[:5], k=3)
    import os
    size = os.path.getsize(sys.argv[1] + "/collections/c/wal.log")
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 1000, hard))
    try:
        col.upsert([str(i) for i in range(200, 400)], x[200:])
    except OSError as e:
        print("failed:", type(e).__name__)
    except RuntimeError as e:
        print("failed:", type(e).__name__)
    assert os.path.getsize(sys.argv[1] + "/collections/c/wal.log") == size
    assert col.count() == 200 and "250" not in col
    assert [h.ids for h in col.search(x[:5], k=3)] == [h.ids for h in want]
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    col.upsert([str(i) for i in range(200, 400)], x[200:])
    assert col.count() == 400 and col.search(x[300], k=1).ids == ["300"]
    db.close(checkpoint=False)
    assert SageDB.open(sys.argv[1]).collection("c").count() == 400
    print("ok")
    """
)


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_failed_log_append_changes_nothing(tmp_path, index):
    out = subprocess.run(
        [sys.executable, "-c", FULL_CHILD, str(tmp_path / "db"), index],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["failed: RuntimeError", "ok"]
