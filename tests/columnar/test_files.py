"""Columnar file sources (``sage_core.columnar.files``): Parquet and CSV read as
``pyarrow.RecordBatch`` records on every backend, projection and filter pushdown, resuming
from a checkpoint without reading or emitting anything twice, and errors naming the file."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time

import pytest

pa = pytest.importorskip("pyarrow")

import pyarrow.compute as pc  # noqa: E402
import pyarrow.csv as pcsv  # noqa: E402
import pyarrow.dataset as ds  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from sage_core import FixedDelayRestart, LocalEnvironment, MapFunction, OperatorError  # noqa: E402
from sage_core.columnar import CsvSource, DatasetSource, ParquetSource  # noqa: E402

FILES, ROWS = 3, 400  # rows per file
N = FILES * ROWS


def table(first: int, n: int):
    ids = list(range(first, first + n))
    return pa.table({
        "id": pa.array(ids, pa.int64()),
        "user": [f"u{i % 7}" for i in ids],
        "value": pa.array([i * 0.5 for i in ids], pa.float64()),
    })


def expected():
    return pa.concat_tables([table(f * ROWS, ROWS) for f in range(FILES)])


def write_parquet(folder, row_group_size=64):
    """FILES files of ROWS rows, several row groups each (written out of sorted order)."""
    folder.mkdir(exist_ok=True)
    for f in reversed(range(FILES)):
        pq.write_table(table(f * ROWS, ROWS), folder / f"part-{f}.parquet", row_group_size=row_group_size)
    return str(folder / "*.parquet")


def write_csv(folder):
    folder.mkdir(exist_ok=True)
    for f in range(FILES):
        pcsv.write_csv(table(f * ROWS, ROWS), folder / f"part-{f}.csv")
    return str(folder / "*.csv")


def rows_of(batches, by="id"):
    assert all(isinstance(b, pa.RecordBatch) and b.num_rows > 0 for b in batches)
    return pa.Table.from_batches(batches).sort_by(by)


def drain(src):
    out = list(iter(src.execute, None))
    src.close()
    return out


class SlowBatches(MapFunction):
    """Passes batches on, sleeping 2 ms each (so that checkpoints happen mid-stream)."""

    def execute(self, batch):
        time.sleep(0.002)
        return batch


class CrashOnceOnId(MapFunction):
    """Raises once, on the batch holding row ``id`` (a marker file remembers)."""

    def __init__(self, row_id, marker):
        self.row_id, self.marker = row_id, marker

    def execute(self, batch):
        ids = batch.column("id").to_pylist()
        if self.row_id in ids and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            raise RuntimeError(f"crash at id={self.row_id}")
        return batch


# -- reading on every backend ------------------------------------------------------------
def test_parquet_source_gives_exactly_the_rows_of_the_files(backend, tmp_path):
    pattern = write_parquet(tmp_path / "events")
    env = LocalEnvironment(f"parquet_{backend}")
    env.from_batch(ParquetSource, pattern, batch_size=50, name="read").collect("out")
    result = env.submit(backend=backend)
    got = result.collected["out"]
    assert rows_of(got).equals(expected())
    assert max(b.num_rows for b in got) <= 50
    assert len(got) > FILES * (ROWS // 64)  # several row groups and batches per file
    assert result.metrics["read"].custom["rows_read"] == N


def test_csv_source_with_pyarrow_csv_options(backend, tmp_path):
    pattern = write_csv(tmp_path / "csv")
    env = LocalEnvironment(f"csv_{backend}")
    env.from_batch(
        CsvSource, pattern, batch_size=128, name="read",
        convert_options=pcsv.ConvertOptions(column_types={"id": pa.int64(), "value": pa.float64()}),
        read_options=pcsv.ReadOptions(block_size=4096),
    ).collect("out")
    result = env.submit(backend=backend)
    assert rows_of(result.collected["out"]).equals(expected())
    assert result.metrics["read"].custom["rows_read"] == N


def test_projection_and_filter_are_pushed_down(backend, tmp_path):
    """Columns and a filter (on a column and on a hive partition key) given to a
    pyarrow Dataset, which ships to the workers as an argument."""
    root = tmp_path / "by_user"
    pq.write_to_dataset(expected(), root, partition_cols=["user"], row_group_size=50)
    dataset = ds.dataset(root, format="parquet", partitioning="hive")
    wanted = (pc.field("user").isin(["u1", "u3"])) & (pc.field("value") >= 100.0)
    env = LocalEnvironment(f"pushdown_{backend}")
    env.from_batch(DatasetSource, dataset, columns=["id", "user"], filter=wanted, batch_size=32, name="read").collect("out")
    result = env.submit(backend=backend)
    got = result.collected["out"]
    want = expected().filter(wanted).select(["id", "user"])
    assert all(b.schema.names == ["id", "user"] for b in got)
    assert rows_of(got).select(["id"]).equals(want.sort_by("id").select(["id"]))
    assert rows_of(got).column("user").to_pylist() == want.sort_by("id").column("user").to_pylist()
    assert result.metrics["read"].custom["rows_read"] == want.num_rows


# -- resuming from a checkpoint ---------------------------------------------------------
def parquet_job(name, pattern, tmp_path):
    env = LocalEnvironment(name, strict=True, config={"initial_bundle": 2, "max_bundle": 4})
    env.enable_checkpointing(tmp_path / "ck", interval=0.02)
    batches = env.from_batch(ParquetSource, pattern, batch_size=16, name="read").map(SlowBatches)
    batches.map(CrashOnceOnId, 2 * N // 3, str(tmp_path / "crashed")).collect("out")
    return env


def test_parquet_job_resumes_after_a_failure_without_loss_or_repeat(backend, tmp_path):
    pattern = write_parquet(tmp_path / "events")
    with pytest.raises(OperatorError, match=f"crash at id={2 * N // 3}"):
        parquet_job("parquet_resume", pattern, tmp_path).submit(backend=backend)
    assert list((tmp_path / "ck").iterdir()), "the failed run left checkpoints behind"
    result = parquet_job("parquet_resume", pattern, tmp_path).submit(backend=backend)
    assert result.details["checkpoints"]["resumed_from"] is not None
    got = rows_of(result.collected["out"])  # collect() is exactly once across the resume
    assert got.column("id").to_pylist() == list(range(N))  # every row, each once
    assert got.equals(expected())
    # the source's counter goes on from the checkpoint: no row was emitted twice
    assert result.metrics["read"].custom["rows_read"] == N


def test_csv_job_restarted_by_its_strategy_resumes(backend, tmp_path):
    pattern = write_csv(tmp_path / "csv")
    env = LocalEnvironment("csv_restart", strict=True, config={"initial_bundle": 2, "max_bundle": 4})
    env.enable_checkpointing(tmp_path / "ck", interval=0.02)
    env.set_restart_strategy(FixedDelayRestart(attempts=1, delay=0.1))
    options = {"read_options": pcsv.ReadOptions(block_size=2048)}
    batches = env.from_batch(CsvSource, pattern, batch_size=16, name="read", **options).map(SlowBatches)
    batches.map(CrashOnceOnId, N // 2, str(tmp_path / "crashed")).collect("out")
    result = env.submit(backend=backend)
    assert result.details["restarts"] == 1
    assert result.details["checkpoints"]["resumed_from"] is not None
    assert rows_of(result.collected["out"]).equals(expected())
    assert result.metrics["read"].custom["rows_read"] == N


class CountingSource(ParquetSource):
    """Records which (file, row group) units it reads."""

    def _read(self, fragment, unit, path):
        self.units_read = [*getattr(self, "units_read", []), (os.path.basename(path), unit)]
        return super()._read(fragment, unit, path)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_snapshot_and_restore_continue_after_the_last_batch(tmp_path, fmt):
    pattern = write_parquet(tmp_path / "p") if fmt == "parquet" else write_csv(tmp_path / "c")

    def make():
        return DatasetSource(pattern, batch_size=40, filter=pc.field("value") != 10.0)

    whole = drain(make())
    assert pa.Table.from_batches(whole).num_rows == N - 1
    for cut in range(len(whole) + 1):
        first = make()
        head = [first.execute() for _ in range(cut)]
        state = pickle.loads(pickle.dumps(first.snapshot()))
        first.close()
        again = make()
        again.restore(state)
        assert pa.Table.from_batches(head + drain(again)).equals(pa.Table.from_batches(whole)), cut
    # a file that now matches the pattern (and sorts first) does not shift a resumed source
    first = make()
    head = [first.execute() for _ in range(5)]
    state = first.snapshot()
    first.close()
    folder = tmp_path / ("p" if fmt == "parquet" else "c")
    src = sorted(os.listdir(folder))[0]
    (folder / f"-new{os.path.splitext(src)[1]}").write_bytes((folder / src).read_bytes())
    again = make()
    again.restore(state)
    assert pa.Table.from_batches(head + drain(again)).equals(pa.Table.from_batches(whole))


def test_restore_skips_to_the_row_group_it_had_reached(tmp_path):
    pattern = write_parquet(tmp_path / "p", row_group_size=100)  # 4 row groups per file
    first = ParquetSource(pattern, batch_size=30)
    # batches never span row groups: 30 + 30 + 30 + 10 rows from each, 16 batches per file
    head = [first.execute() for _ in range(16 + 4 + 2)]  # file 1, row group 1, 60 rows in
    state = first.snapshot()
    assert (state["file_index"], state["unit"], state["rows"]) == (1, 1, 60)
    again = CountingSource(pattern, batch_size=30)
    again.restore(state)
    rest = drain(again)
    assert again.units_read[0] == ("part-1.parquet", 1)  # nothing before it was read again
    assert len(again.units_read) == 3 + 4  # the rest of file 1, then file 2
    assert rest[0].column("id")[0].as_py() == ROWS + 100 + 60
    assert pa.Table.from_batches(head + rest).equals(expected())


# -- errors ----------------------------------------------------------------------------------
def test_missing_and_unreadable_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="input file '/nonexistent/x.parquet' does not exist"):
        ParquetSource("/nonexistent/x.parquet")
    with pytest.raises(FileNotFoundError, match="no file matches the pattern '/nonexistent/"):
        CsvSource("/nonexistent/*.csv")
    with pytest.raises(ValueError, match="cannot tell the format of .*notes.txt"):
        (tmp_path / "notes.txt").write_text("x")
        DatasetSource(str(tmp_path / "notes.txt"))

    pattern = write_parquet(tmp_path / "events")
    (tmp_path / "events" / "part-9.parquet").write_bytes(b"this is not parquet")
    env = LocalEnvironment("unreadable")
    env.from_batch(ParquetSource, pattern, name="read").collect("out")
    with pytest.raises(OperatorError, match=r"part-9\.parquet: cannot be read as parquet"):
        env.submit()

    env = LocalEnvironment("missing")
    env.from_batch(ParquetSource, str(tmp_path / "gone.parquet"), name="read").collect("out")
    with pytest.raises(FileNotFoundError, match=r"gone\.parquet' does not exist"):
        env.submit()


def test_arguments_pickle_and_options_are_checked(tmp_path):
    write_parquet(tmp_path / "events")
    dataset = ds.dataset(tmp_path / "events", format="parquet")
    args = (dataset,), {"columns": ["id"], "filter": pc.field("id") > 5}
    args2 = pickle.loads(pickle.dumps(args))
    assert pa.Table.from_batches(drain(DatasetSource(*args2[0], **args2[1]))).num_rows == N - 6
    with pytest.raises(ValueError, match="a Dataset already has its format"):
        DatasetSource(dataset, format="parquet")
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        ParquetSource(str(tmp_path / "events"), batch_size=0)
    with pytest.raises(TypeError, match="ParquetFileFormat"):
        ParquetSource(str(tmp_path / "events"), no_such_option=1)


def test_the_core_does_not_import_pyarrow():
    code = "import sys, sage_core, sage_core.columnar; print('pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
