"""Hybrid search over candidates: the top dense and top BM25 passages (filters applied inside each), plus
the top passages of the outlets and days a question names, fused over their union only, then
interleaved per outlet or day for comparison questions.

A question therefore costs two (or a few more) top-k lookups and arithmetic over a few hundred
candidates, whatever the size of the index. With `SearchConfig.candidates = 0` every passage is a
candidate: the exhaustive ranking, kept as the reference the candidate search is measured against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np

from corpus.models import Article
from embeddings.chunking import Chunk
from embeddings.encoder import Encoder
from embeddings.lexical import lexical_header, lexical_tokens, query_ids, scores, sentence_query
from embeddings.query import QueryAnalyzer, QueryHints
from embeddings.rows import RowFilter, day_of
from embeddings.segment import Segment
from embeddings.store import IndexSnapshot, removed_ids
from embeddings.vectors.base import VectorStore

__all__ = ["HybridSearcher", "SearchConfig", "SearchFilters", "SearchRequest", "SearchResult", "lexical_header"]


@dataclass(frozen=True)
class SearchFilters:
    """Only passages from these outlets (indexed names; empty means all), published in [since, until], of
    articles belonging to these tenants (None means every tenant's; "" is the shared tenant), written by
    these authors (indexed author names; empty means all)."""

    outlets: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    tenants: tuple[str, ...] | None = None

    def row_filter(self) -> RowFilter:
        return RowFilter(
            tenants=self.tenants,
            outlets=self.outlets,
            authors=self.authors,
            since=day_of(self.since) if self.since else None,
            until=day_of(self.until) if self.until else None,
        )


@dataclass(frozen=True)
class SearchConfig:
    """The knobs of ranking; defaults are the values tuned on the MultiHop-RAG dev questions."""

    dense_weight: float = 0.5
    lexical_weight: float = 1.0
    sentence_weight: float = 0.2  # the passage's best sentence's BM25, normalised like the passage's
    outlet_boost: float = 0.2
    day_boost: float = 0.3
    per_outlet_interleave: bool = True
    per_day_interleave: bool = True
    interleave_depth: int = 4
    interleave_after: int = 1
    header_in_lexical: bool = True  # the segments' BM25 documents carry the header (fixed at build time)
    candidates: int = 100  # passages taken from each top-k list (0: every passage, the exhaustive ranking)


@dataclass(frozen=True)
class SearchResult:
    """One ranked passage."""

    row: int
    chunk: Chunk
    article: Article
    score: float
    dense: float
    lexical: float


@dataclass(frozen=True)
class SearchRequest:
    """One search of a batch (`HybridSearcher.search_many`): `text` for BM25, `vector` its embedding for the
    dense side, the `k` best passages under `filters`, `hints` (None: found in the text)."""

    text: str
    vector: np.ndarray
    k: int = 10
    filters: SearchFilters = field(default_factory=SearchFilters)
    hints: QueryHints | None = None


@dataclass(frozen=True)
class _Lexical:
    """One text's BM25 side: its words, and every chunk's score, one array per segment."""

    words: list[str]
    scores: list[np.ndarray]


@dataclass
class _Candidates:
    rows: np.ndarray  # global rows, ascending
    dense: np.ndarray
    lexical: np.ndarray
    outlets: list[str]
    days: np.ndarray
    fused: np.ndarray

    @classmethod
    def none(cls) -> _Candidates:
        empty = np.zeros(0)
        return cls(np.zeros(0, dtype=np.int64), empty, empty, [], np.zeros(0, dtype=np.int64), empty)


class HybridSearcher:
    """Searches one index snapshot; safe to call from worker threads once built.

    `shared`: the vector store shared by the generations (Milvus), if the index keeps its vectors there;
    else each segment's own FAISS store is searched."""

    def __init__(
        self,
        snapshot: IndexSnapshot,
        encoder: Encoder,
        config: SearchConfig | None = None,
        shared: VectorStore | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.encoder = encoder
        self.config = config or SearchConfig()
        self.shared = shared
        self.analyzer = QueryAnalyzer(snapshot.outlets, snapshot.visible_authors(None))
        self._first_ids = np.array([int(s.ids[0]) if s.rows else 0 for s in snapshot.segments], dtype=np.int64)
        self._excluded = self._excluded_ids() if shared is not None else np.zeros(0, dtype=np.int64)

    def search(
        self,
        question: str,
        k: int = 10,
        filters: SearchFilters | None = None,
        hints: QueryHints | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[SearchResult]:
        """The k best passages for `question`, best first."""
        if query_vector is None:
            query_vector = self.encoder.encode([question])[0]
        request = SearchRequest(question, query_vector, k, filters or SearchFilters(), hints)
        return self.search_many([request])[0]

    def search_many(self, requests: Sequence[SearchRequest]) -> list[list[SearchResult]]:
        """Each request's results, as `search` gives them, with the work they share done once: the texts
        tokenized together and each scored by BM25 once, every vector scored in one pass over a segment's
        vectors, each filter's rows worked out once, and the passages read once."""
        if not self.snapshot.rows or not requests:
            return [[] for _ in requests]
        batch = _Batch()
        lexical = self._lexical_scores_many([r.text for r in requests])
        hints = [r.hints if r.hints is not None else self.analyzer.analyze(r.text) for r in requests]
        filters = [self._candidate_filters(r.filters.row_filter(), h) for r, h in zip(requests, hints)]
        k = self.config.candidates or self.snapshot.rows
        vectors = np.stack([np.asarray(r.vector, dtype=np.float32).reshape(-1) for r in requests])
        dense = self._dense_rows_batch(vectors, k, filters, batch)
        ranked: list[tuple[_Candidates, np.ndarray]] = []
        for request, vector, found_dense, mine, hint in zip(requests, vectors, dense, filters, hints):
            text = lexical[request.text]
            found = found_dense + [self._lexical_rows(text.scores, k, where, batch) for where in mine]
            rows = np.unique(np.concatenate(found))
            if not len(rows):
                ranked.append((_Candidates.none(), np.zeros(0, dtype=np.int64)))
                continue
            candidates = self._score(rows, vector, text, hint, request.k)
            ranked.append((candidates, self._rank(candidates, hint)[: request.k]))
        passages = self._passages([int(found.rows[p]) for found, order in ranked for p in order])
        return [self._results(found, order, passages) for found, order in ranked]

    def _lexical_scores_many(self, texts: list[str]) -> dict[str, _Lexical]:
        """Each distinct text's words and BM25 scores (per segment)."""
        distinct = list(dict.fromkeys(texts))
        return {
            text: _Lexical(
                words, [scores(segment.bm25, query_ids(segment.bm25, words)) for segment in self.snapshot.segments]
            )
            for text, words in zip(distinct, lexical_tokens(distinct))
        }

    def _candidate_filters(self, where: RowFilter, hints: QueryHints) -> list[RowFilter]:
        """The filters candidates are taken under: the search's own, then narrowed to the outlets and the
        days the question names."""
        filters = [where]
        config = self.config
        if hints.outlets and config.outlet_boost:
            named = tuple(o for o in hints.outlets if not where.outlets or o in where.outlets)
            if named:
                filters.append(where.narrowed(outlets=named))
        if hints.days and config.day_boost:
            near = tuple((day_of(d) - 1, day_of(d) + 1) for d in hints.days)
            filters.append(where.narrowed(day_ranges=near))
        return filters

    def _dense_rows_batch(
        self, vectors: np.ndarray, k: int, filters: list[list[RowFilter]], batch: _Batch
    ) -> list[list[np.ndarray]]:
        """For each vector, the top-k rows of the dense side under each of its filters."""
        if self.shared is not None:
            return [[self._shared_rows(v, k, where) for where in mine] for v, mine in zip(vectors, filters)]
        rows: list[list[list[np.ndarray]]] = [[[] for _ in mine] for mine in filters]
        for index, (start, segment) in enumerate(zip(self.snapshot.starts, self.snapshot.segments)):
            alloweds = [[batch.allowed(index, segment, where) for where in mine] for mine in filters]
            found = segment.store.search_rows_batch(vectors, k, alloweds)
            for mine_rows, mine_found in zip(rows, found):
                for into, (local, _) in zip(mine_rows, mine_found):
                    into.append(local + start)
        return [
            [np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64) for parts in mine_rows]
            for mine_rows in rows
        ]

    def _shared_rows(self, vector: np.ndarray, k: int, where: RowFilter) -> np.ndarray:
        """Top-k from the shared store, limited to this generation's ids: newer ones (a build in progress)
        by `max_id`, removed ones pushed down when few and dropped here in any case."""
        assert self.shared is not None
        excluded = self._excluded
        pushed = tuple(int(i) for i in excluded) if len(excluded) <= 1000 else ()
        limit = k + (len(excluded) if not pushed else 0)
        ids, _ = self.shared.search(
            vector, limit, where.narrowed(max_id=self.snapshot.manifest.max_id, exclude_ids=pushed)
        )
        return self._rows_of_ids(ids)[:k]

    def _rows_of_ids(self, ids: np.ndarray) -> np.ndarray:
        """Global rows of the live chunks with these ids (others dropped), in the order given."""
        if not len(ids) or not self.snapshot.segments:
            return np.zeros(0, dtype=np.int64)
        which = np.searchsorted(self._first_ids, ids, side="right") - 1
        rows = []
        for position, segment_index in enumerate(which):
            if segment_index < 0:
                continue
            segment = self.snapshot.segments[segment_index]
            local = int(segment.store.rows_of(ids[position : position + 1])[0])
            live = segment.live_mask()
            if local >= 0 and (live is None or live[local]):
                rows.append(int(self.snapshot.starts[segment_index]) + local)
        return np.asarray(rows, dtype=np.int64)

    def _excluded_ids(self) -> np.ndarray:
        dead = [np.asarray(s.ids[s.dead_rows], dtype=np.int64) for s in self.snapshot.segments]
        return np.unique(np.concatenate([*dead, removed_ids(self.snapshot.location)]))

    def _lexical_rows(self, lexical: list[np.ndarray], k: int, where: RowFilter, batch: _Batch) -> np.ndarray:
        rows = []
        for index, (start, segment, found) in enumerate(zip(self.snapshot.starts, self.snapshot.segments, lexical)):
            allowed = batch.allowed(index, segment, where)
            candidates = np.flatnonzero(found > 0 if allowed is None else (found > 0) & allowed)
            if len(candidates) > k:
                candidates = candidates[np.argpartition(-found[candidates], k - 1)[:k]]
            rows.append(candidates + start)
        return np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)

    def _score(self, rows: np.ndarray, vector: np.ndarray, lexical: _Lexical, hints: QueryHints, k: int) -> _Candidates:
        snapshot = self.snapshot
        config = self.config
        dense = np.zeros(len(rows), dtype=np.float64)
        lexical_found = np.zeros(len(rows), dtype=np.float64)
        days = np.zeros(len(rows), dtype=np.int64)
        outlets: list[str] = [""] * len(rows)
        which = np.searchsorted(snapshot.starts, rows, side="right") - 1
        for index, segment in enumerate(snapshot.segments):
            mine = np.flatnonzero(which == index)
            if not len(mine):
                continue
            local = rows[mine] - snapshot.starts[index]
            # einsum, not `@`: with torch loaded, numpy's threaded BLAS makes small products take ~10 ms.
            dense[mine] = np.einsum("rd,d->r", np.asarray(segment.vectors[local], dtype=np.float32), vector)
            lexical_found[mine] = lexical.scores[index][local]
            days[mine] = segment.store.columns.days[local]
            for position, outlet in zip(mine, segment.store.columns.values("outlets", local)):
                outlets[position] = outlet
        fused = config.lexical_weight * _by_best(lexical_found) + config.dense_weight * dense
        if hints.outlets and config.outlet_boost:
            fused += config.outlet_boost * np.isin(np.array(outlets, dtype=object), hints.outlets)
        if hints.days and config.day_boost:
            wanted = np.array([day_of(d) for d in hints.days])
            fused += config.day_boost * (np.abs(days[:, None] - wanted[None, :]).min(axis=1) <= 1)
        if config.sentence_weight:
            fused += config.sentence_weight * _by_best(self._best_sentences(rows, which, fused, lexical, hints, k))
        return _Candidates(rows, dense, lexical_found, outlets, days, fused)

    def _best_sentences(
        self, rows: np.ndarray, which: np.ndarray, fused: np.ndarray, lexical: _Lexical, hints: QueryHints, k: int
    ) -> np.ndarray:
        """Each candidate's best sentence's BM25 score for the text's words, but for the names of the outlets
        it names (where to look, not what a sentence says: the boost weighs them). Scored only where the
        term can change the top k: a candidate more than its weight below the k-th best stays out anyway."""
        sentence = np.zeros(len(rows), dtype=np.float64)
        kth = np.partition(fused, len(fused) - k)[len(fused) - k] if len(fused) > k else -np.inf
        reach = fused >= kth - self.config.sentence_weight
        named = _words_of(tuple(hints.outlets))
        claim = [word for word in lexical.words if word not in named]
        base = self.snapshot.segments[0]  # whose statistics weigh every segment's BM25 (see the indexer's plan)
        for index, segment in enumerate(self.snapshot.segments):
            mine = np.flatnonzero(reach & (which == index))
            if not len(mine):
                continue
            ids, idf = sentence_query(segment.bm25, base.bm25, claim)
            local = rows[mine] - self.snapshot.starts[index]
            average = base.sentence_tokens.average_length
            sentence[mine] = segment.sentence_tokens.best_sentence_scores(local, ids, idf, average)
        return sentence

    def _rank(self, found: _Candidates, hints: QueryHints) -> np.ndarray:
        """Positions into `found`, best first (ties in row order), interleaved for comparisons."""
        order = np.argsort(-found.fused, kind="stable")
        facets = self._facets(order, found, hints)
        if len(facets) > 1:
            order = self._interleave(order, facets)
        return order

    def _facets(self, order: np.ndarray, found: _Candidates, hints: QueryHints) -> list[np.ndarray]:
        """The groups a comparison question asks about: the days it names, else the outlets it names."""
        config = self.config
        if config.per_day_interleave and len(hints.days) > 1:
            order_days = found.days[order]
            return [order[np.abs(order_days - day_of(day)) <= 1] for day in hints.days]
        if config.per_outlet_interleave and len(hints.outlets) > 1:
            outlets = np.array(found.outlets, dtype=object)[order]
            return [order[outlets == outlet] for outlet in hints.outlets]
        return []

    def _interleave(self, order: np.ndarray, facets: list[np.ndarray]) -> np.ndarray:
        """Round-robin the best passages of each facet first, so every source of a comparison shows."""
        queues = [list(facet) for facet in facets]
        head: list[int] = [int(i) for i in order[: self.config.interleave_after]]
        taken: set[int] = set(head)
        while any(queues) and len(head) < self.config.interleave_depth * len(queues):
            for queue in queues:
                while queue and queue[0] in taken:
                    queue.pop(0)
                if queue:
                    position = queue.pop(0)
                    head.append(position)
                    taken.add(position)
        return np.array(head + [int(i) for i in order if int(i) not in taken], dtype=np.int64)

    def _passages(self, rows: list[int]) -> dict[int, tuple[Chunk, Article]]:
        """The chunk and article of each of these rows, each segment's read in one query."""
        snapshot = self.snapshot
        by_segment: dict[int, list[int]] = {}
        for row in dict.fromkeys(rows):
            index = int(np.searchsorted(snapshot.starts, row, side="right")) - 1
            by_segment.setdefault(index, []).append(row)
        chunks: dict[int, tuple[Chunk, Article]] = {}
        for index, mine in by_segment.items():
            segment: Segment = snapshot.segments[index]
            local = [row - int(snapshot.starts[index]) for row in mine]
            for row, row_local, chunk in zip(mine, local, segment.chunks(local)):
                chunks[row] = (chunk, segment.article(int(segment.chunk_articles[row_local])))
        return chunks

    def _results(
        self, found: _Candidates, positions: np.ndarray, chunks: dict[int, tuple[Chunk, Article]]
    ) -> list[SearchResult]:
        return [
            SearchResult(
                row=int(found.rows[p]),
                chunk=chunks[int(found.rows[p])][0],
                article=chunks[int(found.rows[p])][1],
                score=float(found.fused[p]),
                dense=float(found.dense[p]),
                lexical=float(found.lexical[p]),
            )
            for p in positions
        ]


@lru_cache(maxsize=256)
def _words_of(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(word for words in lexical_tokens(list(names)) for word in words)


def _by_best(scores: np.ndarray) -> np.ndarray:
    """Scores over the best of them (the candidates'), so BM25's scale does not depend on the question."""
    top = float(scores.max()) if len(scores) else 0.0
    return scores / (top or 1.0)


class _Batch:
    """What the searches of one batch share: each filter's allowed rows, per segment."""

    def __init__(self) -> None:
        self._allowed: dict[tuple[int, RowFilter], np.ndarray | None] = {}

    def allowed(self, index: int, segment: Segment, where: RowFilter) -> np.ndarray | None:
        key = (index, where)
        if key not in self._allowed:
            self._allowed[key] = segment.store.allowed(where)
        return self._allowed[key]
