"""Searches in one batch give what each search gives alone: several query vectors scored in one pass over a
FAISS store (exact and HNSW), and `HybridSearcher.search_many` over a real index of two segments, on FAISS
and on Milvus (milvus-lite)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.service import Byline
from bot.settings import AnswerSettings, IndexSettings
from embeddings.chunking import sentence_spans
from embeddings.encoder import Encoder
from embeddings.query import QueryHints
from embeddings.rows import RowFields
from embeddings.search import SearchFilters, SearchRequest, SearchResult
from embeddings.vectors.faiss_store import FaissVectorStore
from tests.conftest import front_matter_article, news_files, seed_text, write_corpus

QUESTIONS = [
    "What did Baqeri propose?",
    "Iraq and Iran security cooperation along the border",
    "What did Nvidia say about export restrictions to China?",
    "Who won the Rugby World Cup final?",
    "Why did the dock workers at Saltmarsh strike?",
]


@pytest.fixture(scope="module")
def sentences(encoder: Encoder) -> tuple[list[str], np.ndarray]:
    """The seed article's sentences and their vectors from the real model."""
    text = seed_text()
    found = [text[start:end] for start, end in sentence_spans(text)][:120]
    return found, encoder.encode(found)


def store_of(folder: Path, vectors: np.ndarray, hnsw_threshold: int) -> FaissVectorStore:
    count = len(vectors)
    store = FaissVectorStore(folder, vectors.shape[1], hnsw_threshold)
    fields = RowFields(
        tenants=[""] * count,
        outlets=["Outlet " + "AB"[i % 2] for i in range(count)],
        authors=[""] * count,
        days=list(range(count)),
    )
    store.add(np.arange(10, 10 + count, dtype=np.int64), vectors, fields)
    store.save()
    return store


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_several_vectors_in_one_pass_find_what_each_finds_alone(
    encoder: Encoder, sentences: tuple[list[str], np.ndarray], tmp_path: Path, kind: str
) -> None:
    texts, vectors = sentences
    store = store_of(tmp_path / "store", vectors, hnsw_threshold=1 if kind == "hnsw" else 10**9)
    assert store.kind == kind
    queries = encoder.encode(QUESTIONS)
    rows = len(vectors)
    few = np.zeros(rows, dtype=bool)
    few[:3] = True  # a filter allowing a small share: searched exactly over those rows
    half = np.arange(rows) % 2 == 0
    alloweds: list[list[np.ndarray | None]] = [[None, few], [half], [few, None, half], [np.zeros(rows, bool)], [None]]
    batched = store.search_rows_batch(queries, 7, alloweds)
    for query, mine, found in zip(queries, alloweds, batched):
        alone = store.search_rows_many(query, 7, mine)
        assert len(found) == len(alone) == len(mine)
        for (rows_batched, scores_batched), (rows_alone, scores_alone) in zip(found, alone):
            np.testing.assert_array_equal(rows_batched, rows_alone)
            np.testing.assert_array_equal(scores_batched, scores_alone)
    if kind == "flat":  # exact search: the true nearest vectors, best first
        for query, mine, found in zip(queries, alloweds, batched):
            for allowed, (found_rows, found_scores) in zip(mine, found):
                candidates = np.arange(rows) if allowed is None else np.flatnonzero(allowed)
                similarity = vectors[candidates] @ query
                best = candidates[np.argsort(-similarity, kind="stable")[:7]]
                assert list(found_rows) == list(best)
                np.testing.assert_allclose(found_scores, vectors[found_rows] @ query, atol=1e-5)
    assert [len(rows_found) for rows_found, _ in batched[3]] == [0], "a filter allowing nothing finds nothing"
    store.close()


@pytest.fixture(scope="module", params=["faiss", "milvus"])
def two_segments(
    encoder: Encoder, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Byline]:
    """The news corpus indexed, then one more article added: an index of two segments."""
    folder = tmp_path_factory.mktemp(f"batch-{request.param}")
    corpus = write_corpus(folder / "corpus", news_files())
    extra: dict[str, Any] = (
        {"vector_store": "milvus", "milvus_uri": str(folder / "milvus.db")} if request.param == "milvus" else {}
    )
    byline = Byline(IndexSettings(corpus_path=corpus, index_path=folder / "index", **extra), AnswerSettings(), encoder)
    byline.reindex()
    strike = front_matter_article(
        "Port strike goes on",
        "Harbour News",
        "2023-12-01",
        ["Dock workers at the port of Saltmarsh voted to continue the strike over pay, the union said."],
    )
    write_corpus(corpus, {"port-strike.md": strike})
    assert byline.reindex().report.segments == 2
    yield byline
    byline.close()


def summary(results: list[SearchResult]) -> list[tuple]:
    return [(r.row, r.article.id, r.chunk.text, r.score, r.dense, r.lexical) for r in results]


def test_a_batch_of_searches_gives_each_search_its_own_results(two_segments: Byline, encoder: Encoder) -> None:
    searcher = two_segments.searcher()
    vectors = encoder.encode(QUESTIONS)
    outlet = searcher.snapshot.outlets[0]
    requests = [
        SearchRequest(QUESTIONS[0], vectors[0], 6),
        SearchRequest(QUESTIONS[1], vectors[1], 30, hints=QueryHints(outlets=[outlet], days=[date(2023, 12, 1)])),
        SearchRequest(QUESTIONS[2], vectors[2], 5, SearchFilters(outlets=(outlet,))),
        SearchRequest(QUESTIONS[0], vectors[3], 6, hints=QueryHints()),  # same text, another vector
        SearchRequest(QUESTIONS[4], vectors[4], 3, SearchFilters(since=date(2023, 11, 1))),
        SearchRequest(QUESTIONS[3], vectors[3], 10, SearchFilters(outlets=("No Such Outlet",))),
    ]
    batched = searcher.search_many(requests)
    alone = [searcher.search(r.text, r.k, r.filters, r.hints, r.vector) for r in requests]
    assert [summary(found) for found in batched] == [summary(found) for found in alone]
    chunks = searcher.snapshot.rows
    assert [len(found) for found in batched] == [6, chunks, len(batched[2]), 6, len(batched[4]), 0]
    assert {r.article.outlet for r in batched[2]} == {outlet} and batched[2]
    assert batched[4][0].article.id == "port-strike", "the second segment's article is found"
    assert summary(batched[0]) != summary(batched[3]), "each request is searched with its own vector"
    assert searcher.search_many([]) == []
