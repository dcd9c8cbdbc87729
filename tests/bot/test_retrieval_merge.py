"""How the whole question's ranking and its parts' rankings become the k passages returned (real model, real
index: the results are the index's own passages, arranged into rankings)."""

from __future__ import annotations

import numpy as np

from bot.retrieval import RetrievalConfig, merged
from bot.service import Byline
from embeddings.search import SearchFilters, SearchRequest, SearchResult


def _passages(byline: Byline) -> list[SearchResult]:
    searcher = byline.searcher()
    vector = byline.encoder.encode(["AI chip exports and Nvidia revenue"])[0]
    request = SearchRequest("AI chip exports and Nvidia revenue", vector, 7, SearchFilters(), None)
    found = searcher.search_many([request])[0]
    assert len({r.row for r in found}) >= 5
    return found


def test_the_parts_choose_the_passages_and_the_lead_orders_them(news_byline: Byline) -> None:
    a, b, e, f, h = _passages(news_byline)[:5]
    whole, first_part, second_part = [a, b], [e, f], [h]
    rows = lambda results: [r.row for r in results]  # noqa: E731
    shipped = merged(whole, [first_part, second_part], 4, RetrievalConfig())
    # Chosen by the turns alone (first part, second part, whole question, first part again), the whole
    # question's best passage first: the first part's second passage is returned, not the question's.
    assert rows(shipped) == rows([a, e, h, f])
    with_lead = merged(whole, [first_part, second_part], 4, RetrievalConfig(choose_without_lead=False))
    assert rows(with_lead) == rows([a, e, h, b])


def test_every_passage_chosen_is_returned_once(news_byline: Byline) -> None:
    results = _passages(news_byline)
    rng = np.random.default_rng(7)
    for _ in range(20):
        lists = [[results[i] for i in rng.permutation(len(results))[: rng.integers(1, 6)]] for _ in range(3)]
        found = merged(lists[0], lists[1:], 5, RetrievalConfig())
        union = {r.row for lst in lists for r in lst}
        assert len({r.row for r in found}) == len(found) == min(5, len(union))
        assert found[0].row == lists[0][0].row
