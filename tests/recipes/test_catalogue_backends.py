"""The operator catalogue on every backend: HTTP source, evaluation, chat promptor, agent, sinks."""

from __future__ import annotations

import json
import sqlite3

import pytest

pytest.importorskip("openai", reason="needs openai (the langchain extra)")
pytest.importorskip("sacrebleu", reason="needs sacrebleu (the eval extra)")

from sage_core import LocalEnvironment  # noqa: E402
from sage_recipes.agents import ReActAgent  # noqa: E402
from sage_recipes.evaluation import AnswerMetrics, Latency, RetrievalMetrics, Timestamp, summarize  # noqa: E402
from sage_recipes.io import HttpJsonSource, JsonlSource, SQLiteSink  # noqa: E402
from sage_recipes.prompting import ChatPromptor  # noqa: E402
from tests.recipes.api_server import ITEMS, ApiServer  # noqa: E402
from tests.recipes.openai_server import FakeOpenAIServer  # noqa: E402
from tests.recipes.test_agents import multiply, multiply_then_answer  # noqa: E402

QA = [
    {"id": "q1", "question": "Capital of France?", "answer": "Paris", "reference": "Paris",
     "passages": [{"id": "fr", "text": "Paris is in France."}], "relevant": ["fr"]},
    {"id": "q2", "question": "Largest planet?", "answer": "Saturn", "reference": "Jupiter",
     "passages": [{"id": "sat", "text": "Saturn has rings."}, {"id": "jup", "text": "Jupiter is the largest."}], "relevant": ["jup"]},
]


def test_catalogue_runs_on_every_backend(backend, tmp_path):
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in QA))
    db = tmp_path / "scores.db"
    env = LocalEnvironment(f"catalogue_{backend}")
    scored = (env.from_batch(JsonlSource, str(tmp_path / "qa.jsonl")).map(Timestamp).map(AnswerMetrics)
              .map(RetrievalMetrics, ks=(1, 2)).map(Latency).map(ChatPromptor))
    scored.sink(SQLiteSink, str(db), "scores", columns=["scores"], parallelism=1)
    scored.collect("scored")
    result = env.submit(backend=backend)
    summary = summarize(result.collected["scored"])
    assert summary["count"] == 2 and summary["em"] == 0.5 and summary["recall@1"] == 0.5 and summary["recall@2"] == 1.0
    assert all(r["messages"][-1]["content"] == r["question"] for r in result.collected["scored"])
    with sqlite3.connect(db) as conn:
        stored = dict(conn.execute("SELECT id, scores FROM scores").fetchall())
    assert json.loads(stored["q1"])["em"] == 1.0 and json.loads(stored["q2"])["ndcg@1"] == 0.0

    with ApiServer() as api, FakeOpenAIServer(responder=multiply_then_answer) as llm:
        env = LocalEnvironment(f"catalogue_http_{backend}")
        env.from_source(HttpJsonSource, api.url("/links"), next_key="next").collect("items")
        env.from_batch([{"question": "What is 4 times 5 ?"}]).map(ReActAgent, [multiply], llm.base_url).collect("answers")
        result = env.submit(backend=backend)
    assert sorted(result.collected["items"], key=lambda r: r["id"]) == ITEMS
    [answer] = result.collected["answers"]
    assert answer["answer"] == "The product is 20." and answer["trace"][1]["result"] == 20
