"""Keyed bundles (keys and records as parallel lists) and hash partitioning over them."""

import pickle
import random

import pytest

from sage_core import LocalEnvironment
from sage_core.runtime.keyed import Keyed
from sage_core.runtime.partition import by_key, stable_hash
from tests import pipelines as p


def test_a_bundle_reads_as_pairs_and_round_trips_through_pickle():
    bundle = Keyed(["a", "b", "a"], [1, 2, 3])
    assert list(bundle) == [("a", 1), ("b", 2), ("a", 3)]
    assert bundle[1] == ("b", 2) and bundle[1:].records == [2, 3] and len(bundle) == 3
    assert bundle == [("a", 1), ("b", 2), ("a", 3)] and bundle != [("a", 1)]
    assert Keyed.of(list(bundle)) == bundle and Keyed.of(bundle) is bundle
    assert (bundle + [("c", 4)]).keys == ["a", "b", "a", "c"]
    assert pickle.loads(pickle.dumps(bundle)) == bundle
    assert not Keyed([], [])


def test_by_key_sends_each_key_to_its_owner_in_order():
    rng = random.Random(3)
    keys = [rng.choice(["ann", "bob", "cy", 7, 2.5, None, ("t", 1)]) for _ in range(500)]
    bundle = Keyed(keys, list(range(500)))
    parts = by_key(bundle, 3)
    assert sorted(r for _, part in parts for r in part.records) == list(range(500))
    for target, part in parts:
        assert part.records == sorted(part.records)  # arrival order kept
        assert {stable_hash(k) % 3 for k in part.keys} == {target}
        assert all(keys[r] == k for k, r in part)


def test_by_key_routes_each_key_by_its_own_hash_whatever_else_is_in_the_bundle():
    np = pytest.importorskip("numpy")
    # 5 == numpy.int64(5), but their stable hashes differ: each must keep its own owner
    for keys in ([5, np.int64(5)], [np.int64(5), 5], [np.int64(5)], [5, 1.0, True, 1, "5", b"5", None]):
        parts = by_key(Keyed(list(keys), list(range(len(keys)))), 4)
        assert {i: target for target, part in parts for i in part.records} == {i: stable_hash(k) % 4 for i, k in enumerate(keys)}


def test_by_key_accepts_unhashable_keys():
    keys = [["x"], ["y"], ["x"], ["z"]]
    parts = by_key(Keyed(keys, ["r1", "r2", "r3", "r4"]), 2)
    expected: dict = {}
    for key, record in zip(keys, ["r1", "r2", "r3", "r4"]):
        expected.setdefault(stable_hash(key) % 2, []).append(record)
    assert {target: part.records for target, part in parts} == expected


def test_keyed_operators_keep_keys_aligned_with_records_across_stages():
    env = LocalEnvironment("aligned")
    words = [f"w{i % 13}" for i in range(400)]
    (env.from_batch(words)
        .map(str.upper, parallelism=2)
        .keyby(str.lower)
        .filter(lambda w: w != "W3", parallelism=2)
        .flatmap(lambda w: [w, w + "!"], parallelism=2)
        .map(p.WhereAmI, parallelism=2)
        .collect("out"))
    out = env.submit().collected["out"]
    assert len(out) == 2 * (400 - words.count("w3"))
    assert all(record.rstrip("!").lower() == key for key, _, record in out)
    assert {index for _, index, _ in out} == {0, 1}
    for key, index, _ in out:
        assert stable_hash(key) % 2 == index
