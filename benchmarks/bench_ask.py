"""`sage ask` on an up-to-date index: a fresh process each time, ONNX Runtime against sentence-transformers.

Corpus: SAGE's own docs/ (or --docs DIR), indexed once into a temporary index before
timing. Three measurements, in one run:

1. Wall time of ``sage ask QUESTION --docs DIR --db INDEX`` as a fresh process (the real
   command, all-MiniLM-L6-v2 on ONNX Runtime), against the same work with
   sentence-transformers embedding the question (a fresh ``python`` running
   ``_ask_probe.py --embedder st``: same sync check, same retrieval, same answer).
   Runs alternate so that both see the same machine load; min and median of ``--repeat``.
2. The same two paths split into phases, from ``_ask_probe.py`` in fresh processes:
   imports (``sage_core.cli`` and the knowledge-base console), sync (the up-to-date check),
   model load (for sentence-transformers this includes importing torch), retrieval (the
   question job: embed, hybrid search, extractive answer) and answer (laying the answer out
   as Markdown and rendering it for a terminal).
3. Ingestion: chunks/s of the ONNX encoder against ``SentenceTransformer.encode`` on the
   same chunks (the knowledge base's Markdown sections), batch sizes as the embedders use
   them, alternating, best and median of ``--repeat``.

Targets: ``sage ask`` <= 1.5 s wall on an idle 2-core machine; ingestion ratio >= 1.0.

    python benchmarks/bench_ask.py [--docs docs] [--repeat 5] [--question "..."]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
PHASES = ("imports", "sync", "model", "retrieval", "answer")


def sage_command() -> list[str]:
    script = Path(sys.executable).parent / "sage"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sage_core.cli"]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} ... failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def fmt(values: list[float]) -> str:
    return f"{min(values):7.3f} {statistics.median(values):7.3f}"


def ingestion(folder: str, repeat: int) -> None:
    from sage_recipes.documents import load_documents
    from sage_recipes.embedding import encode_texts, load_sentence_transformer
    from sage_recipes.knowledge_base import KnowledgeBase
    from sage_recipes.markdown_sections import MarkdownChunker
    from sage_recipes.onnx_embedding import OnnxEmbedder, load_onnx_encoder

    kb = KnowledgeBase(folder)
    chunker = MarkdownChunker(kb.chunk_size, kb.chunk_overlap)
    texts = [c["text"] for d in load_documents(folder) if d["text"].strip() for c in chunker.execute(d)]
    onnx, st = load_onnx_encoder(), load_sentence_transformer()
    batch = OnnxEmbedder().batch_size
    onnx.encode(texts[:16], batch), encode_texts(st, texts[:16])  # warm-up
    onnx_s, st_s = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        onnx.encode(texts, batch)
        onnx_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        encode_texts(st, texts)
        st_s.append(time.perf_counter() - start)
    n = len(texts)
    print(f"\ningestion: {n} chunks ({sum(map(len, texts)):,} characters), {repeat} alternating runs")
    print(f"{'encoder':<46}{'best chunks/s':>14}{'median':>9}")
    print(f"{'SentenceTransformer.encode (torch, batch 64)':<46}{n / min(st_s):>14.1f}{n / statistics.median(st_s):>9.1f}")
    print(f"{f'OnnxSentenceEncoder.encode (batch {batch})':<46}{n / min(onnx_s):>14.1f}{n / statistics.median(onnx_s):>9.1f}")
    ratios = sorted(s / o for s, o in zip(st_s, onnx_s))
    print(f"ratio (ONNX chunks/s / sentence-transformers): {min(st_s) / min(onnx_s):.2f} best of each, "
          f"{statistics.median(ratios):.2f} median of pairs (target >= 1.0)")


def main() -> None:
    from sage_recipes.knowledge_base import default_docs_folder

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", default=None, help="folder of documents (default: SAGE's docs/)")
    parser.add_argument("--question", default="How do I run a pipeline on Ray?")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = str(Path(args.docs or default_docs_folder()).resolve())

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SAGE_HOME": str(Path(tmp) / "home"), "COLUMNS": "100"}
        db = str(Path(tmp) / "kb")
        ask = [*sage_command(), "ask", args.question, "--docs", folder, "--db", db]
        first, _ = timed(ask, env)  # converts the model, indexes the folder
        probe = [sys.executable, str(HERE / "_ask_probe.py"), args.question, "--docs", folder, "--db", db]
        timed([*probe, "--embedder", "st"], env)  # warms the file cache for torch
        print(f"corpus: {folder}; question: {args.question!r}; first `sage ask` (model conversion + indexing): {first:.1f} s")

        walls: dict[str, list[float]] = {"onnx": [], "st": []}
        phases: dict[str, dict[str, list[float]]] = {"onnx": {}, "st": {}}
        for _ in range(args.repeat):
            walls["onnx"].append(timed(ask, env)[0])
            walls["st"].append(timed([*probe, "--embedder", "st"], env)[0])
            for embedder in ("onnx", "st"):
                wall, out = timed([*probe, "--embedder", embedder], env)
                for name, seconds in {**json.loads(out.splitlines()[-1]), "process (wall)": wall}.items():
                    phases[embedder].setdefault(name, []).append(seconds)

    print(f"\n`sage ask` on an up-to-date index, fresh process, {args.repeat} alternating runs (seconds, min median)")
    print(f"{'path':<52}{'min':>7} {'median':>7}")
    print(f"{'sage ask (ONNX Runtime + tokenizers)':<52}{fmt(walls['onnx'])}")
    print(f"{'same work with sentence-transformers (baseline)':<52}{fmt(walls['st'])}")
    print(f"ratio (baseline / sage ask): {min(walls['st']) / min(walls['onnx']):.1f}x best of each, "
          f"{statistics.median(s / o for s, o in zip(walls['st'], walls['onnx'])):.1f}x median of pairs; "
          f"target: sage ask <= 1.5 s ({'met' if min(walls['onnx']) <= 1.5 else 'not met'} at best, "
          f"{'met' if statistics.median(walls['onnx']) <= 1.5 else 'not met'} at median)")

    print("\nphases in a fresh process (seconds, min median); `other` = interpreter start and exit")
    print(f"{'phase':<20}{'ONNX min':>9}{'median':>8}{'ST min':>9}{'median':>8}")
    for name in [*PHASES, "other", "process (wall)"]:
        if name == "other":
            rows = {e: [w - sum(phases[e][p][i] for p in PHASES) for i, w in enumerate(phases[e]["process (wall)"])] for e in phases}
        else:
            rows = {e: phases[e][name] for e in phases}
        print(f"{name:<20}{fmt(rows['onnx']):>17}{fmt(rows['st']):>17}")

    ingestion(folder, args.repeat)


if __name__ == "__main__":
    main()
