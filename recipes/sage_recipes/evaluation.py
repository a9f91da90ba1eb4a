"""Evaluation operators: answer quality, retrieval quality and latency, plus a summary.

Map operators add scores to each record under ``scores`` (a dict, merged with what an
earlier evaluation step put there), so they chain:

- :class:`AnswerMetrics`: ``em`` (exact match) and ``f1`` (token F1) with SQuAD's answer
  normalisation, ``rougeL`` (LCS-based F-measure, via Google's ``rouge-score``) and
  ``bleu`` (sentence BLEU with exponential smoothing, via ``sacrebleu``), of ``answer``
  against ``reference`` (a string or a list of acceptable strings: the best match counts).
- :class:`RetrievalMetrics`: ``recall@k`` and ``ndcg@k`` (binary relevance) of the
  retrieved ``passages`` against ``relevant`` ids.
- :class:`Timestamp` stamps the wall-clock time into a record; :class:`Latency` adds
  ``latency_s``, the difference of two stamps.

:func:`summarize` turns the collected records into means (and p50/p95 for latency);
:func:`corpus_bleu` is BLEU over a whole set of answers.

Example::

    >>> from sage_core import LocalEnvironment
    >>> env = LocalEnvironment("doc_eval")
    >>> recs = [{"answer": "Paris", "reference": ["Paris", "paris, France"]}, {"answer": "Lyon", "reference": "Paris"}]
    >>> env.from_batch(recs).map(AnswerMetrics, metrics=("em", "f1")).collect("scored")  # doctest: +ELLIPSIS
    <...DataStream...>
    >>> summarize(env.submit().collected["scored"])
    {'count': 2, 'em': 0.5, 'f1': 0.5}

Requires the ``eval`` extra for ``rougeL`` and ``bleu`` (``pip install -e '.[eval]'``).
"""

from __future__ import annotations

import math
import re
import string
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from sage_core.api.functions import MapFunction

__all__ = [
    "ANSWER_METRICS",
    "AnswerMetrics",
    "Latency",
    "RetrievalMetrics",
    "Timestamp",
    "bleu",
    "corpus_bleu",
    "exact_match",
    "ndcg_at_k",
    "normalize_answer",
    "recall_at_k",
    "rouge_l",
    "summarize",
    "token_f1",
]

ANSWER_METRICS = ("em", "f1", "rougeL", "bleu")


# -- answer metrics --------------------------------------------------------------------
def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces.

    >>> normalize_answer("The  Eiffel-Tower!")
    'eiffeltower'
    """
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalised strings are equal.

    >>> exact_match("The cat.", "cat")
    1.0
    """
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: str, reference: str) -> float:
    """Harmonic mean of token precision and recall after normalisation (SQuAD's F1).

    >>> round(token_f1("a black cat sat", "the cat sat down"), 4)
    0.6667
    """
    pred = normalize_answer(prediction).split()
    ref = normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    p, r = common / len(pred), common / len(ref)
    return 2 * p * r / (p + r)


_rouge_scorer: Any = None


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (longest common subsequence of tokens), via ``rouge-score``.

    >>> round(rouge_l("the cat on the mat", "the cat sat on the mat"), 4)
    0.9091
    """
    global _rouge_scorer
    if _rouge_scorer is None:
        try:
            from rouge_score import rouge_scorer
        except ImportError as exc:
            msg = "rougeL needs rouge-score; install with `pip install -e '.[eval]'`"
            raise ImportError(msg) from exc
        _rouge_scorer = rouge_scorer.RougeScorer(["rougeL"])
    return float(_rouge_scorer.score(reference, prediction)["rougeL"].fmeasure)


def _sacrebleu() -> Any:
    try:
        import sacrebleu
    except ImportError as exc:
        msg = "bleu needs sacrebleu; install with `pip install -e '.[eval]'`"
        raise ImportError(msg) from exc
    return sacrebleu


def bleu(prediction: str, references: str | Sequence[str]) -> float:
    """Sentence BLEU in [0, 100] (sacrebleu, ``exp`` smoothing, 13a tokenisation).

    >>> round(bleu("the cat sat on the mat", "the cat sat on the mat"), 6)
    100.0
    """
    refs = [references] if isinstance(references, str) else list(references)
    return float(_sacrebleu().sentence_bleu(prediction, refs).score)


def corpus_bleu(predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> float:
    """Corpus BLEU in [0, 100] over aligned ``predictions`` and ``references`` (sacrebleu).

    Each reference is a string or a list of strings (all lists the same length).
    """
    if len(predictions) != len(references):
        msg = f"corpus_bleu: {len(predictions)} predictions but {len(references)} references"
        raise ValueError(msg)
    ref_lists = [[r] if isinstance(r, str) else list(r) for r in references]
    width = {len(r) for r in ref_lists}
    if len(width) > 1:
        msg = f"corpus_bleu: every prediction needs the same number of references, got {sorted(width)}"
        raise ValueError(msg)
    streams = [list(col) for col in zip(*ref_lists)]  # sacrebleu wants one stream per reference slot
    return float(_sacrebleu().corpus_bleu(list(predictions), streams).score)


_SCORERS = {"em": exact_match, "f1": token_f1, "rougeL": rouge_l}


class AnswerMetrics(MapFunction):
    """Adds answer-quality scores (``metrics``, a subset of :data:`ANSWER_METRICS`) to ``scores``.

    ``reference`` may be a string or a list of acceptable answers; each metric takes the
    best reference (BLEU uses them all as multiple references).
    """

    def __init__(
        self,
        metrics: Sequence[str] = ANSWER_METRICS,
        *,
        answer_key: str = "answer",
        reference_key: str = "reference",
    ):
        unknown = [m for m in metrics if m not in ANSWER_METRICS]
        if unknown or not metrics:
            msg = f"AnswerMetrics: unknown metrics {unknown}; choose from {list(ANSWER_METRICS)}"
            raise ValueError(msg)
        self.metrics = tuple(metrics)
        self.answer_key = answer_key
        self.reference_key = reference_key

    def execute(self, data: dict[str, Any]) -> dict[str, Any]:
        answer = data.get(self.answer_key) if isinstance(data, dict) else None
        refs = data.get(self.reference_key) if isinstance(data, dict) else None
        if isinstance(refs, str):
            refs = [refs]
        if not isinstance(answer, str) or not refs or not all(isinstance(r, str) for r in refs):
            msg = (f"AnswerMetrics: a record needs a str {self.answer_key!r} and a str or list of str "
                   f"{self.reference_key!r}, got {data!r:.160}")
            raise TypeError(msg)
        scores = dict(data.get("scores") or {})
        for m in self.metrics:
            scores[m] = bleu(answer, refs) if m == "bleu" else max(_SCORERS[m](answer, r) for r in refs)
        return {**data, "scores": scores}


# -- retrieval metrics -----------------------------------------------------------------
def recall_at_k(retrieved: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Share of the relevant ids found in the first ``k`` retrieved.

    >>> recall_at_k(["a", "x", "b"], {"a", "b", "c"}, 2)
    0.3333333333333333
    """
    rel = set(relevant)
    if not rel:
        msg = "recall_at_k: no relevant ids given"
        raise ValueError(msg)
    return len(rel & set(retrieved[:k])) / len(rel)


def ndcg_at_k(retrieved: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Normalised discounted cumulative gain at ``k`` with binary relevance (gain 1/log2(rank+1)).

    >>> round(ndcg_at_k(["x", "a"], {"a"}, 2), 4)
    0.6309
    """
    rel = set(relevant)
    if not rel:
        msg = "ndcg_at_k: no relevant ids given"
        raise ValueError(msg)
    seen: set[str] = set()
    dcg = 0.0
    for rank, rid in enumerate(retrieved[:k], start=1):
        if rid in rel and rid not in seen:  # a document counts once, at its best rank
            dcg += 1.0 / math.log2(rank + 1)
        seen.add(rid)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(rel), k) + 1))
    return dcg / ideal


class RetrievalMetrics(MapFunction):
    """Adds ``recall@k`` and ``ndcg@k`` for each ``k`` in ``ks`` to ``scores``.

    ``relevant_key`` holds the relevant ids; ``id_key`` is the dotted path of a passage's
    id to compare (``"id"``, or e.g. ``"metadata.doc_id"`` to judge at document level).

    >>> rec = {"relevant": ["b"], "passages": [{"id": "a"}, {"id": "b"}]}
    >>> RetrievalMetrics(ks=(1, 2)).execute(rec)["scores"]["recall@2"]
    1.0
    """

    def __init__(
        self,
        ks: Sequence[int] = (1, 5, 10),
        *,
        relevant_key: str = "relevant",
        passages_key: str = "passages",
        id_key: str = "id",
    ):
        if not ks or any(not isinstance(k, int) or k < 1 for k in ks):
            msg = f"RetrievalMetrics: ks must be integers >= 1, got {ks!r}"
            raise ValueError(msg)
        self.ks = tuple(ks)
        self.relevant_key = relevant_key
        self.passages_key = passages_key
        self.id_key = id_key

    def _pid(self, passage: Any) -> str:
        node = passage
        for part in self.id_key.split("."):
            if not isinstance(node, dict) or part not in node:
                msg = f"RetrievalMetrics: a passage has no {self.id_key!r}: {passage!r:.120}"
                raise KeyError(msg)
            node = node[part]
        return str(node)

    def execute(self, data: dict[str, Any]) -> dict[str, Any]:
        relevant = data.get(self.relevant_key) if isinstance(data, dict) else None
        passages = data.get(self.passages_key) if isinstance(data, dict) else None
        if isinstance(relevant, str):
            relevant = [relevant]
        if not relevant or not isinstance(passages, list):
            msg = f"RetrievalMetrics: a record needs {self.relevant_key!r} (ids) and a list {self.passages_key!r}, got {data!r:.160}"
            raise TypeError(msg)
        ids = [self._pid(p) for p in passages]
        rel = {str(r) for r in relevant}
        scores = dict(data.get("scores") or {})
        for k in self.ks:
            scores[f"recall@{k}"] = recall_at_k(ids, rel, k)
            scores[f"ndcg@{k}"] = ndcg_at_k(ids, rel, k)
        return {**data, "scores": scores}


# -- latency ---------------------------------------------------------------------------
class Timestamp(MapFunction):
    """Stamps ``time.time()`` (seconds since the epoch) into the record under ``key``.

    Wall-clock time, so stamps taken on different workers of one machine (or of clocks kept
    in sync) compare.

    >>> rec = Timestamp("t0").execute({"q": "x"})
    >>> Latency("t0", "t1").execute({**rec, "t1": rec["t0"] + 0.25})["scores"]
    {'latency_s': 0.25}
    """

    def __init__(self, key: str = "t_start"):
        self.key = key

    def execute(self, data: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(data, dict):
            msg = f"Timestamp: a record must be a dict, got {type(data).__name__}"
            raise TypeError(msg)
        return {**data, self.key: time.time()}


class Latency(MapFunction):
    """Adds ``scores["latency_s"] = record[end_key] - record[start_key]`` (seconds).

    Without ``end_key`` in the record the current time is the end.
    """

    def __init__(self, start_key: str = "t_start", end_key: str = "t_end"):
        self.start_key = start_key
        self.end_key = end_key

    def execute(self, data: dict[str, Any]) -> dict[str, Any]:
        start = data.get(self.start_key) if isinstance(data, dict) else None
        if not isinstance(start, (int, float)):
            msg = f"Latency: a record needs a numeric {self.start_key!r} (add Timestamp({self.start_key!r}) upstream), got {data!r:.120}"
            raise TypeError(msg)
        end = data.get(self.end_key, time.time())
        scores = dict(data.get("scores") or {})
        scores["latency_s"] = float(end) - float(start)
        return {**data, "scores": scores}


# -- summary ---------------------------------------------------------------------------
def summarize(records: Iterable[dict[str, Any]], *, percentiles: Sequence[float] = (50, 95)) -> dict[str, Any]:
    """Means of every score over ``records``; for ``latency_s`` also its percentiles.

    Records without a score (or without ``scores``) are left out of that score's mean.

    >>> summarize([{"scores": {"f1": 1.0, "latency_s": 0.1}}, {"scores": {"f1": 0.0, "latency_s": 0.3}}])
    {'count': 2, 'f1': 0.5, 'latency_s': 0.2, 'latency_s_p50': 0.2, 'latency_s_p95': 0.29}
    """
    values: dict[str, list[float]] = {}
    count = 0
    for rec in records:
        count += 1
        for name, value in (rec.get("scores") or {}).items():
            values.setdefault(name, []).append(float(value))
    out: dict[str, Any] = {"count": count}
    for name in sorted(values, key=lambda n: (n == "latency_s", n)):
        arr = np.asarray(values[name])
        out[name] = round(float(arr.mean()), 10)
        if name == "latency_s":
            for p in percentiles:
                out[f"latency_s_p{p:g}"] = round(float(np.percentile(arr, p)), 10)
    return out
