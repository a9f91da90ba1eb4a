"""A knowledge base whose index is held by another writer says so before embedding anything."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_text_splitters", reason="needs the recipes extra")

from typer.testing import CliRunner  # noqa: E402

from sage_core.cli import app  # noqa: E402
from sage_db import SageDB, SageDBLockedError  # noqa: E402
from sage_recipes.knowledge_base import KnowledgeBase  # noqa: E402
from tests.recipes.kb_helpers import RAY, SAGE_DB, WINDOWS  # noqa: E402


def test_sync_on_a_held_index_fails_before_any_work(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in {"ray.md": RAY, "windows.txt": WINDOWS, "sage_db.rst": SAGE_DB}.items():
        (docs / name).write_text(text)
    kb = KnowledgeBase(docs, tmp_path / "index")
    embedded = []
    monkeypatch.setattr("sage_recipes.knowledge_base.add_document_index", lambda *a, **k: embedded.append(a))
    holder = SageDB.open(kb.db_path, dim=384)  # another `sage ask` syncing the same index
    try:
        with pytest.raises(SageDBLockedError, match=rf"{kb.db_path} is already open for writing"):
            kb.sync()
        assert embedded == [], "the sync job was built although the index is held"
    finally:
        holder.close()


def test_sage_ask_on_a_held_index_says_so_in_one_line(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ray.md").write_text(RAY)
    monkeypatch.setenv("SAGE_HOME", str(tmp_path / "home"))
    kb = KnowledgeBase(docs, tmp_path / "index")
    holder = SageDB.open(kb.db_path, dim=384)  # another `sage ask` writing the same index
    try:
        result = CliRunner().invoke(app, ["ask", "How do I run on Ray?", "--docs", str(docs), "--db", str(tmp_path / "index")])
    finally:
        holder.close()
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sage ask: ") and "already open for writing" in lines[0]
    assert "--db" in lines[0] and "Traceback" not in result.output
