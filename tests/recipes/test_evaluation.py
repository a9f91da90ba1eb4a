"""Evaluation metrics against hand-computed values, and the operators in a pipeline."""

from __future__ import annotations

import math

import pytest

from sage_core import LocalEnvironment
from sage_recipes.evaluation import (
    AnswerMetrics,
    Latency,
    RetrievalMetrics,
    Timestamp,
    bleu,
    corpus_bleu,
    exact_match,
    ndcg_at_k,
    normalize_answer,
    recall_at_k,
    rouge_l,
    summarize,
    token_f1,
)


def test_squad_normalisation_exact_match_and_f1():
    assert normalize_answer("  The Quick, brown FOX! ") == "quick brown fox"
    assert exact_match("An apple.", "apple") == 1.0 and exact_match("apples", "apple") == 0.0
    # pred tokens {quick, brown, fox, jumps}, ref {brown, fox}: P = 2/4, R = 2/2, F1 = 2/3
    assert token_f1("the quick brown fox jumps", "Brown fox") == pytest.approx(2 / 3)
    # repeated tokens are clipped: "cat cat cat" vs "cat": P = 1/3, R = 1, F1 = 1/2
    assert token_f1("cat cat cat", "cat") == pytest.approx(0.5)
    assert token_f1("", "") == 1.0 and token_f1("dog", "") == 0.0 and token_f1("dog", "cat") == 0.0


def test_rouge_l_is_the_lcs_f_measure():
    # LCS("police killed the gunman", "police kill the gunman") = 3 of 4 tokens each way
    assert rouge_l("police killed the gunman", "police kill the gunman") == pytest.approx(0.75)
    # LCS = 5, P = 5/5, R = 5/6, F = 10/11
    assert rouge_l("the cat on the mat", "the cat sat on the mat") == pytest.approx(10 / 11)
    assert rouge_l("completely different", "nothing shared") == 0.0


def test_bleu_matches_the_formula_by_hand():
    # clipped n-gram precisions 5/6, 3/5, 2/4, 1/3; equal lengths so no brevity penalty
    by_hand = 100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    assert bleu("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(by_hand, abs=0.01)
    # corpus BLEU pools the counts: 9/10, 6/8, 4/6, 2/4
    pooled = 100 * (9 / 10 * 6 / 8 * 4 / 6 * 2 / 4) ** 0.25
    assert corpus_bleu(["the cat sat on the mat", "a b c d"], ["the cat sat on a mat", "a b c d"]) == pytest.approx(pooled, abs=0.01)
    # a shorter hypothesis pays the brevity penalty exp(1 - r/c)
    short = bleu("a b c d", "a b c d e f")
    assert short == pytest.approx(100 * math.exp(1 - 6 / 4), abs=0.01)
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        corpus_bleu(["a", "b"], ["a"])


def test_recall_and_ndcg_by_hand():
    retrieved = ["d3", "d1", "d7", "d2"]
    relevant = {"d1", "d2"}
    assert recall_at_k(retrieved, relevant, 1) == 0.0
    assert recall_at_k(retrieved, relevant, 2) == 0.5
    assert recall_at_k(retrieved, relevant, 4) == 1.0
    # DCG@4 = 1/log2(3) + 1/log2(5); ideal = 1/log2(2) + 1/log2(3)
    assert ndcg_at_k(retrieved, relevant, 4) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))
    # at k=2 only d1 is found; the ideal still has two relevant documents in the top 2
    assert ndcg_at_k(retrieved, relevant, 2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["d1", "d1"], {"d1"}, 2) == 1.0  # a document counts once
    with pytest.raises(ValueError, match="no relevant ids"):
        recall_at_k(retrieved, set(), 3)


def test_summary_means_and_latency_percentiles():
    recs = [{"scores": {"f1": f, "latency_s": t}} for f, t in [(1.0, 0.1), (0.5, 0.2), (0.0, 0.3), (0.5, 1.4)]]
    out = summarize(recs + [{"answer": "unscored"}])
    assert out["count"] == 5 and out["f1"] == 0.5
    assert out["latency_s"] == pytest.approx(0.5)
    assert out["latency_s_p50"] == pytest.approx(0.25)  # between 0.2 and 0.3
    assert out["latency_s_p95"] == pytest.approx(0.3 + 0.85 * 1.1)  # linear interpolation at rank 2.85


def test_operators_score_records_and_dead_letter_bad_ones():
    recs = [
        {"id": 1, "answer": "Paris is the capital.", "reference": ["Paris", "The capital is Paris"],
         "passages": [{"id": "x"}, {"id": "fr"}], "relevant": ["fr"]},
        {"id": 2, "answer": "no reference here", "passages": [], "relevant": ["fr"]},
    ]
    env = LocalEnvironment("eval_ops")
    scored = (env.from_batch(recs).map(Timestamp, "t0").map(AnswerMetrics, name="answers")
              .map(RetrievalMetrics, ks=(1, 2)).map(Latency, "t0"))
    scored.collect("out")
    result = env.submit()
    [rec] = result.collected["out"]
    s = rec["scores"]
    # normalised "paris is capital" vs "capital is paris": not equal, but the same tokens
    assert s["em"] == 0.0 and s["f1"] == 1.0
    # best reference for ROUGE-L: LCS("paris is the capital", "the capital is paris") = 2 of 4
    assert s["rougeL"] == pytest.approx(0.5)
    assert s["bleu"] == pytest.approx(bleu("Paris is the capital.", ["Paris", "The capital is Paris"]))
    assert (s["recall@1"], s["recall@2"]) == (0.0, 1.0) and s["ndcg@2"] == pytest.approx(1 / math.log2(3))
    assert s["latency_s"] >= 0.0
    [dead] = result.dead_letters
    assert dead.operator == "answers" and "'reference'" in dead.error
    with pytest.raises(ValueError, match="unknown metrics"):
        AnswerMetrics(metrics=("em", "meteor"))
