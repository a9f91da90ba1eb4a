"""Promptors: the chat template (system + context + memory, history, question)."""

from __future__ import annotations

import pytest

from sage_core import LocalEnvironment
from sage_recipes.prompting import ChatPromptor, QAPromptor

HISTORY = [{"role": "user", "content": f"q{i}"} if i % 2 == 0 else {"role": "assistant", "content": f"a{i}"} for i in range(6)]


def test_chat_promptor_orders_system_history_question():
    rec = {
        "question": "What about sets?",
        "history": HISTORY,
        "memory": [{"role": "user", "content": "I prefer short answers."}],
        "passages": [{"id": "set#0", "text": "A set is an unordered collection."}, {"id": "dict#1", "text": "x" * 50}],
    }
    msgs = ChatPromptor(system="SYS", max_history=4, max_chars=40).execute(rec)["messages"]
    assert msgs[0] == {"role": "system", "content": (
        "SYS\n\nContext:\n[set#0] A set is an unordered collection.\n\n"
        "Earlier in this conversation:\nuser: I prefer short answers.")}
    assert [m["content"] for m in msgs[1:]] == ["q2", "a3", "q4", "a5", "What about sets?"]
    assert [m["role"] for m in msgs[1:]] == ["user", "assistant", "user", "assistant", "user"]


def test_chat_promptor_without_context_and_bad_turns_in_a_pipeline():
    env = LocalEnvironment("chat_prompt")
    recs = [{"question": "hi"}, {"question": "x", "history": [{"role": "robot", "content": "?"}]}, {"no": "question"}]
    env.from_batch(recs).map(ChatPromptor, name="chat").collect("out")
    result = env.submit()
    [ok] = result.collected["out"]
    assert [m["role"] for m in ok["messages"]] == ["system", "user"] and "Context" not in ok["messages"][0]["content"]
    errors = sorted(d.error for d in result.dead_letters)
    assert len(errors) == 2 and any("history[0] must be" in e for e in errors) and any("needs a str 'question'" in e for e in errors)


def test_qa_promptor_still_numbers_passages():
    out = QAPromptor(max_chars=10).execute({"question": "q", "passages": [{"id": "a", "text": "alpha"}, {"id": "b", "text": "beta" * 5}]})
    assert "[a] alpha" in out["messages"][1]["content"] and "[b]" not in out["messages"][1]["content"]
    with pytest.raises(TypeError, match=r"passages\[0\] needs 'id'"):
        QAPromptor().execute({"question": "q", "passages": [{"text": "no id"}]})
