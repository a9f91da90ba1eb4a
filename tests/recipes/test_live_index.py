"""The live index: files created, edited and deleted while the watch pipeline runs reach sage_db,
and questions asked meanwhile see them."""

from __future__ import annotations

import pytest

pytest.importorskip("sentence_transformers", reason="needs the recipes extra")
pytest.importorskip("langchain_text_splitters", reason="needs the recipes extra")

from sage_db import SageDB  # noqa: E402
from sage_recipes.document_index import chunk_ids  # noqa: E402
from sage_recipes.folder_watch import FolderScanner  # noqa: E402
from sage_recipes.knowledge_base import KnowledgeBase  # noqa: E402
from tests.recipes.kb_helpers import LONG, indexed_chunk_ids, wait_for, write_corpus  # noqa: E402

ZEBRA = "Zebra migration: the zebras of the Serengeti migrate north every July to find fresh grass."
VOLCANO = "Volcano eruptions: magma rises through the crust and erupts as lava and ash clouds."


def chunks_of(db_path: str, doc: str) -> list[str]:
    with SageDB.open(db_path, mode="r") as db:
        return chunk_ids(db.collection("docs"), doc)


def texts_of(db_path: str, doc: str) -> list[str]:
    with SageDB.open(db_path, mode="r") as db:
        col = db.collection("docs")
        return [r["text"] for r in col.get(chunk_ids(col, doc))]


def test_scanner_reports_new_changed_and_removed_files(tmp_path):
    folder = write_corpus(tmp_path)
    scanner = FolderScanner(folder)
    assert sorted(e["id"] for e in scanner.changes()) == ["guides/sage_db.rst", "manual.pdf", "ray.md", "windows.txt"]
    (folder / "ray.md").write_text("changed")
    (folder / "windows.txt").unlink()
    (folder / "fresh.md").write_text("new")
    assert [(e["op"], e["id"]) for e in scanner.changes()] == [("upsert", "fresh.md"), ("upsert", "ray.md"), ("delete", "windows.txt")]
    (folder / "fresh.md").write_text("new")  # same bytes, new mtime: not a change
    assert scanner.changes() == []


def test_watch_applies_creates_edits_and_deletes_while_questions_are_answered(tmp_path, minilm, monkeypatch):
    monkeypatch.delenv("SAGE_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    folder = write_corpus(tmp_path / "docs", long=True)
    kb = KnowledgeBase(folder, tmp_path / "index")
    with kb.watch(interval=0.2) as live:
        assert live.initial is not None and live.initial.added == 5 and live.running
        assert kb.ask("How do I run a pipeline on Ray?")["sources"][0] == "ray.md"

        (folder / "fresh.md").write_text(ZEBRA)
        reply = wait_for(
            lambda: (r := kb.ask("When do zebras migrate?"))["sources"][0] == "fresh.md" and r, what="the new file answering"
        )
        assert "July" in reply["answer"]

        (folder / "fresh.md").write_text(VOLCANO)
        wait_for(lambda: texts_of(kb.db_path, "fresh.md") == [VOLCANO], what="the edit replacing the old chunk")
        assert kb.ask("How do volcanoes erupt?")["sources"][0] == "fresh.md"

        (folder / "long.md").write_text("Short now: backpressure bounds queues.")  # three chunks become one
        (folder / "ray.md").unlink()
        wait_for(lambda: chunks_of(kb.db_path, "ray.md") == [] and chunks_of(kb.db_path, "long.md") == ["long.md#0"],
                 what="the delete and the shrink")
        assert "ray.md" not in kb.ask("How do I run a pipeline on Ray?")["sources"]
        assert len(LONG) > 1600
    result = live.stop()
    assert not live.running and result.dead_letters == []
    assert indexed_chunk_ids(kb.db_path) == {"windows.txt#0", "guides/sage_db.rst#0", "manual.pdf#0", "long.md#0", "fresh.md#0"}
    counters = result.metrics["write"].custom
    assert counters["documents_removed"] == 1 and counters["documents_indexed"] >= 3
    # the manifest followed the live changes: a new sync has nothing to do
    report = kb.sync()
    assert (report.added, report.changed, report.removed, report.chunks_written) == (0, 0, 0, 0)
