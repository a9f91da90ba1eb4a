"""`sage ask`'s steps with a clock around each, for ``bench_ask.py``; one fresh process per run.

Runs what ``sage ask QUESTION --docs DIR --db INDEX`` runs, in the same order, with the
question embedded by ``--embedder onnx`` (all-MiniLM-L6-v2 on ONNX Runtime, what ``sage
ask`` uses) or ``--embedder st`` (sentence-transformers on torch), and prints the seconds
of each phase as one JSON line: ``imports``, ``sync`` (the up-to-date check), ``model``
(loading the embedding model, importing torch for ``st``), ``retrieval`` (the question
job: embed, hybrid search, extractive answer) and ``answer`` (laying the answer out as
Markdown and rendering it for a terminal).

    python benchmarks/_ask_probe.py "How do I run a pipeline on Ray?" --docs docs --db /tmp/kb --embedder st
"""

from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("question")
    parser.add_argument("--docs", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--embedder", choices=("onnx", "st"), default="onnx")
    args = parser.parse_args()
    times: dict[str, float] = {}
    mark = START

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        times[name] = now - mark
        mark = now

    from rich.console import Console

    import sage_core.cli  # noqa: F401
    from sage_recipes import kb_console
    from sage_recipes.generation import ExtractiveGenerator
    from sage_recipes.knowledge_base import KnowledgeBase

    lap("imports")
    kb = KnowledgeBase(args.docs, args.db)
    report = kb.sync()
    assert report.chunks_written == 0 and report.chunks > 0, report.summary()
    lap("sync")
    if args.embedder == "onnx":
        from sage_recipes.onnx_embedding import OnnxEmbedder, load_onnx_encoder

        load_onnx_encoder()
        embedder = OnnxEmbedder
    else:
        from sage_recipes.embedding import SentenceTransformerEmbedder, load_sentence_transformer

        load_sentence_transformer()
        embedder = SentenceTransformerEmbedder
    lap("model")
    reply = kb.ask(args.question, k=4, embedder=embedder)
    lap("retrieval")
    start = time.perf_counter()
    ExtractiveGenerator().answer({"question": args.question, "passages": reply["passages"]})
    layout = time.perf_counter() - start
    kb_console.print_answer(reply, Console(file=io.StringIO(), force_terminal=True, width=100))
    lap("answer")
    times["retrieval"] -= layout  # the extractive layout ran inside the question job
    times["answer"] += layout
    print(json.dumps(times))


if __name__ == "__main__":
    main()
