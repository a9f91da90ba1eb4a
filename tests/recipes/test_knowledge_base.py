"""The knowledge base end to end: real files (md/txt/rst/pdf), the real MiniLM model, a real sage_db."""

from __future__ import annotations

import pytest

pytest.importorskip("sentence_transformers", reason="needs the recipes extra")
pytest.importorskip("langchain_text_splitters", reason="needs the recipes extra")
pytest.importorskip("pypdf", reason="needs the recipes extra")

from sage_recipes.chunking import TextChunker  # noqa: E402
from sage_recipes.documents import load_documents  # noqa: E402
from sage_recipes.generation import EXTRACTIVE_NOTE  # noqa: E402
from sage_recipes.knowledge_base import KnowledgeBase, default_docs_folder, sage_home  # noqa: E402
from tests.recipes.kb_helpers import LONG, indexed_chunk_ids, write_corpus  # noqa: E402


@pytest.fixture
def no_endpoint(monkeypatch):
    for name in ("SAGE_LLM_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def long_chunk_ids(text: str = LONG) -> set[str]:
    chunks = TextChunker(800, 100).execute({"id": "long.md", "text": text})
    return {c["id"] for c in chunks}


def test_load_documents_reads_markdown_text_rst_and_pdf(tmp_path):
    write_corpus(tmp_path)
    docs = {d["id"]: d for d in load_documents(tmp_path)}
    assert sorted(docs) == ["guides/sage_db.rst", "manual.pdf", "ray.md", "windows.txt"]
    assert docs["ray.md"]["text"].startswith("# Running on Ray")
    pdf = docs["manual.pdf"]
    assert "keyed state of operators" in pdf["text"] and pdf["metadata"]["type"] == "pdf"
    meta = docs["guides/sage_db.rst"]["metadata"]
    assert meta["path"] == "guides/sage_db.rst" and len(meta["sha256"]) == 64 and meta["size"] > 0
    assert [d["id"] for d in load_documents(tmp_path, ["*.md"])] == ["ray.md"]


def test_load_documents_names_the_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_documents(tmp_path / "missing")
    with pytest.raises(ValueError, match="glob patterns"):
        load_documents(tmp_path, "*.md")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    with pytest.raises(ValueError, match="broken.pdf"):
        load_documents(tmp_path)


def test_sync_is_incremental_add_change_delete(tmp_path, minilm):
    folder = write_corpus(tmp_path / "docs", long=True)
    kb = KnowledgeBase(folder, tmp_path / "index")
    first = kb.sync()
    assert (first.added, first.changed, first.removed, first.documents) == (5, 0, 0, 5)
    expected = {"ray.md#0", "windows.txt#0", "guides/sage_db.rst#0", "manual.pdf#0"} | long_chunk_ids()
    assert len(long_chunk_ids()) >= 2
    assert indexed_chunk_ids(kb.db_path) == expected and first.chunks == len(expected) and first.ok

    again = kb.sync()
    assert (again.added, again.changed, again.removed, again.unchanged, again.chunks_written) == (0, 0, 0, 5, 0)

    (folder / "long.md").write_text("Backpressure bounds the work in flight.")
    (folder / "new.txt").write_text("Prefect runs each bundle call as a task run.")
    (folder / "windows.txt").unlink()
    third = kb.sync()
    assert (third.added, third.changed, third.removed, third.documents) == (1, 1, 1, 5)
    assert indexed_chunk_ids(kb.db_path) == {"ray.md#0", "guides/sage_db.rst#0", "manual.pdf#0", "long.md#0", "new.txt#0"}
    assert third.chunks_written == 2 and third.chunks_deleted == len(expected & long_chunk_ids()) + 1
    assert set(kb.manifest()) == {"ray.md", "guides/sage_db.rst", "manual.pdf", "long.md", "new.txt"}


def test_a_file_that_cannot_be_read_is_reported_and_retried(tmp_path, minilm):
    folder = write_corpus(tmp_path / "docs")
    (folder / "bad.md").write_bytes(b"\xff\xfe not utf-8 \xff")
    kb = KnowledgeBase(folder, tmp_path / "index")
    report = kb.sync()
    assert [(f["document"], f["operator"]) for f in report.failed] == [("bad.md", "read")]
    assert "bad.md" in report.failed[0]["error"] and "UTF-8" in report.failed[0]["error"]
    assert "bad.md" not in kb.manifest() and "bad.md#0" not in indexed_chunk_ids(kb.db_path)
    (folder / "bad.md").write_text("Now it is fine text about dead letters.")
    retry = kb.sync()
    assert retry.ok and retry.added == 1 and "bad.md#0" in indexed_chunk_ids(kb.db_path)


def test_ask_returns_passages_from_the_right_file_extractively(tmp_path, minilm, no_endpoint):
    kb = KnowledgeBase(write_corpus(tmp_path / "docs"), tmp_path / "index")
    kb.sync()
    reply = kb.ask("How do I run a pipeline on Ray?", k=3)
    assert reply["generator"] == "extractive" and reply["answer"].startswith(EXTRACTIVE_NOTE)
    assert reply["passages"][0]["path"] == "ray.md" and reply["sources"][0] == "ray.md"
    assert "ray.md#0" in reply["answer"] and len(reply["passages"]) == 3
    pdf = kb.ask("Where does a restarted job resume from?", k=2)
    assert pdf["passages"][0]["path"] == "manual.pdf" and "newest checkpoint" in pdf["answer"]


def test_ask_uses_a_configured_openai_compatible_endpoint(tmp_path, minilm, openai_server, monkeypatch):
    monkeypatch.setenv("SAGE_LLM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("SAGE_LLM_MODEL", "tiny")
    kb = KnowledgeBase(write_corpus(tmp_path / "docs"), tmp_path / "index")
    kb.sync()
    reply = kb.ask("How do I run a pipeline on Ray?", k=2)
    assert reply["generator"] == "openai:tiny"
    assert reply["answer"] == "ANSWER from ray.md#0: How do I run a pipeline on Ray?"
    assert "[ray.md#0]" in openai_server.requests[0]["body"]["messages"][1]["content"]


def test_ask_before_sync_and_bad_questions_say_what_to_do(tmp_path):
    kb = KnowledgeBase(write_corpus(tmp_path / "docs"), tmp_path / "index")
    with pytest.raises(LookupError, match="call sync"):
        kb.ask("anything?")
    with pytest.raises(ValueError, match="non-empty string"):
        kb.ask("  ")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        KnowledgeBase(tmp_path / "nowhere")


def test_default_locations(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGE_HOME", str(tmp_path / "home"))
    kb = KnowledgeBase(write_corpus(tmp_path / "docs"))
    assert sage_home() == tmp_path / "home"
    assert kb.db_path.startswith(str(tmp_path / "home" / "kb" / "docs-"))
    monkeypatch.delenv("SAGE_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert sage_home() == tmp_path / "xdg" / "sage"
    assert (default_docs_folder() / "recipes.md").is_file()
