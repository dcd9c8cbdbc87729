"""Hybrid search through its public face: ranking, filters, question hints and comparison interleaving.

A small real index (real model, real FAISS, real BM25): three Coastal Herald articles about a harbor
expansion, a weaker Valley Times mention of it, an undated note, and two unrelated articles.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from corpus.models import Article
from embeddings.chunking import ChunkerSettings
from embeddings.encoder import Encoder
from embeddings.indexer import build_index
from embeddings.query import QueryHints
from embeddings.search import HybridSearcher, SearchConfig, SearchFilters, SearchResult
from embeddings.store import open_index

SETTINGS = ChunkerSettings(max_tokens=128, overlap_tokens=24)
HARBOR = {"herald-vote", "herald-cost", "herald-protest", "valley-brief", "undated-note"}


def _article(id: str, outlet: str, day: str | None, title: str, text: str) -> Article:
    published = datetime.fromisoformat(day).replace(tzinfo=timezone.utc) if day else None
    return Article(id=id, outlet=outlet, published=published, title=title, paragraphs=[text])


ARTICLES = [
    _article(
        "herald-vote",
        "Coastal Herald",
        "2023-10-02",
        "Council approves harbor expansion",
        "The city council approved the harbor expansion on Monday, voting seven to two for the plan to dredge "
        "the channel and build two new cargo berths.",
    ),
    _article(
        "herald-cost",
        "Coastal Herald",
        "2023-10-03",
        "Harbor expansion cost rises",
        "The harbor expansion will cost 40 million dollars more than planned because dredging the channel is "
        "harder than engineers expected.",
    ),
    _article(
        "herald-protest",
        "Coastal Herald",
        "2023-10-01",
        "Residents protest harbor expansion",
        "Residents protested the harbor expansion outside city hall, saying the dredging and cargo traffic "
        "would harm the bay.",
    ),
    _article(
        "valley-brief",
        "Valley Times",
        "2023-10-10",
        "Region in brief",
        "Upriver towns expect more freight trucks once the coastal port grows, a regional planner said.",
    ),
    _article(
        "valley-festival",
        "Valley Times",
        "2023-09-15",
        "Folk festival returns",
        "The folk music festival returned to the valley this weekend with forty bands and record crowds.",
    ),
    _article(
        "undated-note",
        "",
        None,
        "Harbor notes",
        "Notes on the harbor expansion: the dredging schedule and the new cargo berths.",
    ),
    _article(
        "wire-chips",
        "Tech Wire",
        "2023-10-03",
        "Chip exports curbed",
        "New rules restrict exports of advanced AI chips, the Commerce Department said.",
    ),
]


@pytest.fixture(scope="module")
def searcher(encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> HybridSearcher:
    index = tmp_path_factory.mktemp("search") / "index"
    build_index(ARTICLES, index, encoder, SETTINGS)
    return HybridSearcher(open_index(index, encoder.model_name, SETTINGS), encoder)


def ids(results: list[SearchResult]) -> list[str]:
    return [r.article.id for r in results]


def test_the_k_best_passages_best_first(searcher: HybridSearcher) -> None:
    results = searcher.search("harbor expansion dredging", k=5)
    assert len(results) == 5
    assert set(ids(results[:4])) == {"herald-vote", "herald-cost", "herald-protest", "undated-note"}
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    assert all(r.chunk.text in r.article.body for r in results), "each result is a passage of its article"
    assert len(searcher.search("harbor expansion dredging", k=100)) == len(ARTICLES), "one chunk per article"


def test_a_given_query_vector_is_used_instead_of_encoding_again(searcher: HybridSearcher, encoder: Encoder) -> None:
    question = "harbor expansion dredging"
    own = encoder.encode([question])[0]
    assert ids(searcher.search(question, k=7, query_vector=own)) == ids(searcher.search(question, k=7))
    festival = encoder.encode(["folk music festival with forty bands"])[0]
    with_other = searcher.search(question, k=7, query_vector=festival)
    assert max(with_other, key=lambda r: r.dense).article.id == "valley-festival"


def test_outlet_filter_keeps_only_those_outlets(searcher: HybridSearcher) -> None:
    results = searcher.search("harbor expansion", k=10, filters=SearchFilters(outlets=("Valley Times",)))
    assert ids(results) == ["valley-brief", "valley-festival"]
    both = searcher.search("harbor", k=10, filters=SearchFilters(outlets=("Valley Times", "Tech Wire")))
    assert set(ids(both)) == {"valley-brief", "valley-festival", "wire-chips"}


def test_date_filters_are_inclusive_and_leave_undated_articles_out(searcher: HybridSearcher) -> None:
    window = SearchFilters(since=date(2023, 10, 2), until=date(2023, 10, 3))
    assert set(ids(searcher.search("harbor expansion", k=10, filters=window))) == {
        "herald-vote",
        "herald-cost",
        "wire-chips",
    }
    since = searcher.search("harbor expansion", k=10, filters=SearchFilters(since=date(2023, 10, 3)))
    assert set(ids(since)) == {"herald-cost", "wire-chips", "valley-brief"}
    until = searcher.search("harbor expansion", k=10, filters=SearchFilters(until=date(2023, 9, 30)))
    assert ids(until) == ["valley-festival"]
    assert "undated-note" in ids(searcher.search("harbor expansion", k=10)), "unfiltered, it is found"


def test_filters_that_match_nothing_give_no_results(searcher: HybridSearcher) -> None:
    assert searcher.search("harbor", filters=SearchFilters(outlets=("Daily Planet",))) == []
    assert searcher.search("harbor", filters=SearchFilters(since=date(2024, 1, 1))) == []
    assert searcher.search("harbor", filters=SearchFilters(outlets=("Tech Wire",), until=date(2023, 1, 1))) == []


def test_an_outlet_named_in_the_question_boosts_its_passages(searcher: HybridSearcher) -> None:
    question = "What did Valley Times report about the harbor expansion?"
    # Without the sentence side: a named outlet also leaves the words a sentence is matched on.
    words_only = HybridSearcher(searcher.snapshot, searcher.encoder, SearchConfig(sentence_weight=0))
    hinted = {r.article.id: r.score for r in words_only.search(question, k=10)}
    plain = {r.article.id: r.score for r in words_only.search(question, k=10, hints=QueryHints())}
    boost = SearchConfig().outlet_boost
    for article in ARTICLES:
        expected = boost if article.outlet == "Valley Times" else 0.0
        assert hinted[article.id] - plain[article.id] == pytest.approx(expected)
    assert ids(searcher.search(question, k=2)) == ["valley-festival", "valley-brief"]


def test_a_day_named_in_the_question_lifts_passages_published_within_a_day(searcher: HybridSearcher) -> None:
    question = "What happened with the harbor expansion on October 10, 2023?"
    assert ids(searcher.search(question, k=1)) == ["valley-brief"]
    assert ids(searcher.search(question, k=7, hints=QueryHints())).index("valley-brief") > 0
    hinted = {
        r.article.id: r.score for r in searcher.search("harbor", k=10, hints=QueryHints(days=[date(2023, 10, 2)]))
    }
    plain = {r.article.id: r.score for r in searcher.search("harbor", k=10, hints=QueryHints())}
    within_a_day = {"herald-vote", "herald-cost", "herald-protest", "wire-chips"}  # 1 to 3 October
    boost = SearchConfig().day_boost
    for article in ARTICLES:
        expected = boost if article.id in within_a_day else 0.0
        assert hinted[article.id] - plain[article.id] == pytest.approx(expected), article.id


def test_a_comparison_of_two_outlets_shows_both_near_the_top(searcher: HybridSearcher) -> None:
    question = "How did Coastal Herald and Valley Times cover the harbor expansion?"
    flat = HybridSearcher(searcher.snapshot, searcher.encoder, SearchConfig(per_outlet_interleave=False))
    unmixed = ids(flat.search(question, k=7))
    assert set(unmixed[:3]) == {"herald-vote", "herald-protest", "herald-cost"}, "by score, the Herald fills the top"
    mixed = ids(searcher.search(question, k=7))
    assert mixed[0] == unmixed[0], "the single best passage stays first"
    assert {"Coastal Herald", "Valley Times"} <= {searcher.snapshot.articles[i].outlet for i in mixed[:3]}
    assert mixed.index("valley-brief") < unmixed.index("valley-brief")
    assert sorted(mixed) == sorted(unmixed), "interleaving reorders, never drops"


def test_a_comparison_of_two_days_shows_both_near_the_top(searcher: HybridSearcher) -> None:
    question = "What was reported about the harbor expansion on October 2, 2023 and October 10, 2023?"
    flat = HybridSearcher(searcher.snapshot, searcher.encoder, SearchConfig(per_day_interleave=False))
    unmixed = ids(flat.search(question, k=7))
    mixed = ids(searcher.search(question, k=7))
    assert unmixed.index("valley-brief") >= 3
    assert mixed[0] == unmixed[0] and "valley-brief" in mixed[:3]
    assert sorted(mixed) == sorted(unmixed)


def test_a_question_sharing_no_word_with_the_articles_ranks_by_meaning(searcher: HybridSearcher) -> None:
    results = searcher.search("Which semiconductor firms lose sales?", k=3)
    assert all(r.lexical == 0 for r in results)
    assert results[0].article.id == "wire-chips"
