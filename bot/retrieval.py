"""Retrieval for a question and each of its parts, merged so every part's best evidence is near the top.

Runs above `HybridSearcher.search`: the whole question is searched, then each part (a claim, with the
outlets and days it names as hints); the lists are merged by taking turns, the whole question's best
passage first. A question naming an indexed author ("what did Nigar Bayramli write about Iraq?") is also
searched among that author's articles alone, and their best passage leads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.coverage import unmentioned
from bot.parts import QuestionPart
from bot.specifics import Mention
from embeddings.query import QueryHints
from embeddings.search import HybridSearcher, SearchFilters, SearchRequest, SearchResult


@dataclass(frozen=True)
class RetrievalConfig:
    """`decompose`: search each part of a multi-part question too; `max_parts`: most parts searched;
    `part_vectors`: embed each part for its dense side (else the whole question's vector is used);
    `part_spans`: take each part's vector from the question's own forward pass, pooled over the part's
    tokens (no second model pass: about a third of a question's time), else embed the parts apart;
    `fuse`: rank the passages of all the searches by the whole question's score plus the best score a part
    gives them (else the whole question's ranking); `depth`: how many times k passages each search reads
    for that; `lead`: passages of that ranking placed before the parts take turns; `choose_without_lead`:
    which k passages are returned is decided by the turns taken without the lead (one more slot for the
    parts' own best passages), only their order by the turns after it; `authors`: search the articles of
    the authors a question names too, their best passage first; `source_clauses`: a clause that only names
    a source ("the TechCrunch article published on October 31, 2023") joins the claim after it instead of
    being searched as a part of its own."""

    decompose: bool = True
    max_parts: int = 4
    part_vectors: bool = True
    part_spans: bool = True
    fuse: bool = True
    depth: int = 3
    lead: int = 1
    choose_without_lead: bool = True
    authors: bool = True
    source_clauses: bool = True


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
    read = k * config.depth if config.fuse and parts else k
    vectors = part_vectors if config.part_vectors else [query_vector] * len(parts)
    requests = [SearchRequest(query, query_vector, read, filters, hints)]
    requests += [SearchRequest(p.text, v, read, filters, p.hints(hints)) for p, v in zip(parts, vectors)]
    by_authors = config.authors and bool(hints.authors) and not filters.authors
    if by_authors:
        narrowed = dataclasses.replace(filters, authors=tuple(hints.authors))
        requests.append(SearchRequest(query, query_vector, k, narrowed, hints))
    # One batch: the searches share their passes over the index (see HybridSearcher.search_many).
    searched = searcher.search_many(requests)
    whole, ranked = searched[0], searched[1 : 1 + len(parts)]
    if ranked and config.fuse:
        whole = fuse_scores(whole, ranked)
    found = merged(whole, [r[:k] for r in ranked], k, config) if ranked else whole[:k]
    by_author = searched[-1] if by_authors else []
    if by_author:
        return merge_turns(by_author, [found], k, 1)
    return found


def fuse_scores(whole: list[SearchResult], ranked: list[list[SearchResult]]) -> list[SearchResult]:
    """The passages of all the lists by the whole question's score plus the best score any part gives them,
    so a passage that answers one part closely climbs; a list missing a passage counts its lowest score."""
    lists = [whole, *ranked]
    scores = [{r.row: r.score for r in found} for found in lists]
    floors = [min(found.values(), default=0.0) for found in scores]
    passages = {r.row: r for found in lists for r in found}

    def fused(row: int) -> float:
        best_part = max(part.get(row, floor) for part, floor in zip(scores[1:], floors[1:]))
        return scores[0].get(row, floors[0]) + best_part

    return sorted(passages.values(), key=lambda r: -fused(r.row))


def merged(
    whole: list[SearchResult], ranked: list[list[SearchResult]], k: int, config: RetrievalConfig
) -> list[SearchResult]:
    """The k passages of the whole question's ranking and the parts' (`merge_turns`). With
    `choose_without_lead`, the parts take turns from the start to choose them (the evidence of a
    multi-source question comes from each part's own best passages), and the lead only orders them: the
    whole question's best passage among them first, then as the turns would take them after it."""
    lead = config.lead if config.fuse else 1
    if not config.choose_without_lead or not lead:
        return merge_turns(whole, ranked, k, lead)
    chosen = {r.row for r in merge_turns(whole, ranked, k, 0)}
    return merge_turns(_among(whole, chosen), [_among(r, chosen) for r in ranked], k, lead)


def _among(results: list[SearchResult], rows: set[int]) -> list[SearchResult]:
    return [r for r in results if r.row in rows]


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
    searched = searcher.search_many([SearchRequest(name.text, query_vector, 5, filters, hints) for name in names])
    for name, hits in zip(names, searched):
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
