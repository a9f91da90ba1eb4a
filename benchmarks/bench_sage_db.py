"""Benchmark sage_db against raw FAISS (the limit of its design), chromadb and lancedb.

    python benchmarks/bench_sage_db.py                # 100,000 x 384, 1,000 queries, k = 10
    python benchmarks/bench_sage_db.py --quick        # small smoke run (CI)
    python benchmarks/bench_sage_db.py --n 20000 --no-peers --json out.json

Data: a Gaussian mixture with ``--centres`` centres (clustered, like real embeddings; i.i.d.
random vectors defeat every graph index), cosine metric everywhere. Queries are fresh draws
from the same mixture. Each configuration runs its queries one at a time (latency-bound, as
an operator calls a service) until all are done or ``--budget`` seconds pass; recall@k is
measured against exact search over the same filter. Filters select ``bucket`` values:
1%, 10% and 50% of the records. chromadb and lancedb are measured when importable.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata as importlib_metadata
from typing import Any

import faiss
import numpy as np

from sage_db import SageDB, _core
from sage_db.collection import DEFAULT_CHECKPOINT_RECORDS

FILTERS = {  # name -> (sage_db/chroma where, lancedb SQL, predicate on bucket = i % 100)
    "1%": ({"bucket": 7}, "bucket = 7", lambda b: b == 7),
    "10%": ({"bucket": {"$lt": 10}}, "bucket < 10", lambda b: b < 10),
    "50%": ({"bucket": {"$lt": 50}}, "bucket < 50", lambda b: b < 50),
}


def version(pkg: str) -> str:
    try:
        return importlib_metadata.version(pkg)
    except importlib_metadata.PackageNotFoundError:
        return "not installed"


def mixture(n: int, dim: int, centres: int, rng: np.random.Generator, c: np.ndarray | None = None):
    if c is None:
        c = rng.standard_normal((centres, dim)).astype(np.float32)
    x = c[rng.integers(0, len(c), n)] + 0.25 * rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), c


def timed_queries(
    fn: Callable[[int], list[Any]], nq: int, budget: float
) -> tuple[float, list[list[Any]]]:
    """Runs fn(i) for i < nq or until `budget` seconds; returns (seconds per query, results)."""
    out = []
    fn(0)  # warm-up
    t0 = time.perf_counter()
    for i in range(nq):
        out.append(fn(i))
        if time.perf_counter() - t0 > budget:
            break
    return (time.perf_counter() - t0) / len(out), out


def paired_queries(
    fa: Callable[[int], list[Any]], fb: Callable[[int], list[Any]], nq: int, budget: float
):
    """Alternates fa(i) and fb(i) so both see the same machine load (the machine is shared).
    Returns (seconds per query of fa, results of fa, seconds per query of fb, results of fb)."""
    fa(0)
    fb(0)
    ta = tb = 0.0
    ra: list[list[Any]] = []
    rb: list[list[Any]] = []
    for i in range(nq):
        t0 = time.perf_counter()
        ra.append(fa(i))
        t1 = time.perf_counter()
        rb.append(fb(i))
        t2 = time.perf_counter()
        ta += t1 - t0
        tb += t2 - t1
        if ta + tb > budget:
            break
    return ta / len(ra), ra, tb / len(rb), rb


def recall(results: list[list[Any]], truth: np.ndarray, k: int) -> float:
    hits = [
        len({int(r) for r in res[:k]} & set(truth[i, :k].tolist()))
        / min(k, max(1, (truth[i] >= 0).sum()))
        for i, res in enumerate(results)
    ]
    return float(np.mean(hits))


class Report:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, system: str, config: str, **values: Any) -> None:
        row = {"system": system, "config": config, **values}
        self.rows.append(row)
        shown = "  ".join(f"{k}={_fmt(v)}" for k, v in values.items())
        print(f"  {system:<10} {config:<22} {shown}", flush=True)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def exact_truth(x: np.ndarray, q: np.ndarray, k: int, mask: np.ndarray | None) -> np.ndarray:
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    if mask is None:
        return index.search(q, k)[1]
    bitmap = np.packbits(mask, bitorder="little")
    params = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap)))
    return index.search(q, k, params=params)[1]


def bench_vectors(args: argparse.Namespace, report: Report) -> None:
    rng = np.random.default_rng(0)
    x, centres = mixture(args.n, args.dim, args.centres, rng)
    q, _ = mixture(args.queries, args.dim, args.centres, rng, centres)
    n, k = args.n, args.k
    bucket = np.arange(n) % 100
    ids = [str(i) for i in range(n)]
    masks = {name: f[2](bucket) for name, f in FILTERS.items()}
    print(f"computing exact ground truth for {len(q)} queries ...", flush=True)
    truth = {None: exact_truth(x, q, k, None)} | {
        name: exact_truth(x, q, k, m) for name, m in masks.items()
    }
    budget = args.budget
    tmp = tempfile.mkdtemp(prefix="bench_sage_db_")

    def as_ints(hits_ids: list[str]) -> list[int]:
        return [int(i) for i in hits_ids]

    try:
        for kind in ("flat", "hnsw"):
            print(f"\n== {kind}: {n} x {args.dim}, {len(q)} queries, k={k}", flush=True)
            # raw FAISS
            if kind == "flat":
                raw = faiss.IndexFlatIP(args.dim)
            else:
                raw = faiss.IndexHNSWFlat(args.dim, 32, faiss.METRIC_INNER_PRODUCT)
                raw.hnsw.efConstruction = 80
            t0 = time.perf_counter()
            raw.add(x)
            t_raw_add = time.perf_counter() - t0
            report.add("faiss", f"{kind} add", vectors_per_s=n / t_raw_add, seconds=t_raw_add)
            # sage_db
            meta = [{"bucket": int(b)} for b in bucket]
            step = args.batch
            if kind == "flat":
                # The floor of any logged write: the same bytes appended to a file in the
                # same batches, one write() + fdatasync() each (no checks, no index).
                fpath = os.path.join(tmp, "raw_log")
                t_io = float("inf")
                for _ in range(3):
                    fd = os.open(fpath, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                    t0 = time.perf_counter()
                    for s in range(0, n, step):
                        os.write(fd, memoryview(x[s : s + step]).cast("B"))
                        os.fdatasync(fd)
                    t_io = min(t_io, time.perf_counter() - t0)
                    os.close(fd)
                    os.unlink(fpath)
                report.add(
                    "os",
                    "write + fdatasync of the vectors, best of 3",
                    vectors_per_s=n / t_io,
                    seconds=t_io,
                    throughput_vs_faiss=t_raw_add / t_io,
                )
                # Upsert variants into throw-away collections, each repeated three times
                # alternating with FAISS's add (the disk and CPUs are shared: best of three).
                texts = [f"document {i} about topic {i % 1000}" for i in range(n)]
                for label, with_meta, with_texts in (
                    ("vectors only", False, False),
                    ("metadata", True, False),
                    ("metadata + texts", True, True),
                ):
                    best_var = best_faiss = float("inf")
                    for _ in range(3):
                        vpath = os.path.join(tmp, "sagedb_variant")
                        vdb = SageDB.open(vpath, dim=args.dim)
                        vcol = vdb.collection("bench", metric="cosine", index=kind)
                        t0 = time.perf_counter()
                        for s in range(0, n, step):
                            vcol.upsert(
                                ids[s : s + step],
                                x[s : s + step],
                                metadata=meta[s : s + step] if with_meta else None,
                                texts=texts[s : s + step] if with_texts else None,
                            )
                        best_var = min(best_var, time.perf_counter() - t0)
                        vdb.close(checkpoint=False)
                        shutil.rmtree(vpath, ignore_errors=True)
                        again = faiss.IndexFlatIP(args.dim)
                        t0 = time.perf_counter()
                        again.add(x)
                        best_faiss = min(best_faiss, time.perf_counter() - t0)
                        del again
                    report.add(
                        "sage_db",
                        f"flat upsert (WAL, fsync), {label}, best of 3",
                        vectors_per_s=n / best_var,
                        seconds=best_var,
                        faiss_add_s=best_faiss,
                        throughput_vs_faiss=best_faiss / best_var,
                    )
                bench_arrow_upsert(args, x, ids, meta, texts, tmp, report)
            path = os.path.join(tmp, f"sagedb_{kind}")
            db = SageDB.open(path, dim=args.dim)
            col = db.collection("bench", metric="cosine", index=kind)
            t0 = time.perf_counter()
            for s in range(0, n, step):
                col.upsert(ids[s : s + step], x[s : s + step], metadata=meta[s : s + step])
            t_add = time.perf_counter() - t0
            report.add(
                "sage_db",
                f"{kind} upsert (WAL, fsync), metadata",
                vectors_per_s=n / t_add,
                seconds=t_add,
                throughput_vs_faiss=t_raw_add / t_add,
            )

            for fname in (None, *FILTERS):
                if fname is None:
                    params = faiss.SearchParametersHNSW(efSearch=64) if kind == "hnsw" else None
                else:
                    bitmap = np.packbits(masks[fname], bitorder="little")
                    sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
                    params = (
                        faiss.SearchParametersHNSW(sel=sel, efSearch=64)
                        if kind == "hnsw"
                        else faiss.SearchParameters(sel=sel)
                    )
                where = FILTERS[fname][0] if fname else None
                raw_spq, raw_res, spq, res = paired_queries(
                    lambda i, params=params, raw=raw: raw.search(q[i : i + 1], k, params=params)[1][
                        0
                    ].tolist(),
                    lambda i, where=where, col=col: as_ints(col.search(q[i], k, where=where).ids),
                    len(q),
                    budget,
                )
                config = f"{kind} {fname or 'unfiltered'}"
                report.add(
                    "faiss",
                    config,
                    ms=raw_spq * 1e3,
                    qps=1 / raw_spq,
                    recall=recall(raw_res, truth[fname], k),
                    queries=len(raw_res),
                )
                ef_sage = max(64, k, min(1024, int(k / (masks[fname].mean())))) if fname else 64
                if (
                    kind == "hnsw"
                    and fname is not None
                    and ef_sage != 64
                    and masks[fname].mean() > 0.03
                ):
                    # sage_db widens the filtered HNSW beam (efSearch = k / fraction): the same
                    # search in raw FAISS, for a ratio at equal parameters.
                    params_eq = faiss.SearchParametersHNSW(sel=sel, efSearch=ef_sage)
                    eq_spq, eq_res, spq_eq, _ = paired_queries(
                        lambda i, p=params_eq, raw=raw: raw.search(q[i : i + 1], k, params=p)[1][
                            0
                        ].tolist(),
                        lambda i, where=where, col=col: as_ints(
                            col.search(q[i], k, where=where).ids
                        ),
                        len(q),
                        budget,
                    )
                    report.add(
                        "faiss",
                        f"{config} efSearch={ef_sage}",
                        ms=eq_spq * 1e3,
                        qps=1 / eq_spq,
                        recall=recall(eq_res, truth[fname], k),
                        queries=len(eq_res),
                        sage_time_vs_faiss=spq_eq / eq_spq,
                    )
                extra = {}
                if where is not None:
                    # The collection reuses the last filter's selection; this is what a new
                    # filter costs on its first query (C++ evaluation + bitmap packing).
                    flt = _core.Filter(where)
                    t0 = time.perf_counter()
                    for _ in range(50):
                        col._core.select(flt).bitmap()
                    extra["filter_eval_ms"] = (time.perf_counter() - t0) / 50 * 1e3
                report.add(
                    "sage_db",
                    config,
                    ms=spq * 1e3,
                    qps=1 / spq,
                    recall=recall(res, truth[fname], k),
                    queries=len(res),
                    time_vs_faiss=spq / raw_spq,
                    **extra,
                )
            del raw
            db.close(checkpoint=False)
            t0 = time.perf_counter()
            db = SageDB.open(path)
            c2 = db.collection("bench")
            t_reopen = time.perf_counter() - t0
            report.add(
                "sage_db",
                f"{kind} reopen after a crash (last snapshot + log tail)",
                seconds=t_reopen,
                records=c2.count(),
                tail_records=c2._logged_records,
            )
            t0 = time.perf_counter()
            c2.checkpoint()
            t_ckpt = time.perf_counter() - t0
            db.close(checkpoint=False)
            t0 = time.perf_counter()
            db = SageDB.open(path)
            c3 = db.collection("bench")
            t_reopen = time.perf_counter() - t0
            report.add(
                "sage_db",
                f"{kind} reopen (snapshot)",
                seconds=t_reopen,
                checkpoint_s=t_ckpt,
                records=c3.count(),
            )
            # Worst case: a crash just before the next automatic checkpoint (HNSW: the
            # default threshold of ids since the snapshot; flat: the same count).
            tail = min(n, DEFAULT_CHECKPOINT_RECORDS["hnsw"]) - 1
            for s in range(0, tail, step):
                e = min(tail, s + step)
                c3.upsert([f"t{i}" for i in range(s, e)], x[s:e], metadata=meta[s:e])
            db.close(checkpoint=False)
            t0 = time.perf_counter()
            db = SageDB.open(path)
            c4 = db.collection("bench")
            t_reopen = time.perf_counter() - t0
            report.add(
                "sage_db",
                f"{kind} reopen after a crash, longest tail",
                seconds=t_reopen,
                records=c4.count(),
                tail_records=c4._logged_records,
            )
            db.close()
            if kind == "hnsw":
                # The same upserts without automatic checkpoints (their cost, and the old
                # recovery: rebuilding the whole graph from the log).
                shutil.rmtree(path, ignore_errors=True)
                db = SageDB.open(path, dim=args.dim, checkpoint_records=0)
                col = db.collection("bench", metric="cosine", index=kind)
                t0 = time.perf_counter()
                for s in range(0, n, step):
                    col.upsert(ids[s : s + step], x[s : s + step], metadata=meta[s : s + step])
                t_add = time.perf_counter() - t0
                report.add(
                    "sage_db",
                    f"{kind} upsert, automatic checkpoints off",
                    vectors_per_s=n / t_add,
                    seconds=t_add,
                    throughput_vs_faiss=t_raw_add / t_add,
                )
                db.close(checkpoint=False)
                t0 = time.perf_counter()
                db = SageDB.open(path, checkpoint_records=0)
                c5 = db.collection("bench")
                t_reopen = time.perf_counter() - t0
                report.add(
                    "sage_db",
                    f"{kind} reopen after a crash, no checkpoints (graph rebuilt)",
                    seconds=t_reopen,
                    records=c5.count(),
                )
                db.close(checkpoint=False)
            shutil.rmtree(path, ignore_errors=True)

        if args.peers:
            bench_chroma(args, x, q, truth, report, bucket, tmp)
            bench_lance(args, x, q, truth, report, bucket, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_arrow_upsert(args, x, ids, meta, texts, tmp, report) -> None:
    """Flat upserts of the same records (vectors, metadata, texts) from lists and dicts and
    from pyarrow RecordBatches built beforehand, alternating, best of three each."""
    try:
        import pyarrow as pa
    except ImportError:
        print("pyarrow not installed: Arrow upsert skipped")
        return
    from sage_db._arrow import upsert_arguments

    n, step = args.n, args.batch
    bucket = pa.array([m["bucket"] for m in meta], pa.int64())
    batches = [
        pa.record_batch(
            {
                "id": pa.array(ids[s : s + step]),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(x[s : s + step].ravel()), args.dim),
                "text": pa.array(texts[s : s + step]),
                "bucket": bucket[s : s + step],
            }
        )
        for s in range(0, n, step)
    ]
    best = {"lists": float("inf"), "arrow": float("inf"), "convert": float("inf")}
    for _ in range(3):
        for label in ("lists", "arrow"):
            vpath = os.path.join(tmp, "sagedb_arrow")
            vdb = SageDB.open(vpath, dim=args.dim)
            vcol = vdb.collection("bench", metric="cosine", index="flat")
            t0 = time.perf_counter()
            if label == "lists":
                for s in range(0, n, step):
                    vcol.upsert(ids[s : s + step], x[s : s + step], metadata=meta[s : s + step], texts=texts[s : s + step])
            else:
                for b in batches:
                    vcol.upsert(b)
            best[label] = min(best[label], time.perf_counter() - t0)
            vdb.close(checkpoint=False)
            shutil.rmtree(vpath, ignore_errors=True)
        t0 = time.perf_counter()  # the Arrow -> (ids, vectors, metadata dicts, texts) step alone
        for b in batches:
            upsert_arguments("bench", {"default": args.dim}, b, id_column=None, vector_column=None, text_column=None)
        best["convert"] = min(best["convert"], time.perf_counter() - t0)
    for label, config in (("lists", "lists + dicts"), ("arrow", "pyarrow RecordBatch")):
        report.add(
            "sage_db",
            f"flat upsert (WAL, fsync), metadata + texts, from {config}, best of 3",
            vectors_per_s=n / best[label],
            seconds=best[label],
            time_vs_lists=best[label] / best["lists"],
        )
    report.add(
        "sage_db",
        "  of which Arrow columns -> ids, vectors, metadata dicts, texts",
        seconds=best["convert"],
        share_of_arrow_upsert=best["convert"] / best["arrow"],
    )


def bench_chroma(args, x, q, truth, report, bucket, tmp) -> None:
    try:
        import chromadb
    except ImportError:
        print("chromadb not installed: skipped")
        return
    print(f"\n== chromadb {version('chromadb')} (HNSW, cosine, in memory)", flush=True)
    client = chromadb.EphemeralClient()
    col = client.create_collection("bench", configuration={"hnsw": {"space": "cosine"}})
    n = len(x)
    t0 = time.perf_counter()
    step = min(5000, client.get_max_batch_size())
    for s in range(0, n, step):
        col.add(
            ids=[str(i) for i in range(s, min(n, s + step))],
            embeddings=x[s : s + step],
            metadatas=[{"bucket": int(b)} for b in bucket[s : s + step]],
        )
    t_add = time.perf_counter() - t0
    report.add("chromadb", "add", vectors_per_s=n / t_add, seconds=t_add)
    for fname in (None, *FILTERS):
        where = FILTERS[fname][0] if fname else None

        def one(i, where=where):
            r = col.query(query_embeddings=q[i : i + 1], n_results=args.k, where=where)
            return [int(v) for v in r["ids"][0]]

        spq, res = timed_queries(one, len(q), args.budget)
        report.add(
            "chromadb",
            f"{fname or 'unfiltered'}",
            ms=spq * 1e3,
            qps=1 / spq,
            recall=recall(res, truth[fname], args.k),
            queries=len(res),
        )


def bench_lance(args, x, q, truth, report, bucket, tmp) -> None:
    try:
        import lancedb
        import pyarrow as pa
    except ImportError:
        print("lancedb not installed: skipped")
        return
    print(f"\n== lancedb {version('lancedb')} (no ANN index: exact scan)", flush=True)
    db = lancedb.connect(os.path.join(tmp, "lance"))
    n, d = x.shape
    t0 = time.perf_counter()
    table = pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "bucket": pa.array(bucket.astype(np.int64)),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), d),
        }
    )
    tbl = db.create_table("bench", table)
    t_add = time.perf_counter() - t0
    report.add("lancedb", "add", vectors_per_s=n / t_add, seconds=t_add)
    for fname in (None, *FILTERS):
        sql = FILTERS[fname][1] if fname else None

        def one(i, sql=sql):
            s = tbl.search(q[i]).distance_type("cosine").limit(args.k).select(["id", "_distance"])
            if sql:
                s = s.where(sql, prefilter=True)
            return s.to_arrow()["id"].to_pylist()

        spq, res = timed_queries(one, len(q), args.budget)
        report.add(
            "lancedb",
            f"{fname or 'unfiltered'}",
            ms=spq * 1e3,
            qps=1 / spq,
            recall=recall(res, truth[fname], args.k),
            queries=len(res),
        )


def bench_bm25(args: argparse.Namespace, report: Report) -> None:
    from pydoc_data.topics import topics

    from sage_db import tokenize

    docs = [p for t in sorted(topics) for p in topics[t].split("\n\n") if p.strip()]
    rng = np.random.default_rng(1)
    vocab = sorted({w for d in docs for w in tokenize(d) if len(w) > 3})
    queries = [" ".join(rng.choice(vocab, 3)) for _ in range(args.text_queries)]
    k = args.k
    print(
        f"\n== BM25: {len(docs)} paragraphs of pydoc_data.topics, {len(queries)} queries, k={k}",
        flush=True,
    )
    tmp = tempfile.mkdtemp(prefix="bench_bm25_")
    try:
        db = SageDB.open(os.path.join(tmp, "db"), dim=1)
        col = db.collection("docs")
        t0 = time.perf_counter()
        col.upsert(
            [str(i) for i in range(len(docs))], np.ones((len(docs), 1), np.float32), texts=docs
        )
        t_build = time.perf_counter() - t0
        spq, _ = timed_queries(
            lambda i: col.search_text(queries[i], k).ids, len(queries), args.budget
        )
        report.add("sage_db", "bm25", ms=spq * 1e3, qps=1 / spq, build_s=t_build, docs=len(docs))
        sage_spq = spq
        t0 = time.perf_counter()
        col.upsert(
            ["new"], np.ones((1, 1), np.float32), texts=["an added paragraph about generators"]
        )
        col.delete(["0"])
        report.add("sage_db", "bm25 add+delete 1 doc", ms=(time.perf_counter() - t0) * 1e3)
        db.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    try:
        import bm25s

        t0 = time.perf_counter()
        retriever = bm25s.BM25()
        retriever.index(
            bm25s.tokenize(docs, stopwords=None, show_progress=False), show_progress=False
        )
        t_build = time.perf_counter() - t0

        def one(i):
            return retriever.retrieve(
                bm25s.tokenize([queries[i]], stopwords=None, show_progress=False),
                k=k,
                show_progress=False,
            )

        spq, _ = timed_queries(one, len(queries), args.budget)
        report.add(
            f"bm25s {version('bm25s')}",
            "bm25",
            ms=spq * 1e3,
            qps=1 / spq,
            build_s=t_build,
            sage_db_speedup=spq / sage_spq,
        )
    except ImportError:
        print("bm25s not installed: skipped")
    try:
        from rank_bm25 import BM25Okapi

        t0 = time.perf_counter()
        okapi = BM25Okapi([tokenize(d) for d in docs])
        t_build = time.perf_counter() - t0
        spq, _ = timed_queries(
            lambda i: np.argsort(-okapi.get_scores(tokenize(queries[i])))[:k],
            len(queries),
            args.budget,
        )
        report.add(
            f"rank-bm25 {version('rank-bm25')}",
            "bm25",
            ms=spq * 1e3,
            qps=1 / spq,
            build_s=t_build,
            sage_db_speedup=spq / sage_spq,
        )
    except ImportError:
        print("rank-bm25 not installed: skipped")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--centres", type=int, default=1000)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--batch", type=int, default=10_000, help="upsert batch size")
    p.add_argument("--budget", type=float, default=10.0, help="seconds per query configuration")
    p.add_argument("--text-queries", type=int, default=500)
    p.add_argument(
        "--no-peers", dest="peers", action="store_false", help="skip chromadb and lancedb"
    )
    p.add_argument("--quick", action="store_true", help="n=5000, dim=64, 100 queries, no peers")
    p.add_argument("--json", help="also write the rows as JSON to this file")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.dim, args.queries, args.centres, args.batch = 5000, 64, 100, 50, 1000
        args.budget, args.text_queries, args.peers = 2.0, 100, False
    print(
        f"sage_db benchmark: python {platform.python_version()}, faiss {faiss.__version__}, "
        f"numpy {np.__version__}, {os.cpu_count()} cores, faiss omp threads {faiss.omp_get_max_threads()}",
        flush=True,
    )
    report = Report()
    bench_vectors(args, report)
    bench_bm25(args, report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": report.rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
