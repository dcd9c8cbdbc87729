"""Segments (an added article is written alone, then merged), the candidate search against the exhaustive
ranking, and the same index served from Milvus (milvus-lite) instead of FAISS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.service import Byline
from bot.settings import AnswerSettings, IndexSettings
from embeddings.encoder import Encoder
from embeddings.search import HybridSearcher, SearchConfig, SearchFilters
from embeddings.store import current_generation
from tests.conftest import port_article, write_corpus

QUESTIONS = [
    "What did Baqeri propose?",
    "What did Nvidia say about export restrictions to China?",
    "Who won the Rugby World Cup final?",
    "What did Market Daily report about AI chips?",
]


def byline_for(encoder: Encoder, corpus: Path, index: Path, **settings: Any) -> Byline:
    return Byline(IndexSettings(corpus_path=corpus, index_path=index, **settings), AnswerSettings(), encoder)


@pytest.mark.parametrize("store", ["faiss", "milvus"])
def test_an_added_article_is_a_new_segment_and_answers_at_once(
    encoder: Encoder, news_corpus: Path, tmp_path: Path, store: str
) -> None:
    extra = {"vector_store": store, "milvus_uri": str(tmp_path / "milvus.db")} if store == "milvus" else {}
    byline = byline_for(encoder, news_corpus, tmp_path / "index", **extra)
    first = byline.reindex().report
    assert first.segments == 1 and first.chunks_embedded == first.chunks
    answer = byline.ask("What did Baqeri propose?")
    assert not answer.refused and "proposed joint drills with Iraq" in answer.text

    write_corpus(news_corpus, port_article(1))
    added = byline.reindex().report
    assert added.added == ["port-1"] and added.chunks_embedded == 1
    assert added.segments == 2, "the served segment is kept as it is; the new article is a segment of its own"
    generation = current_generation(tmp_path / "index")
    assert generation is not None and len(list((generation / "segments").iterdir())) == 2
    found = byline.searcher().search("Saltmarsh dock workers strike over pay", k=3)
    assert found[0].article.id == "port-1"
    strike = byline.ask("Why did the dock workers at Saltmarsh strike?")
    assert not strike.refused and strike.citations[0].article_id == "port-1"

    (news_corpus / "chip-exports.md").unlink()
    removed = byline.reindex().report
    assert removed.removed == ["chip-exports"]
    searcher = byline.searcher()
    assert "chip-exports" not in {r.article.id for r in searcher.search("AI chip export rules", k=20)}
    assert "chip-exports" not in searcher.snapshot.articles

    for n in range(2, 6):  # more rows outside the first segment than it holds: merged into one
        write_corpus(news_corpus, port_article(n))
    merged = byline.reindex().report
    assert merged.segments == 1 and merged.chunks_embedded == 4
    ids = {r.article.id for r in byline.searcher().search("dock workers strike", k=20)}
    assert {f"port-{n}" for n in range(1, 6)} <= ids and "chip-exports" not in ids
    assert byline.searcher().snapshot.vector_count() == merged.chunks
    byline.close()


def test_candidate_search_ranks_like_the_exhaustive_one(news_byline: Byline) -> None:
    searcher = news_byline.searcher()
    exhaustive = HybridSearcher(searcher.snapshot, searcher.encoder, SearchConfig(candidates=0))
    few = HybridSearcher(searcher.snapshot, searcher.encoder, SearchConfig(candidates=3))
    for question in QUESTIONS:
        full = [(r.chunk.text, round(r.score, 5)) for r in exhaustive.search(question, k=5)]
        assert [(r.chunk.text, round(r.score, 5)) for r in searcher.search(question, k=5)] == full
        top = few.search(question, k=1)
        assert [(r.chunk.text, round(r.score, 5)) for r in top] == full[:1], "the best passage is a candidate"


def test_a_filtered_search_keeps_only_what_the_filter_allows(news_byline: Byline) -> None:
    searcher = news_byline.searcher()
    only = searcher.search("chips", k=10, filters=SearchFilters(outlets=("Tech Wire",)))
    assert {r.article.outlet for r in only} == {"Tech Wire"}
    nobody = searcher.search("chips", k=10, filters=SearchFilters(authors=("Nobody",)))
    assert nobody == []
