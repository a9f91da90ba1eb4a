"""I/O operators: file sources with checkpoints, the HTTP source against a real local server,
and the terminal, JSONL and SQLite sinks."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import pytest

from sage_core import LocalEnvironment, OperatorError, StopSignal
from sage_recipes.io import (
    CsvSource,
    HttpJsonSource,
    JsonlSink,
    JsonlSource,
    SQLiteSink,
    TerminalSink,
    TextFileSource,
)
from tests.pipelines import CrashOnceAt, Pause
from tests.recipes.api_server import ITEMS, ApiServer


def _drain(src):
    out = list(iter(src.execute, None))
    src.close()
    return out


# -- file sources ----------------------------------------------------------------------
def test_text_source_per_line_and_per_file(tmp_path):
    (tmp_path / "a.txt").write_text("alpha\n\nbeta\r\n")
    (tmp_path / "b.txt").write_text("gamma")  # no final newline
    lines = _drain(TextFileSource(str(tmp_path / "*.txt")))
    a, b = str(tmp_path / "a.txt"), str(tmp_path / "b.txt")
    assert lines == [
        {"id": f"{a}:1", "text": "alpha", "metadata": {"path": a, "line": 1}},
        {"id": f"{a}:3", "text": "beta", "metadata": {"path": a, "line": 3}},
        {"id": f"{b}:1", "text": "gamma", "metadata": {"path": b, "line": 1}},
    ]
    docs = _drain(TextFileSource([b, a], per="file"))
    assert [(d["id"], d["text"]) for d in docs] == [(b, "gamma"), (a, "alpha\n\nbeta\r\n")]


def test_csv_source_reads_dict_rows_with_quoted_newlines(tmp_path):
    (tmp_path / "t.csv").write_text('name,note\nann,"two\nlines"\nbob,plain\n')
    rows = _drain(CsvSource(str(tmp_path / "t.csv")))
    assert rows == [{"name": "ann", "note": "two\nlines"}, {"name": "bob", "note": "plain"}]
    (tmp_path / "s.csv").write_text("1;x\n2;y\n")
    assert _drain(CsvSource(str(tmp_path / "s.csv"), fieldnames=["n", "v"], delimiter=";")) == [
        {"n": "1", "v": "x"}, {"n": "2", "v": "y"}]


@pytest.mark.parametrize("kind", ["text", "jsonl", "csv"])
def test_file_sources_resume_from_a_snapshot(tmp_path, kind):
    """Read part of two files, snapshot, restore into a fresh source: the rest follows, once."""
    for f in range(2):
        rows = range(f * 5, f * 5 + 5)
        if kind == "text":
            body = "".join(f"line {i}\n" for i in rows)
        elif kind == "jsonl":
            body = "".join(json.dumps({"i": i}) + "\n" for i in rows)
        else:
            body = "i,sq\n" + "".join(f'{i},"{i * i}"\n' for i in rows)
        (tmp_path / f"{f}.{kind}").write_text(body)
    make = {"text": TextFileSource, "jsonl": JsonlSource, "csv": CsvSource}[kind]
    pattern = str(tmp_path / f"*.{kind}")
    whole = _drain(make(pattern))
    assert len(whole) == 10
    for cut in (3, 5, 7):
        first = make(pattern)
        head = [first.execute() for _ in range(cut)]
        state = first.snapshot()
        first.close()
        again = make(pattern)
        again.restore(state)
        assert head + _drain(again) == whole
    # a file that now matches the pattern (and sorts first) does not shift a resumed source
    first = make(pattern)
    head = [first.execute() for _ in range(3)]
    state = first.snapshot()
    first.close()
    (tmp_path / f"-new.{kind}").write_text((tmp_path / f"0.{kind}").read_text())
    again = make(pattern)
    again.restore(state)
    assert head + _drain(again) == whole


def test_bad_json_line_is_a_dead_letter_or_stops_the_job_or_is_skipped(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"ok": 1}\n{oops\n{"ok": 2}\n')
    env = LocalEnvironment("dead_jsonl")
    env.from_batch(JsonlSource, str(path), name="read").collect("out")
    result = env.submit()
    assert result.collected["out"] == [{"ok": 1}, {"ok": 2}]
    [dead] = result.dead_letters
    assert (dead.operator, dead.record) == ("read", "{oops")
    assert dead.error.startswith("ValueError: ") and "bad.jsonl:2: not valid JSON" in dead.error
    assert result.metrics["read"].dead_letters == 1
    env = LocalEnvironment("bad_jsonl")
    env.from_batch(JsonlSource, str(path), errors="raise", name="read").collect("out")
    with pytest.raises(OperatorError, match=r"bad\.jsonl:2: not valid JSON"):
        env.submit()
    env = LocalEnvironment("skip_jsonl")
    env.from_batch(JsonlSource, str(path), errors="skip", name="read").collect("out")
    result = env.submit()
    assert result.collected["out"] == [{"ok": 1}, {"ok": 2}]
    assert result.metrics["read"].custom["skipped_records"] == 1


def test_missing_files_are_named():
    with pytest.raises(FileNotFoundError, match="no file matches the pattern '/nonexistent/"):
        TextFileSource("/nonexistent/*.txt")
    with pytest.raises(FileNotFoundError, match="'/nonexistent/x.csv' does not exist"):
        CsvSource("/nonexistent/x.csv")


def test_jsonl_source_resumes_a_failed_job_without_loss_or_repeat(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"seq": i}) + "\n" for i in range(1, 1501)))

    def job():
        env = LocalEnvironment("jsonl_resume", strict=True, config={"initial_bundle": 8, "max_bundle": 32})
        env.enable_checkpointing(tmp_path / "ck", interval=0.02)
        env.from_batch(JsonlSource, str(src)).map(Pause).map(CrashOnceAt, "seq", 1000, str(tmp_path / "m")).collect("out")
        return env

    with pytest.raises(OperatorError, match="crash at seq=1000"):
        job().submit()
    result = job().submit()
    assert result.details["checkpoints"]["resumed_from"] is not None
    assert sorted(r["seq"] for r in result.collected["out"]) == list(range(1, 1501))


def test_file_source_to_sinks_on_every_backend(backend, tmp_path):
    (tmp_path / "people.csv").write_text("id,name,age\n" + "".join(f"p{i},name{i},{20 + i}\n" for i in range(30)))
    db, out = tmp_path / "people.db", tmp_path / "people.jsonl"
    env = LocalEnvironment(f"io_{backend}")
    rows = env.from_batch(CsvSource, str(tmp_path / "people.csv")).map(lambda r: {**r, "age": int(r["age"])})
    rows.sink(SQLiteSink, str(db), "people", columns=["name", "age"], batch_size=7, parallelism=1)
    rows.sink(JsonlSink, str(out))
    env.submit(backend=backend)
    with sqlite3.connect(db) as conn:
        got = conn.execute("SELECT id, name, age, record FROM people ORDER BY age").fetchall()
    assert [g[:3] for g in got] == [(f"p{i}", f"name{i}", 20 + i) for i in range(30)]
    assert json.loads(got[0][3]) == {"id": "p0", "name": "name0", "age": 20}
    assert sorted(json.loads(line)["id"] for line in out.read_text().splitlines()) == sorted(f"p{i}" for i in range(30))


# -- sinks -----------------------------------------------------------------------------
def test_sqlite_sink_upserts_so_replays_do_not_duplicate(tmp_path):
    db = str(tmp_path / "kv.db")
    for run in range(2):  # the second run replays every record
        env = LocalEnvironment(f"upsert{run}")
        env.from_batch([{"id": i, "v": [run, i]} for i in range(10)]).sink(SQLiteSink, db, "kv", columns=["v"], json_column=None, batch_size=4)
        env.submit()
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, v FROM kv ORDER BY CAST(id AS INTEGER)").fetchall()
    assert rows == [(str(i), json.dumps([1, i])) for i in range(10)]


def test_sqlite_sink_dead_letters_records_without_key(tmp_path):
    env = LocalEnvironment("nokey")
    env.from_batch([{"id": "a"}, {"name": "no id"}, "not a dict"]).sink(SQLiteSink, str(tmp_path / "d.db"), "t", name="db")
    result = env.submit()
    assert sorted(d.error.split(":")[0] for d in result.dead_letters) == ["KeyError", "TypeError"]
    assert any("record has no 'id'" in d.error for d in result.dead_letters)
    with sqlite3.connect(tmp_path / "d.db") as conn:
        assert conn.execute("SELECT id FROM t").fetchall() == [("a",)]


def test_sqlite_sink_dead_letters_the_rows_the_database_refuses(tmp_path):
    db = tmp_path / "checked.db"
    with sqlite3.connect(db) as conn:
        conn.execute('CREATE TABLE people ("id" TEXT PRIMARY KEY, "age" INTEGER CHECK (age >= 0))')
    people = [{"id": f"p{i}", "age": -1 if i in (3, 8) else i} for i in range(12)]
    env = LocalEnvironment("refused")
    env.from_batch(people).sink(SQLiteSink, str(db), "people", columns=["age"], json_column=None, create=False, batch_size=5, name="db")
    result = env.submit()
    assert sorted(d.record["id"] for d in result.dead_letters) == ["p3", "p8"]
    assert all("CHECK constraint failed" in d.error for d in result.dead_letters)
    assert result.metrics["db"].dead_letters == 2 and result.count_check() == {}
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT id FROM people").fetchall()
    assert sorted(r[0] for r in stored) == sorted(p["id"] for p in people if p["age"] >= 0)


def test_sqlite_sink_commits_at_checkpoints_and_resumes_exactly(tmp_path):
    db = str(tmp_path / "ck.db")

    def job():
        env = LocalEnvironment("sqlite_resume", strict=True, config={"initial_bundle": 8, "max_bundle": 32})
        env.enable_checkpointing(tmp_path / "ck", interval=0.02)
        recs = env.from_batch([{"id": f"r{i}", "seq": i} for i in range(1, 1201)]).map(Pause)
        recs.map(CrashOnceAt, "seq", 900, str(tmp_path / "m")).sink(SQLiteSink, db, "t", columns=["seq"], batch_size=1000)
        return env

    with pytest.raises(OperatorError):
        job().submit()
    with sqlite3.connect(db) as conn:  # batches were committed at checkpoints before the crash
        assert 0 < conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] < 900
    job().submit()
    with sqlite3.connect(db) as conn:
        assert [r[0] for r in conn.execute("SELECT seq FROM t ORDER BY seq")] == list(range(1, 1201))


def test_sqlite_sink_with_a_dbapi_connection_factory(tmp_path):
    import functools

    connect = functools.partial(sqlite3.connect, str(tmp_path / "f.db"))
    conn = connect()
    conn.execute('CREATE TABLE answers ("qid" TEXT PRIMARY KEY, "answer" TEXT)')
    conn.commit()
    env = LocalEnvironment("factory")
    env.from_batch([{"qid": "q1", "answer": "yes"}]).sink(
        SQLiteSink, None, "answers", key="qid", columns=["answer"], json_column=None, create=False, connect=connect)
    env.submit()
    assert conn.execute("SELECT * FROM answers").fetchall() == [("q1", "yes")]
    with pytest.raises(ValueError, match="not a plain SQL name"):
        SQLiteSink(str(tmp_path / "x.db"), "bad; DROP TABLE t")


def test_terminal_sink_prints_one_line_per_record(capsys):
    env = LocalEnvironment("terminal")
    env.from_batch([{"q": "a\nb", "n": 1}, "plain"]).sink(TerminalSink, "> ", fields=["q"], color=False)
    env.submit()
    lines = capsys.readouterr().out.splitlines()
    assert sorted(lines) == ['> plain', '> {"q": "a\\nb"}']


# -- HTTP source -----------------------------------------------------------------------
@pytest.fixture
def api():
    with ApiServer() as server:
        yield server


def test_http_source_follows_next_links_in_a_pipeline(api):
    env = LocalEnvironment("http_links")
    env.from_source(HttpJsonSource, api.url("/links"), params={"limit": 3}, next_key="next").collect("out")
    assert env.submit().collected["out"] == ITEMS
    assert api.requests == ["/links?limit=3", "/links?offset=3&limit=3", "/links?offset=6&limit=3"]


def test_http_source_cursor_and_link_header(api):
    src = HttpJsonSource(api.url("/cursor"), items_key="results.items", next_key="meta.cursor", cursor_param="cursor")
    assert [r["id"] for r in iter(src.execute, StopSignal)] == list(range(7))
    src = HttpJsonSource(api.url("/header"), items_key=None)
    assert [r["id"] for r in iter(src.execute, StopSignal)] == list(range(7))
    assert api.requests[-1] == "/header?offset=6"


def test_http_source_retries_then_resumes_from_snapshot(api):
    api.fail_first = 2  # two 503s, then success
    src = HttpJsonSource(api.url("/links"), next_key="next", backoff=0.01)
    head = [src.execute() for _ in range(4)]  # page 1 and the first record of page 2
    assert api.requests.count("/links") == 3
    state = src.snapshot()
    src.close()
    again = HttpJsonSource(api.url("/links"), next_key="next")
    again.restore(state)
    rest = list(iter(again.execute, StopSignal))
    assert head + rest == ITEMS
    assert Counter(api.requests)["/links?offset=3&limit=3"] == 1  # the resumed source did not refetch page 2


def test_http_source_errors_name_the_url(api):
    src = HttpJsonSource(api.url("/nothing"))
    with pytest.raises(RuntimeError, match=r"GET http://127\.0\.0\.1:\d+/nothing returned HTTP 404"):
        src.execute()
    src = HttpJsonSource(api.url("/cursor"), items_key="data")
    with pytest.raises(KeyError, match=r"has no 'data' \(keys at 'the top': \['meta', 'results'\]\)"):
        src.execute()
    api.fail_first = 5
    src = HttpJsonSource(api.url("/links"), max_retries=1, backoff=0.01)
    with pytest.raises(ConnectionError, match="failed after 2 attempt"):
        src.execute()
    down = HttpJsonSource("http://127.0.0.1:9/x", max_retries=0, timeout=2)
    with pytest.raises(ConnectionError, match="ConnectError"):
        down.execute()


def test_http_source_polls_an_append_only_feed(api):
    src = HttpJsonSource(api.url("/links"), next_key="next", params={"limit": 3}, poll_interval=0.01)

    def take(n):
        got = []
        for _ in range(100_000):  # a bound on the loop, not on time
            record = src.execute()
            if record is not None:
                got.append(record["id"])
            if len(got) == n:
                return got
        raise AssertionError(f"only {got} arrived")

    assert take(7) == list(range(7))
    assert src.execute() is None  # caught up: nothing new yet
    api.items += [{"id": 7, "name": "item7"}, {"id": 8, "name": "item8"}]
    assert take(2) == [7, 8]
    state = src.snapshot()
    src.close()
    api.items += [{"id": i, "name": f"item{i}"} for i in (9, 10)]
    resumed = HttpJsonSource(api.url("/links"), next_key="next", params={"limit": 3}, poll_interval=0.01)
    resumed.restore(state)
    src = resumed
    assert take(2) == [9, 10]  # the full page is not emitted again; its next page is followed
    src.close()
    with pytest.raises(ValueError, match="poll_interval must be > 0"):
        HttpJsonSource(api.url("/links"), poll_interval=0)
