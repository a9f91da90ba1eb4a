"""Knowledge-base ingestion through SAGE against calling the embedding model directly, same run.

Corpus: SAGE's own docs/ folder (or --docs DIR). The baseline chunks the documents with the
knowledge base's own chunker (Markdown by section) and calls ``SentenceTransformer.encode``
once on all chunks (batch size 64). The SAGE run is a full ``KnowledgeBase.sync()`` into a
fresh sage_db: read files → chunk → embed (all-MiniLM-L6-v2 on ONNX Runtime, one call per
bundle, ``RAG_CONFIG`` bundle sizes) → write. Both models are loaded before the runs. Prints chunks embedded per second for
both and the ratio (SAGE / direct; target >= 0.90), best of ``--repeat`` alternating runs,
and the median of the ratios of each pair of runs (other processes on the machine move
single runs by tens of percent).

    python benchmarks/bench_ingestion.py [--docs docs] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def direct(texts: list[str], model) -> float:
    start = time.perf_counter()
    vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    assert len(vectors) == len(texts)
    return time.perf_counter() - start


def through_sage(folder: str, expected: int) -> float:
    from sage_recipes.knowledge_base import KnowledgeBase

    with tempfile.TemporaryDirectory() as tmp:
        report = KnowledgeBase(folder, os.path.join(tmp, "kb")).sync()
        assert report.ok and report.chunks_written == expected, report.summary()
        return report.seconds


def main() -> None:
    from sage_recipes.documents import load_documents
    from sage_recipes.embedding import load_sentence_transformer
    from sage_recipes.knowledge_base import KnowledgeBase, default_docs_folder
    from sage_recipes.markdown_sections import MarkdownChunker
    from sage_recipes.onnx_embedding import load_onnx_encoder

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", default=None, help="folder of documents (default: SAGE's docs/)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = str(args.docs or default_docs_folder())

    docs = load_documents(folder)
    kb = KnowledgeBase(folder)
    chunker = MarkdownChunker(kb.chunk_size, kb.chunk_overlap)
    texts = [c["text"] for d in docs if d["text"].strip() for c in chunker.execute(d)]
    model = load_sentence_transformer()
    load_onnx_encoder().encode(texts[:8])  # the converted model is built and loaded before timing
    direct(texts[:64], model)  # warm-up
    print(f"corpus: {folder}: {len(docs)} documents, {len(texts)} chunks, {sum(map(len, texts)):,} characters")

    direct_s, sage_s = [], []
    for _ in range(args.repeat):
        direct_s.append(direct(texts, model))
        sage_s.append(through_sage(folder, len(texts)))
    d, s = min(direct_s), min(sage_s)
    print(f"{'run':<42}{'chunks/s':>10}{'time':>10}")
    print(f"{'SentenceTransformer.encode (direct)':<42}{len(texts) / d:>10.1f}{d:>9.2f}s")
    print(f"{'KnowledgeBase.sync (SAGE pipeline)':<42}{len(texts) / s:>10.1f}{s:>9.2f}s")
    pairs = sorted(a / b for a, b in zip(direct_s, sage_s))
    print(f"ratio (SAGE chunks/s / direct): {d / s:.2f} best of each, {statistics.median(pairs):.2f} median of pairs  (target >= 0.90)")
    print(f"all runs, direct: {', '.join(f'{t:.2f}' for t in direct_s)} s; SAGE: {', '.join(f'{t:.2f}' for t in sage_s)} s")


if __name__ == "__main__":
    main()
