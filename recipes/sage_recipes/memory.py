"""Conversation memory in sage_db: turns stored with embeddings, recalled by relevance or recency.

:class:`ConversationMemory` keeps each turn (``role``, ``content``) of each conversation as a
record of a sage_db collection: id ``"<conversation>/<turn number>"``, the content's
embedding (the shipped all-MiniLM-L6-v2 by default), metadata ``{"conversation", "turn",
"role"}``. :meth:`~ConversationMemory.recent` returns the last turns in order;
:meth:`~ConversationMemory.recall` the turns of that conversation most similar to a query
(a dense search filtered with ``where={"conversation": id}``).

Two operators put it in a pipeline, around a promptor and a generator:

- :class:`RecallMemory` (a reader) adds ``history`` (the recent turns) and ``memory`` (older
  turns relevant to the question) to records ``{"conversation", "question"}``;
- :class:`RememberTurns` (the single writer, ``parallelism=1``) stores the question and the
  ``answer`` as two new turns and passes the record on.

Turns written while a job runs are seen by :class:`RecallMemory` from the next record on;
records of one conversation in the same bundle do not see each other's turns.

Example::

    chat = env.from_batch([{"conversation": "c1", "question": "And for lists?"}])
    with_memory = chat.map(RecallMemory, "data/memory", recent=6, k=3)
    answers = batch_map(with_memory.map(ChatPromptor), OpenAIChatGenerator)
    answers.map(RememberTurns, "data/memory", parallelism=1).collect("answers")
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from sage_core.api.functions import MapFunction
from sage_recipes.embedding import encode_texts, load_sentence_transformer

__all__ = ["ConversationMemory", "RecallMemory", "RememberTurns"]

ROLES = ("system", "user", "assistant", "tool")


def _check_conversation(conversation: Any) -> str:
    if not isinstance(conversation, str) or not conversation or "/" in conversation:
        msg = f"a conversation id must be a non-empty str without '/', got {conversation!r}"
        raise ValueError(msg)
    return conversation


class ConversationMemory:
    """Turns of many conversations in the sage_db collection ``collection`` at ``path``.

    ``mode="w"`` is the single writer (creates the database); ``mode="r"`` a reader that
    sees new turns after :meth:`refresh`. ``model`` is the sentence-transformers model
    (``None``: the shipped all-MiniLM-L6-v2).

    Example::

        mem = ConversationMemory("data/memory")
        mem.add("c1", "user", "My dog is called Rex.")
        mem.recall("c1", "What is my dog's name?", k=1)[0]["content"]   # 'My dog is called Rex.'
    """

    def __init__(self, path: str | os.PathLike[str], collection: str = "memory", *, mode: str = "w", model: str | None = None, sync: bool = False):
        from sage_db import SageDB

        self.path = os.fspath(path)
        self.model = load_sentence_transformer(model)
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.db = SageDB.open(self.path, dim=self.dim, mode=mode, sync=sync)
        self.collection_name = collection
        self.col: Any = None
        self._next_turn: dict[str, int] = {}
        self._open_collection()

    def _open_collection(self) -> Any:
        if self.col is None:
            if self.db.mode == "w" or self.collection_name in self.db.collections():
                self.col = self.db.collection(self.collection_name, metric="cosine")
        return self.col

    def refresh(self) -> None:
        """Reader: see the turns the writer added since."""
        if self._open_collection() is not None and self.db.mode == "r":
            self.col.refresh()

    def _embed(self, texts: list[str]) -> np.ndarray:
        return encode_texts(self.model, texts)

    def _exists(self, conversation: str, turn: int) -> bool:
        return self.col.get([f"{conversation}/{turn}"])[0] is not None

    def turns(self, conversation: str) -> int:
        """How many turns ``conversation`` has (0 for a new one)."""
        conversation = _check_conversation(conversation)
        if conversation in self._next_turn:
            return self._next_turn[conversation]
        if self._open_collection() is None or not self._exists(conversation, 0):
            return 0
        hi = 1  # turns are numbered 0..n-1 without gaps: find n by doubling, then bisecting
        while self._exists(conversation, hi):
            hi *= 2
        lo = hi // 2  # lo exists, hi does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if self._exists(conversation, mid) else (lo, mid)
        return hi

    def add(self, conversation: str, role: str, content: str) -> str:
        """Append one turn; returns its id."""
        return self.add_turns(conversation, [(role, content)])[0]

    def add_turns(self, conversation: str, turns: list[tuple[str, str]]) -> list[str]:
        """Append ``[(role, content), ...]`` in one write; returns their ids."""
        conversation = _check_conversation(conversation)
        if self.db.mode != "w":
            msg = f"ConversationMemory at {self.path} is open read-only; open it with mode='w' to add turns"
            raise PermissionError(msg)
        for i, (role, content) in enumerate(turns):
            if role not in ROLES or not isinstance(content, str):
                msg = f"turn {i} of {conversation!r}: role must be one of {ROLES} and content a str, got {(role, content)!r:.120}"
                raise ValueError(msg)
        start = self.turns(conversation)
        ids = [f"{conversation}/{start + i}" for i in range(len(turns))]
        self.col.upsert(
            ids=ids,
            vectors=self._embed([c for _, c in turns]),
            metadata=[{"conversation": conversation, "turn": start + i, "role": r} for i, (r, _) in enumerate(turns)],
            texts=[c for _, c in turns],
        )
        self._next_turn[conversation] = start + len(turns)
        return ids

    @staticmethod
    def _turn(rec: dict[str, Any], score: float | None = None) -> dict[str, Any]:
        meta = rec.get("metadata") or {}
        out = {"role": meta.get("role"), "content": rec.get("text") or "", "turn": meta.get("turn")}
        if score is not None:
            out["score"] = score
        return out

    def recent(self, conversation: str, n: int = 6) -> list[dict[str, Any]]:
        """The last ``n`` turns, oldest first: ``[{"role", "content", "turn"}]``."""
        if self.db.mode == "r":
            self._next_turn.pop(conversation, None)  # the writer may have added turns
        total = self.turns(conversation)
        if total == 0 or n <= 0:
            return []
        ids = [f"{conversation}/{t}" for t in range(max(0, total - n), total)]
        return [self._turn(r) for r in self.col.get(ids) if r is not None]

    def recall(self, conversation: str, query: str, k: int = 4, *, before_turn: int | None = None) -> list[dict[str, Any]]:
        """The ``k`` turns of ``conversation`` most similar to ``query``, best first (with ``score``).

        ``before_turn`` leaves out turns numbered from it on (e.g. the recent ones already
        in the prompt).
        """
        conversation = _check_conversation(conversation)
        if self._open_collection() is None or k <= 0:
            return []
        where: dict[str, Any] = {"conversation": conversation}
        if before_turn is not None:
            if before_turn <= 0:
                return []
            where = {"$and": [where, {"turn": {"$lt": before_turn}}]}
        hits = self.col.search(self._embed([query])[0], k, where=where, include=("metadata", "text"))
        return [self._turn(rec, float(s)) for rec, s in zip(hits.records or [], hits.scores.tolist())]

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ConversationMemory:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _record(data: Any, who: str) -> tuple[dict[str, Any], str]:
    if not isinstance(data, dict) or not isinstance(data.get("question"), str):
        msg = f"{who}: a record needs a str 'question' and a 'conversation' id, got {data!r:.120}"
        raise TypeError(msg)
    return data, _check_conversation(data.get("conversation"))


class RecallMemory(MapFunction):
    """Adds ``history`` (the last ``recent`` turns) and ``memory`` (up to ``k`` older relevant turns).

    Opens the memory read-only; before the first turn is ever written both lists are empty.
    """

    def __init__(self, path: str, collection: str = "memory", *, recent: int = 6, k: int = 4, model: str | None = None):
        self.path = str(path)
        self.collection = collection
        self.recent = recent
        self.k = k
        self.model = model
        self.memory: ConversationMemory | None = None

    def _open(self) -> ConversationMemory | None:
        if self.memory is None and os.path.exists(os.path.join(self.path, "SAGEDB")):
            self.memory = ConversationMemory(self.path, self.collection, mode="r", model=self.model)
        return self.memory

    def execute(self, data: Any) -> dict[str, Any]:
        record, conversation = _record(data, "RecallMemory")
        memory = self._open()
        if memory is None:
            return {**record, "history": [], "memory": []}
        memory.refresh()
        history = memory.recent(conversation, self.recent)
        first_recent = history[0]["turn"] if history else None
        recalled = memory.recall(conversation, record["question"], self.k, before_turn=first_recent)
        strip = lambda turns: [{"role": t["role"], "content": t["content"]} for t in turns]  # noqa: E731
        return {**record, "history": strip(history), "memory": strip(recalled)}

    def close(self) -> None:
        if self.memory is not None:
            self.memory.close()
            self.memory = None


class RememberTurns(MapFunction):
    """Stores ``question`` (as a user turn) and ``answer`` (as an assistant turn); passes the record on.

    The single writer of the memory: keep ``parallelism=1``. A record without an answer
    (e.g. an agent that ran out of steps) stores only the question.
    """

    def __init__(self, path: str, collection: str = "memory", *, model: str | None = None, answer_key: str = "answer"):
        self.path = str(path)
        self.collection = collection
        self.model = model
        self.answer_key = answer_key
        self.memory: ConversationMemory | None = None

    def open(self) -> None:
        if self.memory is None:
            self.memory = ConversationMemory(self.path, self.collection, mode="w", model=self.model)

    def execute(self, data: Any) -> dict[str, Any]:
        record, conversation = _record(data, "RememberTurns")
        self.open()
        assert self.memory is not None
        turns = [("user", record["question"])]
        if isinstance(record.get(self.answer_key), str):
            turns.append(("assistant", record[self.answer_key]))
        self.memory.add_turns(conversation, turns)
        return record

    def close(self) -> None:
        if self.memory is not None:
            self.memory.db.checkpoint()
            self.memory.close()
            self.memory = None
