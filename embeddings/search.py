"""Hybrid search over candidates: the top dense and top BM25 passages (filters applied inside each), plus
the top passages of the outlets and days a question names, fused over their union only, then
interleaved per outlet or day for comparison questions.

A question therefore costs two (or a few more) top-k lookups and arithmetic over a few hundred
candidates, whatever the size of the index. With `SearchConfig.candidates = 0` every passage is a
candidate: the exhaustive ranking, kept as the reference the candidate search is measured against.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from corpus.models import Article
from embeddings.chunking import Chunk
from embeddings.encoder import Encoder
from embeddings.lexical import lexical_header, lexical_tokens, query_ids, scores
from embeddings.query import QueryAnalyzer, QueryHints
from embeddings.rows import RowFilter, day_of
from embeddings.segment import Segment
from embeddings.store import IndexSnapshot, removed_ids
from embeddings.vectors.base import VectorStore

__all__ = ["HybridSearcher", "SearchConfig", "SearchFilters", "SearchResult", "lexical_header"]


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
    outlet_boost: float = 0.2
    day_boost: float = 0.2
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


@dataclass
class _Candidates:
    rows: np.ndarray  # global rows, ascending
    dense: np.ndarray
    lexical: np.ndarray
    outlets: list[str]
    days: np.ndarray
    fused: np.ndarray


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
        filters = filters or SearchFilters()
        hints = hints if hints is not None else self.analyzer.analyze(question)
        if query_vector is None:
            query_vector = self.encoder.encode([question])[0]
        query_vector = np.asarray(query_vector, dtype=np.float32)
        if not self.snapshot.rows:
            return []
        where = filters.row_filter()
        lexical = self._lexical_scores(question)
        rows = self._candidate_rows(query_vector, lexical, where, hints)
        if not len(rows):
            return []
        found = self._score(rows, query_vector, lexical, hints)
        order = self._rank(found, hints)
        return self._results(found, order[:k])

    def _lexical_scores(self, question: str) -> list[np.ndarray]:
        words = lexical_tokens([question])[0]
        return [scores(segment.bm25, query_ids(segment.bm25, words)) for segment in self.snapshot.segments]

    def _candidate_rows(
        self, vector: np.ndarray, lexical: list[np.ndarray], where: RowFilter, hints: QueryHints
    ) -> np.ndarray:
        filters = [where]
        config = self.config
        if hints.outlets and config.outlet_boost:
            named = tuple(o for o in hints.outlets if not where.outlets or o in where.outlets)
            if named:
                filters.append(where.narrowed(outlets=named))
        if hints.days and config.day_boost:
            near = tuple((day_of(d) - 1, day_of(d) + 1) for d in hints.days)
            filters.append(where.narrowed(day_ranges=near))
        k = config.candidates or self.snapshot.rows
        found = self._dense_rows(vector, k, filters)
        found += [self._lexical_rows(lexical, k, f) for f in filters]
        return np.unique(np.concatenate(found))

    def _dense_rows(self, vector: np.ndarray, k: int, filters: list[RowFilter]) -> list[np.ndarray]:
        """The top-k rows of the dense side under each filter."""
        if self.shared is not None:
            return [self._shared_rows(vector, k, where) for where in filters]
        rows: list[list[np.ndarray]] = [[] for _ in filters]
        for start, segment in zip(self.snapshot.starts, self.snapshot.segments):
            store = segment.store
            found = store.search_rows_many(vector, k, [store.allowed(where) for where in filters])
            for mine, (local, _) in zip(rows, found):
                mine.append(local + start)
        return [np.concatenate(mine) if mine else np.zeros(0, dtype=np.int64) for mine in rows]

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

    def _lexical_rows(self, lexical: list[np.ndarray], k: int, where: RowFilter) -> np.ndarray:
        rows = []
        for start, segment, found in zip(self.snapshot.starts, self.snapshot.segments, lexical):
            allowed = segment.store.allowed(where)
            candidates = np.flatnonzero(found > 0 if allowed is None else (found > 0) & allowed)
            if len(candidates) > k:
                candidates = candidates[np.argpartition(-found[candidates], k - 1)[:k]]
            rows.append(candidates + start)
        return np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)

    def _score(self, rows: np.ndarray, vector: np.ndarray, lexical: list[np.ndarray], hints: QueryHints) -> _Candidates:
        snapshot = self.snapshot
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
            lexical_found[mine] = lexical[index][local]
            days[mine] = segment.store.columns.days[local]
            for position, outlet in zip(mine, segment.store.columns.values("outlets", local)):
                outlets[position] = outlet
        config = self.config
        top = float(lexical_found.max()) if len(lexical_found) else 0.0
        fused = config.lexical_weight * lexical_found / (top or 1.0) + config.dense_weight * dense
        if hints.outlets and config.outlet_boost:
            fused += config.outlet_boost * np.isin(np.array(outlets, dtype=object), hints.outlets)
        if hints.days and config.day_boost:
            wanted = np.array([day_of(d) for d in hints.days])
            fused += config.day_boost * (np.abs(days[:, None] - wanted[None, :]).min(axis=1) <= 1)
        return _Candidates(rows, dense, lexical_found, outlets, days, fused)

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

    def _results(self, found: _Candidates, positions: np.ndarray) -> list[SearchResult]:
        snapshot = self.snapshot
        rows = [int(found.rows[p]) for p in positions]
        by_segment: dict[int, list[int]] = {}
        for row in rows:
            index = int(np.searchsorted(snapshot.starts, row, side="right")) - 1
            by_segment.setdefault(index, []).append(row)
        chunks: dict[int, tuple[Chunk, Article]] = {}
        for index, mine in by_segment.items():
            segment: Segment = snapshot.segments[index]
            local = [row - int(snapshot.starts[index]) for row in mine]
            for row, row_local, chunk in zip(mine, local, segment.chunks(local)):
                chunks[row] = (chunk, segment.article(int(segment.chunk_articles[row_local])))
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
