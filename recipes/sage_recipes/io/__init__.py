"""Reading and writing records: file and HTTP sources, terminal, JSONL and database sinks.

| name | module | kind |
|---|---|---|
| :class:`TextFileSource`, :class:`JsonlSource`, :class:`CsvSource` | ``files`` | bounded sources, ``env.from_batch(cls, paths)`` |
| :class:`HttpJsonSource` | ``api`` | a paginated JSON API, ``env.from_source(cls, url)`` |
| :class:`TerminalSink` | ``terminal`` | one line per record |
| :class:`JsonlSink` | ``sage_core.reliability.sinks`` | JSON Lines, exactly once with checkpoints |
| :class:`SQLiteSink` | ``database`` | idempotent upserts into SQLite or any DB-API database |

Every source keeps its position in checkpoints; every sink takes records from any backend.
Python's documentation as documents is :func:`sage_recipes.sources.pydoc_topics`.

Example::

    from sage_recipes.io import JsonlSink, JsonlSource, SQLiteSink

    records = env.from_batch(JsonlSource, "data/*.jsonl")
    records.sink(SQLiteSink, "out.db", "records", key="id")
    records.sink(JsonlSink, "copy.jsonl")
"""

from sage_core.reliability.sinks import JsonlSink
from sage_recipes.io.api import HttpJsonSource
from sage_recipes.io.database import SQLiteSink
from sage_recipes.io.files import CsvSource, JsonlSource, TextFileSource
from sage_recipes.io.terminal import TerminalSink

__all__ = ["CsvSource", "HttpJsonSource", "JsonlSink", "JsonlSource", "SQLiteSink", "TerminalSink", "TextFileSource"]
