"""A small corpus of real files for the knowledge-base tests: Markdown, text, reStructuredText, PDF."""

from __future__ import annotations

from pathlib import Path

from sage_core.api.testing import wait_for  # noqa: F401 - the kb tests import it from here

RAY = """# Running on Ray

To run a pipeline on Ray, call env.submit(backend="ray"). SAGE starts a local Ray with
ray.init when no cluster address is given; pass address="auto" to join a running Ray cluster.
Stage instances live in Ray host actors and bundles travel as object refs.
"""

WINDOWS = """Tumbling windows

A tumbling window groups the events of each key into fixed, non-overlapping time intervals.
Counting clicks per user every sixty seconds is a tumbling window with an aggregate count.
"""

SAGE_DB = """sage_db
=======

The sage_db vector database stores records with vectors, metadata and text. FAISS does the
vector search; an HNSW index gives approximate nearest neighbours, a flat index exact ones.
"""

PDF_LINES = [
    "Checkpoint storage manual.",
    "Checkpoints save the positions of sources and the keyed state of operators.",
    "A restarted job resumes from the newest checkpoint in its storage directory.",
]

# three chunks of at most 800 characters with the default splitter settings
LONG = "\n\n".join(
    f"Section {i}. " + " ".join(f"Paragraph {i} sentence {j} talks about backpressure and bounded queues." for j in range(11))
    for i in range(3)
)


def make_pdf(path: Path, lines: list[str]) -> None:
    """Write a minimal valid one-page PDF showing ``lines`` in Helvetica (text extractable by pypdf)."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    content = "BT /F1 12 Tf 14 TL 72 720 Td " + " ".join(f"({esc(line)}) '" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(out)


def write_corpus(folder: Path, *, long: bool = False) -> Path:
    """ray.md, windows.txt, sage_db.rst and manual.pdf (and long.md) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ray.md").write_text(RAY)
    (folder / "windows.txt").write_text(WINDOWS)
    (folder / "guides").mkdir(exist_ok=True)
    (folder / "guides" / "sage_db.rst").write_text(SAGE_DB)
    make_pdf(folder / "manual.pdf", PDF_LINES)
    if long:
        (folder / "long.md").write_text(LONG)
    return folder


def indexed_chunk_ids(db_path: str, collection: str = "docs") -> set[str]:
    """Every chunk id in the collection, read by a fresh reader (the probe covers every
    document the tests use; the count check proves there is nothing else)."""
    from sage_db import SageDB
    from sage_recipes.document_index import chunk_ids

    names = ["ray.md", "windows.txt", "guides/sage_db.rst", "manual.pdf", "long.md", "new.txt", "fresh.md", "bad.md"]
    with SageDB.open(db_path, mode="r") as db:
        col = db.collection(collection)
        ids = {i for name in names for i in chunk_ids(col, name)}
        assert col.count() == len(ids), f"the collection holds {col.count()} chunks, the probe found {sorted(ids)}"
        return ids
