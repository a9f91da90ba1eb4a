"""Word count over the Python documentation topics that ship with Python itself.

A real bounded pipeline: split text into words, key by word, keep a running count per
key in keyed state, and report the most frequent words.

    sage run examples/wordcount.py                 # local threads
    sage run examples/wordcount.py --backend dask  # same graph on a Dask cluster
"""

import re
from pydoc_data.topics import topics

from sage_core import FlatMapFunction, LocalEnvironment, MapFunction

STOP_WORDS = {"the", "a", "an", "of", "to", "and", "is", "in", "for", "be", "or", "it", "as", "that", "are", "by", "if", "with", "this", "on", "not", "can", "from"}


class Words(FlatMapFunction):
    def execute(self, text):
        return [w for w in re.findall(r"[a-z_]{3,}", text.lower()) if w not in STOP_WORDS]


class RunningCount(MapFunction):
    def execute(self, word):
        count = self.ctx.state.get("n", 0) + 1
        self.ctx.state["n"] = count
        return word, count


def build(env):
    counts = (
        env.from_batch(sorted(topics.values()))
        .flatmap(Words, parallelism=2)
        .keyby(lambda w: w)
        .map(RunningCount, parallelism=2)
    )
    counts.collect("counts")
    return env


if __name__ == "__main__":
    env = build(LocalEnvironment("wordcount"))
    result = env.submit()
    totals = {}
    for word, count in result.collected["counts"]:
        totals[word] = max(count, totals.get(word, 0))
    top = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    print(f"{len(topics)} documentation topics, {sum(totals.values())} words, {len(totals)} distinct")
    for word, count in top:
        print(f"{count:6d}  {word}")
    print(result.summary())
