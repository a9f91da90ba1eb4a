"""Documents from a folder: Markdown, text, reStructuredText and PDF files, one document per file.

A document is ``{"id": <path relative to the folder, with />, "text", "metadata"}``; the
metadata holds ``path`` (the same relative path), ``mtime``, ``size``, ``sha256`` (of the
file's bytes) and ``type`` (the suffix without the dot). PDF text comes from pypdf, page
by page. This module only finds and reads files; it holds no pipeline.

>>> import pathlib, tempfile
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = (root / "guide.md").write_text("# Guide\\nRun it.")
>>> [d["id"] for d in load_documents(root)], load_documents(root)[0]["text"]
(['guide.md'], '# Guide\\nRun it.')
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_PATTERNS", "FileInfo", "file_sha256", "find_files", "load_documents", "read_document"]

DEFAULT_PATTERNS = ("*.md", "*.txt", "*.rst", "*.pdf")
TEXT_SUFFIXES = frozenset({".md", ".txt", ".rst"})


@dataclass(frozen=True)
class FileInfo:
    """A file found in the folder: its document id, absolute path, mtime (ns) and size."""

    id: str
    path: str
    mtime_ns: int
    size: int


def find_files(folder: str | os.PathLike[str], patterns: tuple[str, ...] | list[str] = DEFAULT_PATTERNS) -> list[FileInfo]:
    """Files under ``folder`` (recursively) whose name matches one of ``patterns``, sorted by id.

    Hidden files and folders (a name starting with ``.``) are skipped.
    """
    root = Path(folder)
    if not root.is_dir():
        msg = f"documents folder {str(root)!r} does not exist or is not a folder"
        raise FileNotFoundError(msg)
    if isinstance(patterns, str) or not patterns:
        msg = f"patterns must be a non-empty list of glob patterns like ['*.md', '*.pdf'], got {patterns!r}"
        raise ValueError(msg)
    found: dict[str, FileInfo] = {}
    for pattern in patterns:
        for path in root.rglob(pattern):
            rel = path.relative_to(root)
            if any(part.startswith(".") for part in rel.parts) or not path.is_file():
                continue
            st = path.stat()
            found[rel.as_posix()] = FileInfo(rel.as_posix(), str(path.resolve()), st.st_mtime_ns, st.st_size)
    return [found[k] for k in sorted(found)]


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pdf_text(path: str) -> str:
    try:
        from pypdf import PdfReader
    except ImportError as exc:
        msg = f"reading {path} needs pypdf; install with `pip install -e '.[recipes]'`"
        raise ImportError(msg) from exc
    try:
        reader = PdfReader(path)
        return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages).strip()
    except Exception as exc:
        msg = f"cannot read PDF {path}: {type(exc).__name__}: {exc}"
        raise ValueError(msg) from exc


def read_document(info: FileInfo, sha256: str | None = None) -> dict[str, Any]:
    """The document of one file (text decoded as UTF-8, PDF text extracted with pypdf)."""
    suffix = Path(info.path).suffix.lower()
    if suffix == ".pdf":
        text = _pdf_text(info.path)
    elif suffix in TEXT_SUFFIXES:
        try:
            text = Path(info.path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            msg = f"{info.path} is not UTF-8 text ({exc}); convert it or leave it out with patterns="
            raise ValueError(msg) from exc
    else:
        msg = f"{info.path}: unsupported file type {suffix!r}; supported: {sorted(TEXT_SUFFIXES | {'.pdf'})}"
        raise ValueError(msg)
    metadata = {
        "path": info.id,
        "mtime": info.mtime_ns / 1e9,
        "size": info.size,
        "sha256": sha256 or file_sha256(info.path),
        "type": suffix.lstrip("."),
    }
    return {"id": info.id, "text": text, "metadata": metadata}


def load_documents(folder: str | os.PathLike[str], patterns: tuple[str, ...] | list[str] = DEFAULT_PATTERNS) -> list[dict[str, Any]]:
    """Every matching file under ``folder`` as a document, sorted by id."""
    return [read_document(info) for info in find_files(folder, patterns)]
