"""The embedding cache: vectors by (model, text) hash, kept on disk across builds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from embeddings.cache import EmbeddingCache, text_key

DIMENSION = 8


def vectors(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, DIMENSION)).astype(np.float32)


def test_text_key_depends_on_the_model_and_the_exact_text() -> None:
    key = text_key("model-a", "The bridge reopened.")
    assert key == text_key("model-a", "The bridge reopened.")
    assert key != text_key("model-b", "The bridge reopened.")
    assert key != text_key("model-a", "The bridge reopened. ")
    assert text_key("ab", "c") != text_key("a", "bc"), "model and text stay apart"
    assert len(key) == 64 and int(key, 16) >= 0


def test_vectors_survive_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "vectors.sqlite"
    keys = [text_key("m", f"text {i}") for i in range(3)]
    stored = vectors(3)
    cache = EmbeddingCache(path, DIMENSION)
    cache.put_many(keys, stored)
    cache.close()

    reopened = EmbeddingCache(path, DIMENSION)
    found = reopened.get_many([*keys, text_key("m", "never stored")])
    reopened.close()
    assert set(found) == set(keys)
    for key, vector in zip(keys, stored):
        assert found[key].dtype == np.float32
        np.testing.assert_array_equal(found[key], vector)


def test_many_keys_are_looked_up_in_batches(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "vectors.sqlite", DIMENSION)
    keys = [text_key("m", f"text {i}") for i in range(1234)]  # more than one query's worth of parameters
    stored = vectors(len(keys), seed=1)
    cache.put_many(keys, stored)
    found = cache.get_many(keys)
    assert len(found) == len(keys)
    np.testing.assert_array_equal(found[keys[1000]], stored[1000])


def test_a_second_put_replaces_the_vector(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "vectors.sqlite", DIMENSION)
    key = text_key("m", "text")
    cache.put_many([key], vectors(1, seed=1))
    cache.put_many([key], vectors(1, seed=2))
    np.testing.assert_array_equal(cache.get_many([key])[key], vectors(1, seed=2)[0])


def test_vectors_of_another_dimension_are_not_returned(tmp_path: Path) -> None:
    """E.g. a cache left by a model with other vectors: those entries are misses, not wrong vectors."""
    path = tmp_path / "vectors.sqlite"
    key = text_key("m", "text")
    old = EmbeddingCache(path, 4)
    old.put_many([key], np.ones((1, 4), dtype=np.float32))
    old.close()
    assert EmbeddingCache(path, DIMENSION).get_many([key]) == {}


def test_keep_only_forgets_texts_no_longer_indexed(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "vectors.sqlite", DIMENSION)
    keys = [text_key("m", f"text {i}") for i in range(4)]
    cache.put_many(keys, vectors(4))
    cache.keep_only({keys[0], keys[2]})
    assert set(cache.get_many(keys)) == {keys[0], keys[2]}
    cache.keep_only(set())
    assert cache.get_many(keys) == {}


@pytest.mark.parametrize(
    "damage",
    [b"this is not a database" * 100, b"SQLite format 3\x00" + b"\xff" * 4080],
    ids=["garbage", "bad-header"],
)
def test_a_damaged_cache_file_is_replaced_by_an_empty_one(tmp_path: Path, damage: bytes) -> None:
    path = tmp_path / "vectors.sqlite"
    path.write_bytes(damage)
    cache = EmbeddingCache(path, DIMENSION)
    key = text_key("m", "text")
    assert cache.get_many([key]) == {}
    cache.put_many([key], vectors(1))
    cache.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM vectors").fetchone() == (1,)


def _damage_data_pages(path: Path) -> None:
    """Overwrite the second half of a database whose first page (the schema) stays intact."""
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(size // 2)
        handle.write(b"\xff" * (size // 2))


def test_a_cache_damaged_past_its_first_page_costs_only_time(tmp_path: Path) -> None:
    path = tmp_path / "vectors.sqlite"
    keys = [text_key("m", f"text {i}") for i in range(2000)]
    cache = EmbeddingCache(path, DIMENSION)
    cache.put_many(keys, vectors(len(keys)))
    cache.close()
    _damage_data_pages(path)

    cache = EmbeddingCache(path, DIMENSION)  # the schema page still reads fine
    assert cache.get_many(keys) == {}, "every vector is a miss: they are embedded again"
    cache.put_many(keys[:2], vectors(2, seed=3))
    np.testing.assert_array_equal(cache.get_many(keys[:2])[keys[1]], vectors(2, seed=3)[1])
    cache.close()

    cache = EmbeddingCache(path, DIMENSION)
    cache.put_many(keys, vectors(len(keys)))
    cache.close()
    _damage_data_pages(path)
    cache = EmbeddingCache(path, DIMENSION)
    cache.keep_only(set(keys[:10]))  # the end of a build: a damaged cache is simply started over
    assert cache.get_many(keys) == {}
    cache.close()


def test_sentence_spans_are_read_without_their_vectors_and_only_where_the_vectors_fit(tmp_path: Path) -> None:
    path = tmp_path / "vectors.sqlite"
    fits, other_dimension = text_key("m", "fits"), text_key("m", "other")
    spans = np.array([[0, 5], [6, 12]], dtype=np.int32)
    cache = EmbeddingCache(path, DIMENSION)
    cache.put_many([fits], vectors(1), [(spans, vectors(2, seed=1).astype(np.float16))])
    cache.close()
    old = EmbeddingCache(path, 4)  # e.g. left by a model with other vectors
    old.put_many([other_dimension], np.ones((1, 4), dtype=np.float32), [(spans, np.ones((2, 4), dtype=np.float16))])
    old.close()

    cache = EmbeddingCache(path, DIMENSION)
    found = cache.get_sentence_spans([fits, other_dimension, text_key("m", "never stored")])
    assert list(found) == [fits]
    np.testing.assert_array_equal(found[fits], spans)
    assert list(cache.get_sentences([fits, other_dimension])) == [fits]
