"""Checkpoint storage, configuration errors, and a killed driver resumed from its checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from sage_core import (
    CheckpointError,
    DirectoryStorage,
    LocalEnvironment,
    OperatorError,
    SourceFunction,
    SQLiteStorage,
    StopSignal,
)
from tests.pipelines import ClickEvents, CrashOnceAt

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "make", [DirectoryStorage, lambda p: SQLiteStorage(p / "kv.db")], ids=["dir", "sqlite"]
)
def test_storage_round_trip(make, tmp_path):
    store = make(tmp_path / "s")
    assert store.get("job/1") is None
    store.put("job/1", b"one")
    store.put("job/2", b"two")
    store.put("other/1", b"x")
    store.put("job/1", b"ONE")  # replaced
    assert store.get("job/1") == b"ONE"
    assert store.keys("job/") == ["job/1", "job/2"]
    store.delete("job/1")
    store.delete("job/missing")  # deleting a missing key is fine
    assert store.keys("job/") == ["job/2"]
    again = make(tmp_path / "s")  # a new handle sees the durable state
    assert again.get("job/2") == b"two"


def test_bad_checkpoint_settings_are_rejected(tmp_path):
    env = LocalEnvironment("bad")
    with pytest.raises(ValueError, match="interval"):
        env.enable_checkpointing(tmp_path, interval=0)
    with pytest.raises(TypeError, match="storage must be"):
        env.enable_checkpointing(42)


def crashing_job(name, store, marker, parallelism=1):
    env = LocalEnvironment(name, strict=True, config={"initial_bundle": 8, "max_bundle": 32})
    env.enable_checkpointing(store, interval=0.02)
    env.from_source(ClickEvents, 1500).map(
        CrashOnceAt, "seq", 1000, marker, parallelism=parallelism
    ).collect("out")
    return env


def test_changed_pipeline_does_not_resume_from_old_checkpoint(tmp_path):
    marker = str(tmp_path / "crashed")
    with pytest.raises(OperatorError):
        crashing_job("shape", tmp_path / "ck", marker).submit()
    with pytest.raises(CheckpointError, match="different pipeline named 'shape'"):
        crashing_job("shape", tmp_path / "ck", marker, parallelism=2).submit()
    # resume=False starts afresh and, once complete, removes the old checkpoints
    env = crashing_job("shape", tmp_path / "ck", marker, parallelism=2)
    env.enable_checkpointing(tmp_path / "ck", interval=0.02, resume=False)
    result = env.submit()
    assert result.details["checkpoints"]["resumed_from"] is None
    assert sorted(r["seq"] for r in result.collected["out"]) == list(range(1, 1501))
    assert list((tmp_path / "ck").iterdir()) == []


def test_foreign_file_is_not_loaded(tmp_path):
    DirectoryStorage(tmp_path).put("foreign/000000000001", b"not a checkpoint")
    env = LocalEnvironment("foreign")
    env.enable_checkpointing(tmp_path)
    env.from_batch([1]).collect("out")
    with pytest.raises(CheckpointError, match="is not a SAGE checkpoint"):
        env.submit()


class SocketLikeSource(SourceFunction):
    """Holds something that cannot be pickled, and does not say how to checkpoint it."""

    def __init__(self):
        self.sent = 0

    def open(self):
        self.handle = open(os.devnull)  # noqa: SIM115

    def execute(self):
        self.sent += 1
        time.sleep(0.001)
        return StopSignal if self.sent > 200 else self.sent


def test_unpicklable_source_state_names_the_stage(tmp_path):
    env = LocalEnvironment("unpicklable")
    env.enable_checkpointing(tmp_path, interval=0.01)
    env.from_source(SocketLikeSource, name="socket").collect("out")
    with pytest.raises(CheckpointError, match=r"stage 'socket.*define snapshot\(\)/restore\(\)"):
        env.submit()


def test_cancelled_job_keeps_its_checkpoint_and_resumes(tmp_path):
    def job():
        env = LocalEnvironment("cancelled", config={"initial_bundle": 8, "max_bundle": 32})
        env.enable_checkpointing(tmp_path, interval=0.02)
        env.from_source(ClickEvents, 3000).collect("out")
        return env

    handle = job().submit(autostop=False)
    time.sleep(0.3)
    handle.cancel()
    first = handle.wait()
    assert first.cancelled and first.details["checkpoints"]["saved"] > 0
    assert len(first.collected["out"]) < 3000
    result = job().submit()
    assert [r["seq"] for r in result.collected["out"]] == list(range(1, 3001))


def _kill_checkpointed_job(store, out, n):
    """Start tests.core.checkpointed_job, SIGKILL it after two checkpoints; returns its command."""
    cmd = [sys.executable, "-m", "tests.core.checkpointed_job", str(store), str(out), str(n)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_job_env(), stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        store.exists() and len(DirectoryStorage(store).keys()) >= 2 and out.stat().st_size > 0
    ):
        time.sleep(0.05)
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert 0 < len(out.read_text().splitlines()) < n, "killed mid-run"
    return cmd


def _job_env():
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _assert_running_counts_exactly_once(out, n):
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    per_user = Counter(f"u{i % 7}" for i in range(1, n + 1))
    assert Counter(tuple(r) for r in rows) == Counter(
        (u, c) for u, total in per_user.items() for c in range(1, total + 1)
    )


def test_killed_driver_resumes_with_exactly_once_jsonl_output(tmp_path):
    store, out, n = tmp_path / "ck", tmp_path / "out.jsonl", 6000
    cmd = _kill_checkpointed_job(store, out, n)
    done = subprocess.run(
        cmd, cwd=ROOT, env=_job_env(), capture_output=True, text=True, timeout=120, check=True
    )
    assert "resumed_from None" not in done.stdout
    _assert_running_counts_exactly_once(out, n)


def test_checkpoint_of_an_older_format_is_refused_by_name(tmp_path):
    DirectoryStorage(tmp_path).put("older/000000000001", b"SAGE-CHECKPOINT-1\n" + b"\x80\x05N.")
    env = LocalEnvironment("older")
    env.enable_checkpointing(tmp_path)
    env.from_batch([1]).collect("out")
    with pytest.raises(CheckpointError, match="older SAGE checkpoint format"):
        env.submit()


def _crash_with_checkpoints(name, store, marker):
    with pytest.raises(OperatorError):
        crashing_job(name, store, marker).submit()
    keys = DirectoryStorage(store).keys(f"{name}/")
    assert len(keys) == 2, keys  # keep=2: the newest and one spare
    return keys


def _resume(name, store, marker):
    result = crashing_job(name, store, marker).submit()
    assert sorted(r["seq"] for r in result.collected["out"]) == list(range(1, 1501))
    return result


def test_damaged_newest_checkpoint_falls_back_to_the_older_one(tmp_path):
    store, marker = tmp_path / "ck", str(tmp_path / "crashed")
    older, newest = _crash_with_checkpoints("heal", store, marker)
    path = DirectoryStorage(store)._file(newest)
    path.write_bytes(path.read_bytes()[:-40])  # cut short, as by a full disk
    with pytest.warns(RuntimeWarning, match=rf"unreadable checkpoint.*{newest}.*older checkpoint '{older}'"):
        result = _resume("heal", store, marker)
    assert result.details["checkpoints"]["resumed_from"] == int(older.split("/")[1])


def test_flipped_byte_in_a_stored_number_is_caught_by_the_checksum(tmp_path):
    store, marker = tmp_path / "ck", str(tmp_path / "crashed")
    older, newest = _crash_with_checkpoints("flip", store, marker)
    path = DirectoryStorage(store)._file(newest)
    blob = bytearray(path.read_bytes())
    at = blob.index(b"\x8c\x02id\x94K") + 6  # the pickled checkpoint number (BININT1)
    blob[at] ^= 0x10  # still a valid pickle, with another number
    path.write_bytes(bytes(blob))
    with pytest.warns(RuntimeWarning, match=rf"{newest}.*SHA-256 checksum"):
        result = _resume("flip", store, marker)
    assert result.details["checkpoints"]["resumed_from"] == int(older.split("/")[1])


def test_no_readable_checkpoint_stops_with_every_reason(tmp_path):
    store, marker = tmp_path / "ck", str(tmp_path / "crashed")
    keys = _crash_with_checkpoints("none", store, marker)
    for key in keys:
        DirectoryStorage(store).put(key, b"SAGE-CHECKPOINT-3\n" + b"\0" * 40)
    with pytest.raises(CheckpointError, match=rf"no checkpoint .* can be read: .*{keys[1]}.*{keys[0]}"):
        crashing_job("none", store, marker).submit()


def test_killed_driver_with_damaged_newest_checkpoint_writes_jsonl_exactly_once(tmp_path):
    store, out, n = tmp_path / "ck", tmp_path / "out.jsonl", 6000
    cmd = _kill_checkpointed_job(store, out, n)
    older, newest = DirectoryStorage(store).keys("killed-driver/")[-2:]
    path = DirectoryStorage(store)._file(newest)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))

    done = subprocess.run(
        cmd, cwd=ROOT, env=_job_env(), capture_output=True, text=True, timeout=120, check=True
    )
    assert f"resumed_from {int(older.split('/')[1])}" in done.stdout
    assert "unreadable checkpoint(s)" in done.stderr and newest in done.stderr
    _assert_running_counts_exactly_once(out, n)
