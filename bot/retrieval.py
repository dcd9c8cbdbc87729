"""Retrieval for a question and each of its parts, merged so every part's best evidence is near the top.

Runs above `HybridSearcher.search`: the whole question is searched, then each part (a claim, with the
outlets and days it names as hints); the lists are merged by taking turns, the whole question's best
passage first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.coverage import unmentioned
from bot.parts import QuestionPart
from bot.specifics import Mention
from embeddings.query import QueryHints
from embeddings.search import HybridSearcher, SearchFilters, SearchResult


@dataclass(frozen=True)
class RetrievalConfig:
    """`decompose`: search each part of a multi-part question too; `max_parts`: most parts searched;
    `part_vectors`: embed each part for its dense side (else the whole question's vector is used);
    `lead`: passages of the whole question's ranking placed before the parts take turns."""

    decompose: bool = True
    max_parts: int = 4
    part_vectors: bool = True
    lead: int = 1


def searched_parts(parts: Sequence[QuestionPart], config: RetrievalConfig) -> list[QuestionPart]:
    """The parts searched on their own: none for a question of one part."""
    return list(parts)[: config.max_parts] if config.decompose and len(parts) > 1 else []


def retrieve(
    searcher: HybridSearcher,
    query: str,
    parts: Sequence[QuestionPart],
    part_vectors: Sequence[np.ndarray],
    k: int,
    filters: SearchFilters,
    hints: QueryHints,
    query_vector: np.ndarray,
    config: RetrievalConfig | None = None,
) -> list[SearchResult]:
    """The k best passages for `query` and its `parts` (the `searched_parts`, each with its vector)."""
    config = config or RetrievalConfig()
    whole = searcher.search(query, k=k, filters=filters, hints=hints, query_vector=query_vector)
    if not parts:
        return whole
    vectors = part_vectors if config.part_vectors else [query_vector] * len(parts)
    ranked = [
        searcher.search(part.text, k=k, filters=filters, hints=part.hints(hints), query_vector=vector)
        for part, vector in zip(parts, vectors)
    ]
    return merge_turns(whole, ranked, k, config.lead)


def find_names(
    searcher: HybridSearcher,
    names: Sequence[Mention],
    results: list[SearchResult],
    k: int,
    filters: SearchFilters,
    hints: QueryHints,
    query_vector: np.ndarray,
    per_name: int = 1,
) -> list[SearchResult]:
    """`results` with, for each name no retrieved article mentions, the best passages of an article that
    does (found by searching the name itself), in place of the last ones."""
    found: list[SearchResult] = []
    rows = {r.row for r in results}
    for name in names:
        hits = searcher.search(name.text, k=5, filters=filters, hints=hints, query_vector=query_vector)
        mentioning = [r for r in hits if r.row not in rows and not unmentioned([name], [r])]
        for result in mentioning[:per_name]:
            rows.add(result.row)
            found.append(result)
    if not found:
        return results
    kept = results[: max(k - len(found), 0)]
    return kept + found[: k - len(kept)]


def merge_turns(whole: list[SearchResult], ranked: list[list[SearchResult]], k: int, lead: int) -> list[SearchResult]:
    """The whole question's first `lead` passages, then each part's best in turn (the whole question's
    ranking taking its turn after them), without repeats."""
    merged: list[SearchResult] = []
    seen: set[int] = set()

    def take(result: SearchResult) -> None:
        if result.row not in seen and len(merged) < k:
            seen.add(result.row)
            merged.append(result)

    for result in whole[:lead]:
        take(result)
    queues = [list(r) for r in ranked] + [whole[lead:]]
    while len(merged) < k and any(queues):
        for queue in queues:
            while queue and queue[0].row in seen:
                queue.pop(0)
            if queue:
                take(queue.pop(0))
    return merged
