"""Incremental index builds: chunk and embed only what changed, write it as a new segment beside the
served ones (or merge everything into one), then swap the new generation in."""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from corpus.errors import BylineError, Remedy
from corpus.models import Article
from corpus.readers.recorded import KnownArticle, whole
from embeddings.cache import EmbeddingCache, text_key
from embeddings.chunk_pool import ChunkedArticle, chunk_articles
from embeddings.chunking import Chunk, ChunkerSettings
from embeddings.encoder import Encoder
from embeddings.index_folder import writing_database, writing_to
from embeddings.lexical import TokenTable, TokenTableBuilder, ragged
from embeddings.segment import Segment, SegmentData
from embeddings.store import (
    SCRATCH_PREFIX,
    GenerationPlan,
    IndexSnapshot,
    IndexUnavailableError,
    Manifest,
    current_generation,
    discarded_unless_served,
    load_generation,
    remove_leftovers,
    removed_ids,
    serve_generation,
    write_generation,
)
from embeddings.vectors import VectorStore, VectorStoreSettings, open_shared_store
from embeddings.vectors.faiss_store import HNSW_THRESHOLD

EMBED_BATCH = 64
SENTENCE_READS = 4096  # chunks whose sentence vectors are read from the cache at once
MERGE_ROWS = 65_536  # sentence vectors copied at once by a merge (48 MB at 384 dimensions)
CACHE_FILE = "embedding-cache.sqlite"
PROGRESS_SECONDS = 0.5  # least time between two progress reports while chunking


class IndexBusyError(BylineError):
    """Another build holds the index lock."""

    remedy = Remedy.RETRY_LATER


@dataclass(frozen=True)
class BuildProgress:
    """Where a build is. Articles and chunks count everything the new index will hold (unchanged ones are
    done from the start); while articles are still being chunked (`articles_chunked` of
    `articles_to_chunk`), `chunks_total` is estimated from the chunks per article so far."""

    articles_done: int
    articles_total: int
    chunks_done: int
    chunks_total: int
    elapsed: float
    articles_read: int = 0
    articles_chunked: int = 0
    articles_to_chunk: int = 0
    chunks_embedded: int = 0  # by the model in this build (the rest came from the index or the cache)
    stage: str = "embedding"  # "reading", "chunking" (and embedding), "writing"

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def articles_per_second(self) -> float:
        return self.articles_done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left, from the rates so far (None until there is a rate to go by)."""
        if self.stage == "reading" or self.articles_done == 0 or self.elapsed <= 0:
            return None
        if self.articles_done >= self.articles_total:
            return 0.0
        return (self.articles_total - self.articles_done) / self.articles_per_second


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    articles: int = 0
    chunks: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    generation: str = ""
    segments: int = 0  # segments the served generation has
    embedding_seconds: float = 0.0  # time spent in the model (tokenizing, forward passes, pooling; not caching)


ProgressCallback = Callable[[BuildProgress], None]


@dataclass(frozen=True)
class BuildOptions:
    """How a build runs: where vectors go, how many processes chunk, when segments are merged."""

    vectors: VectorStoreSettings = field(default_factory=VectorStoreSettings)
    workers: int | None = None  # chunking processes (None: one per core)
    hnsw_threshold: int = HNSW_THRESHOLD
    merge_share: float = 0.2  # merge when rows outside the first segment plus removed rows pass this share
    max_segments: int = 8  # more, and the segments after the first are merged into one
    inputs: str = ""  # fingerprint of what the articles were read from, kept in the manifest


def build_index(
    articles: Sequence[Article | KnownArticle],
    index_path: Path,
    encoder: Encoder,
    chunker_settings: ChunkerSettings,
    progress: ProgressCallback | None = None,
    lock_timeout: float = 0,
    options: BuildOptions | None = None,
) -> BuildReport:
    """Build and serve a new generation for `articles`, reusing every chunk and vector it can.

    A build that fails (a full disk, say) leaves the served generation as it was, and no part of its own.
    A KnownArticle (of a corpus file unchanged since it was read) is read whole only if it must be chunked.
    """
    lock = FileLock(str(index_path / ".lock"))
    with writing_to(index_path):
        index_path.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=lock_timeout)
        except Timeout as error:  # a TimeoutError, so an OSError: caught before writing_to sees it
            raise IndexBusyError(f"Another build of the index at {index_path} is running.") from error
    try:
        return _Build(list(articles), index_path, encoder, chunker_settings, progress, options or BuildOptions()).run()
    finally:
        lock.release()


class _Build:
    def __init__(
        self,
        articles: list[Article | KnownArticle],
        index_path: Path,
        encoder: Encoder,
        chunker_settings: ChunkerSettings,
        progress: ProgressCallback | None,
        options: BuildOptions,
    ) -> None:
        self.articles = articles
        self.index_path = index_path
        self.encoder = encoder
        self.chunker_settings = chunker_settings
        self.options = options
        self.tracker = _Tracker(progress)
        self.report = BuildReport()

    def run(self) -> BuildReport:
        served = _served_generation(self.index_path)
        remove_leftovers(self.index_path)
        previous = _reusable_snapshot(served, self.encoder.model_name, self.chunker_settings, self.options)
        try:
            return self._run(served, previous)
        finally:
            if previous is not None:
                previous.close()

    def _run(self, served: Path | None, previous: IndexSnapshot | None) -> BuildReport:
        report = self.report
        old_hashes = previous.article_hashes() if previous else {}
        _diff(self.articles, old_hashes, report)
        if previous is not None and not (report.added or report.changed or report.removed):
            return self._nothing_to_do(previous)
        kept, dead_ids = _kept_segments(previous, {*report.changed, *report.removed})
        fresh = set(report.added) | set(report.changed)
        to_chunk = [whole(a) for a in self.articles if a.id in fresh]
        self.tracker.start(len(self.articles), len(to_chunk))
        self.tracker.reused(len(self.articles) - len(to_chunk), sum(s.rows - len(d) for s, d in kept))
        first_id = (previous.manifest.max_id if previous else -1) + 1
        with _saving_vectors(self.index_path):
            cache = EmbeddingCache(self.index_path / CACHE_FILE, self.encoder.dimension)
        shared = self._shared_store(previous)
        scratch = _ScratchFiles(self.index_path)
        try:
            new = self._new_segment(to_chunk, first_id, cache, scratch)
            plan = self._plan(kept, new, dead_ids, scratch)
            self.tracker.stage("writing")
            generation = self._write(plan, previous, new)
            with discarded_unless_served(self.index_path, generation):
                if shared is not None:
                    shared.add(new.ids, new.vectors, new.fields)
                    shared.save()
                if not plan.kept and plan.new is not None:
                    # Every chunk was written again (a merge or a first build): the cache forgets what is no
                    # longer indexed. A build that only adds a segment leaves it be, so that it costs what
                    # changed; what it leaves is forgotten at the next merge. Before serving, so that a disk
                    # too full to prune the cache fails the build, not the swap.
                    with _saving_vectors(self.index_path):
                        cache.keep_only(self._keys(plan.new))
                serve_generation(self.index_path, generation)
            if shared is not None and served is not None and previous is not None:
                shared.remove(removed_ids(served))  # gone from both generations readers may be on now
        finally:
            cache.close()
            scratch.remove()
            if shared is not None:
                shared.close()
        report.articles = len(self.articles)
        report.seconds = self.tracker.elapsed()
        report.generation = generation.name
        report.embedding_seconds = self.tracker.embedding_seconds
        return report

    def _shared_store(self, previous: IndexSnapshot | None) -> VectorStore | None:
        store = open_shared_store(self.options.vectors, self.index_path, self.encoder.dimension)
        if store is not None and previous is None and store.count():
            # A full rebuild numbers chunks from 0 again: start from an empty collection.
            from embeddings.vectors.milvus_store import MilvusVectorStore

            if isinstance(store, MilvusVectorStore):
                store.drop()
                store.close()
                store = open_shared_store(self.options.vectors, self.index_path, self.encoder.dimension)
        return store

    def _nothing_to_do(self, served: IndexSnapshot) -> BuildReport:
        """The served generation already holds exactly these articles: keep serving it."""
        report = self.report
        report.articles, report.chunks = served.manifest.articles, served.manifest.chunks
        report.seconds = self.tracker.elapsed()
        report.generation = served.location.name
        report.segments = len(served.segments)
        return report

    def _new_segment(
        self, articles: list[Article], first_id: int, cache: EmbeddingCache, scratch: _ScratchFiles
    ) -> SegmentData:
        """Chunk, tokenize and embed `articles` (vectors from the cache where it has them); the segment's
        sentence vectors are gathered into a scratch file (memory-mapped), not into memory."""
        embedder = _Embedder(self.index_path, self.encoder, cache, self.tracker)
        chunked: list[ChunkedArticle] = []
        tokens = TokenTableBuilder()
        stream = chunk_articles(articles, self.encoder.tokenizer, self.chunker_settings, self.options.workers)
        for item in stream:
            tokens.add(item.tokens)
            chunked.append(dataclasses.replace(item, tokens=[]))  # kept as ids in `tokens`
            self.tracker.chunked(len(item.chunks))
            embedder.queue(item.position, item.chunks)
        embedder.finish()
        self.report.chunks_embedded = embedder.embedded
        return _segment_data(articles, chunked, embedder, first_id, tokens.table(), scratch)

    def _plan(
        self, kept: list[tuple[Segment, np.ndarray]], new: SegmentData, dead_ids: np.ndarray, scratch: _ScratchFiles
    ) -> GenerationPlan:
        """Keep the served segments and add the new one; when the rows outside the first segment (and those
        marked gone) are too many, merge everything into one; when only the segments are too many, merge
        those after the first, so that the cost is that of the small segments, not of the whole index."""
        options = self.options
        # A segment after the first whose rows all went is left out: nothing of it is served.
        kept = [(segment, dead) for i, (segment, dead) in enumerate(kept) if i == 0 or segment.rows > len(dead)]
        if not kept or _full_merge_due(kept, len(new), options):
            merged = _merge([*(_live_data(segment, dead, scratch) for segment, dead in kept), new], scratch)
            return GenerationPlan(new=merged, removed_ids=dead_ids)
        stats = kept[0][0].lexical_stats()
        if len(kept) + (1 if len(new) else 0) > options.max_segments:
            small = _merge([*(_live_data(segment, dead, scratch) for segment, dead in kept[1:]), new], scratch)
            return GenerationPlan(kept=kept[:1], new=small, lexical_stats=stats, removed_ids=dead_ids)
        return GenerationPlan(kept=kept, new=new, lexical_stats=stats, removed_ids=dead_ids)

    def _write(self, plan: GenerationPlan, previous: IndexSnapshot | None, new: SegmentData) -> Path:
        chunks = sum(s.rows - len(d) for s, d in plan.kept) + (len(plan.new) if plan.new is not None else 0)
        articles = sum(s.article_rows - len(s.dead_articles_of(d)) for s, d in plan.kept)
        articles += len(plan.new.articles) if plan.new is not None else 0
        max_id = max(previous.manifest.max_id if previous else -1, int(new.ids[-1]) if len(new) else -1)
        manifest = Manifest(
            model=self.encoder.model_name,
            dimension=self.encoder.dimension,
            chunker=asdict(self.chunker_settings),
            articles=articles,
            chunks=chunks,
            vector_store=self.options.vectors.kind,
            max_id=max_id,
            inputs=self.options.inputs,
        )
        self.report.chunks = chunks
        self.report.segments = len(plan.kept) + (1 if plan.new is not None and len(plan.new) else 0)
        return write_generation(self.index_path, manifest, plan, self.options.hnsw_threshold)

    def _keys(self, data: SegmentData) -> set[str]:
        """Cache keys of the chunks of `data`."""
        model = self.encoder.model_name
        return {text_key(model, chunk.text) for chunk in data.chunks}


def _served_generation(index_path: Path) -> Path | None:
    """The served generation; a damaged pointer counts as none, since this build replaces it."""
    try:
        return current_generation(index_path)
    except IndexUnavailableError:
        return None


def _reusable_snapshot(
    served: Path | None, model: str, chunker: ChunkerSettings, options: BuildOptions
) -> IndexSnapshot | None:
    """The served generation if its chunks can be reused; a damaged or different one is rebuilt from scratch."""
    if served is None:
        return None
    try:
        snapshot = load_generation(served)
    except IndexUnavailableError:
        return None
    try:
        snapshot.manifest.check_compatible(model, chunker, served, options.vectors.kind)
    except IndexUnavailableError:
        snapshot.close()
        return None
    return snapshot


def _diff(articles: list[Article | KnownArticle], old: dict[str, str], report: BuildReport) -> None:
    for article in articles:
        if article.id not in old:
            report.added.append(article.id)
        elif old[article.id] != article.content_hash:
            report.changed.append(article.id)
        else:
            report.unchanged += 1
    current = {a.id for a in articles}
    report.removed = sorted(set(old) - current)


def _kept_segments(
    previous: IndexSnapshot | None, gone: set[str]
) -> tuple[list[tuple[Segment, np.ndarray]], np.ndarray]:
    """The served segments with the rows they will no longer serve (their articles changed or went), and
    the ids of those rows."""
    if previous is None:
        return [], np.zeros(0, dtype=np.int64)
    kept: list[tuple[Segment, np.ndarray]] = []
    removed: list[np.ndarray] = []
    for segment in previous.segments:
        rows = [row for row in (segment.article_row(article_id) for article_id in gone) if row is not None]
        newly = np.flatnonzero(np.isin(segment.chunk_articles, np.asarray(rows, dtype=np.int64)))
        dead = np.union1d(segment.dead_rows, newly).astype(np.int64)
        kept.append((segment, dead))
        removed.append(np.asarray(segment.ids[newly], dtype=np.int64))
    return kept, np.concatenate(removed) if removed else np.zeros(0, dtype=np.int64)


def _full_merge_due(kept: list[tuple[Segment, np.ndarray]], new_rows: int, options: BuildOptions) -> bool:
    """Whether the first segment no longer holds most of the index: its rows are all gone, or the rows
    outside it plus the rows marked gone pass `merge_share` of its live rows."""
    base, base_dead = kept[0]
    outside = sum(segment.rows - len(dead) for segment, dead in kept[1:]) + new_rows
    dead = sum(len(d) for _, d in kept)
    live_base = base.rows - len(base_dead)
    return live_base == 0 or outside + dead > options.merge_share * live_base


def _saving_vectors(index_path: Path) -> AbstractContextManager[None]:
    """Writes to the embedding cache that fail for want of room or permission raise one clear error."""
    return writing_database(index_path, index_path / CACHE_FILE)


class _Tracker:
    """Counts what is done and reports it, at most every PROGRESS_SECONDS except at stage changes."""

    def __init__(self, progress: ProgressCallback | None) -> None:
        self._progress = progress
        self._started = time.monotonic()
        self._last = 0.0
        self.articles_total = self.articles_done = 0
        self.chunks_total = self.chunks_done = 0
        self.to_chunk = self.chunked_articles = 0
        self.embedded = 0
        self.reused_chunks = 0
        self.embedding_seconds = 0.0
        self._stage = "chunking"

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def start(self, articles: int, to_chunk: int) -> None:
        self.articles_total, self.to_chunk = articles, to_chunk
        self._report(force=True)

    def reused(self, articles: int, chunks: int) -> None:
        self.articles_done += articles
        self.chunks_done += chunks
        self.chunks_total += chunks
        self.reused_chunks += chunks
        self._report(force=True)

    def chunked(self, chunks: int) -> None:
        self.chunked_articles += 1
        self.chunks_total += chunks
        self._report()

    def embedded_chunks(self, chunks: int, articles: int, by_model: int, seconds: float) -> None:
        self.chunks_done += chunks
        self.articles_done += articles
        self.embedded += by_model
        self.embedding_seconds += seconds
        self._report(force=True)

    def stage(self, name: str) -> None:
        self._stage = name
        self._report(force=True)

    def _report(self, force: bool = False) -> None:
        if self._progress is None:
            return
        now = self.elapsed()
        if not force and now - self._last < PROGRESS_SECONDS:
            return
        self._last = now
        left = self.to_chunk - self.chunked_articles
        new_chunks = self.chunks_total - self.reused_chunks
        estimate = round(left * new_chunks / self.chunked_articles) if self.chunked_articles else left
        self._progress(
            BuildProgress(
                articles_done=self.articles_done,
                articles_total=self.articles_total,
                chunks_done=self.chunks_done,
                chunks_total=self.chunks_total + estimate,
                elapsed=now,
                articles_read=self.articles_total,
                articles_chunked=self.chunked_articles,
                articles_to_chunk=self.to_chunk,
                chunks_embedded=self.embedded,
                stage=self._stage,
            )
        )


@dataclass
class _Embedded:
    """A chunk's vector and its sentences' spans; their vectors wait in the embedding cache until the segment
    is assembled (held here, a million chunks' would take 9 GB)."""

    vector: np.ndarray
    spans: np.ndarray


class SentencesLostError(BylineError):
    """The embedding cache lost sentence vectors while the index was being built."""

    remedy = Remedy.RETRY_LATER


class _Embedder:
    """Gives each chunk its vector and sentence vectors, from the cache or from the model in batches (each
    batch saved to the cache at once, so a crash loses no finished work)."""

    def __init__(self, index_path: Path, encoder: Encoder, cache: EmbeddingCache, tracker: _Tracker) -> None:
        self.index_path = index_path
        self.encoder = encoder
        self.cache = cache
        self.tracker = tracker
        self.done: dict[str, _Embedded] = {}
        self._pending: list[tuple[int, list[Chunk]]] = []
        self._pending_chunks = 0
        self.embedded = 0

    def key(self, chunk: Chunk) -> str:
        return text_key(self.encoder.model_name, chunk.text)

    def queue(self, position: int, chunks: list[Chunk]) -> None:
        self._pending.append((position, chunks))
        self._pending_chunks += len(chunks)
        if self._pending_chunks >= EMBED_BATCH:
            self._flush()

    def finish(self) -> None:
        self._flush()

    def _flush(self) -> None:
        pending, self._pending, self._pending_chunks = self._pending, [], 0
        chunks = [chunk for _, batch in pending for chunk in batch]
        if not chunks:
            return
        by_key = {self.key(chunk): chunk for chunk in chunks if self.key(chunk) not in self.done}
        keys = list(by_key)
        vectors = self.cache.get_many(keys)
        cached_spans = self.cache.get_sentence_spans(keys)  # their vectors are read when the segment is assembled
        missing = []
        for key in keys:
            spans = _spans_of(by_key[key])
            cached = cached_spans.get(key)
            if key in vectors and cached is not None and np.array_equal(cached, spans):
                self.done[key] = _Embedded(vectors[key], spans)
            else:
                missing.append(key)
        in_model = sum(
            self._embed([by_key[key] for key in missing[start : start + EMBED_BATCH]], vectors)
            for start in range(0, len(missing), EMBED_BATCH)
        )
        self.tracker.embedded_chunks(len(chunks), len(pending), len(missing), in_model)

    def _embed(self, chunks: list[Chunk], cached_vectors: dict[str, np.ndarray]) -> float:
        """Embed `chunks` and cache them; returns the seconds spent in the model (tokenizing, the forward
        passes and pooling), not in caching."""
        spans = [_spans_of(chunk) for chunk in chunks]
        started = time.monotonic()
        found = self.encoder.encode_with_spans([c.text for c in chunks], [s.tolist() for s in spans])
        in_model = time.monotonic() - started
        keys = [self.key(chunk) for chunk in chunks]
        # A chunk whose vector was cached keeps it (rankings do not move); its sentences are new.
        vectors = np.vstack([cached_vectors.get(key, found.passages[i]) for i, key in enumerate(keys)])
        sentence_vectors = [found.spans_of(i).astype(np.float16) for i in range(len(chunks))]
        with writing_database(self.index_path, self.index_path / CACHE_FILE):
            self.cache.put_many(keys, vectors, list(zip(spans, sentence_vectors)))
        for i, key in enumerate(keys):
            self.done[key] = _Embedded(vectors[i], spans[i])
        self.embedded += len(chunks)
        return in_model


def _spans_of(chunk: Chunk) -> np.ndarray:
    spans = chunk.sentences or ((0, len(chunk.text)),)
    return np.asarray(spans, dtype=np.int32).reshape(-1, 2)


def _segment_data(
    articles: list[Article],
    chunked: list[ChunkedArticle],
    embedder: _Embedder,
    first_id: int,
    tokens: TokenTable,
    scratch: _ScratchFiles,
) -> SegmentData:
    """The new articles' chunks as a segment, ids numbered from `first_id` in article order; its sentence
    vectors read back from the embedding cache into a scratch file mapped in memory."""
    chunks = [chunk for item in chunked for chunk in item.chunks]
    owners = np.array([item.position for item in chunked for _ in item.chunks], dtype=np.int32)
    keys = [embedder.key(chunk) for chunk in chunks]
    dimension = embedder.encoder.dimension
    embedded = [embedder.done[key] for key in keys]
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum([len(e.spans) for e in embedded], out=offsets[1:])
    return SegmentData(
        articles=articles,
        chunks=chunks,
        ids=np.arange(first_id, first_id + len(chunks), dtype=np.int64),
        chunk_articles=owners,
        vectors=np.vstack([e.vector for e in embedded]).astype(np.float32, copy=False)
        if chunks
        else np.zeros((0, dimension), np.float32),
        sentence_offsets=offsets,
        sentence_spans=np.vstack([e.spans for e in embedded]) if chunks else np.zeros((0, 2), np.int32),
        sentence_vectors=_cached_sentences(embedder.cache, keys, embedded, offsets, dimension, scratch),
        tokens=tokens,
    )


class _ScratchFiles:
    """A build's working files in the index folder (so on the index's disk), deleted when it ends; one an
    interrupted build leaves is deleted by the next (`remove_leftovers`)."""

    def __init__(self, index_path: Path) -> None:
        self.index_path = index_path
        self.paths: list[Path] = []

    def matrix(self, rows: int, dimension: int) -> np.memmap:
        """A new float16 matrix mapped from a scratch file whose blocks are all reserved: a disk too full
        for it fails here, with a clear error, rather than when a page of the mapping is first written."""
        path = self.index_path / f"{SCRATCH_PREFIX}{uuid.uuid4().hex}-sentences.npy"
        self.paths.append(path)
        with writing_to(self.index_path):
            matrix = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(rows, dimension))
            with open(path, "r+b") as handle:
                os.posix_fallocate(handle.fileno(), 0, os.fstat(handle.fileno()).st_size)
        return matrix

    def remove(self) -> None:
        for path in self.paths:
            path.unlink(missing_ok=True)  # a segment still mapping it keeps its pages until let go


def _cached_sentences(
    cache: EmbeddingCache,
    keys: list[str],
    embedded: list[_Embedded],
    offsets: np.ndarray,
    dimension: int,
    scratch: _ScratchFiles,
) -> np.ndarray:
    """Every chunk's sentence vectors in chunk order, from the cache (where each was put when embedded, or
    found), in a float16 matrix mapped from a scratch file."""
    if not keys:
        return np.zeros((0, dimension), np.float16)
    matrix = scratch.matrix(int(offsets[-1]), dimension)
    for start in range(0, len(keys), SENTENCE_READS):
        block = range(start, min(start + SENTENCE_READS, len(keys)))
        found = cache.get_sentences(list(dict.fromkeys(keys[i] for i in block)))
        for i in block:
            hit = found.get(keys[i])
            if hit is None or not np.array_equal(hit[0], embedded[i].spans):
                raise SentencesLostError(
                    "The embedding cache lost sentence vectors while the index was being built; build it again."
                )
            matrix[offsets[i] : offsets[i + 1]] = hit[1]
    matrix.flush()
    return matrix


def _live_data(segment: Segment, dead: np.ndarray, scratch: _ScratchFiles) -> SegmentData:
    """Everything a segment holds about its rows that stay, for a merge; their sentence vectors are the
    segment's own file when every row stays, else copied into a scratch file."""
    live = np.setdiff1d(np.arange(segment.rows), dead)
    article_rows = np.unique(segment.chunk_articles[live]) if len(live) else np.zeros(0, dtype=np.int64)
    renumber = {int(old): new for new, old in enumerate(article_rows)}
    wanted = set(live.tolist())
    chunks = [chunk for row, chunk in segment.all_chunks() if row in wanted]
    first, last = segment.sentence_offsets[live], segment.sentence_offsets[live + 1]
    positions, offsets = ragged(first, last)
    if len(dead):
        sentences = _rows_into(scratch, [(segment.sentence_vectors, positions)])
    else:
        sentences = segment.sentence_vectors  # memory-mapped
    return SegmentData(
        articles=[segment.article(int(row)) for row in article_rows],
        chunks=chunks,
        ids=np.asarray(segment.ids[live], dtype=np.int64),
        chunk_articles=np.array([renumber[int(a)] for a in segment.chunk_articles[live]], dtype=np.int32),
        vectors=np.asarray(segment.vectors[live], dtype=np.float32),
        sentence_offsets=offsets,
        sentence_spans=np.asarray(segment.sentence_spans[positions], dtype=np.int32),
        sentence_vectors=sentences,
        tokens=segment.tokens().take(live),
    )


def _rows_into(scratch: _ScratchFiles, sources: Sequence[tuple[np.ndarray, np.ndarray | None]]) -> np.ndarray:
    """The rows `positions` (None: all) of each source matrix, one source after the other, in a float16
    matrix mapped from a scratch file. Copied a block at a time: a merge at archive scale moves gigabytes
    of sentence vectors, which would otherwise be held in memory, twice."""
    sizes = [len(matrix) if positions is None else len(positions) for matrix, positions in sources]
    dimension = sources[0][0].shape[1]
    if not sum(sizes):
        return np.zeros((0, dimension), np.float16)
    target = scratch.matrix(sum(sizes), dimension)
    at = 0
    for (matrix, positions), size in zip(sources, sizes):
        for start in range(0, size, MERGE_ROWS):
            stop = min(start + MERGE_ROWS, size)
            block = matrix[start:stop] if positions is None else matrix[positions[start:stop]]
            target[at + start : at + stop] = block
        at += size
    target.flush()
    return target


def _merge(parts: list[SegmentData], scratch: _ScratchFiles) -> SegmentData:
    """One segment of all these parts, in order (their ids ascending across parts); the sentence vectors
    are gathered into a scratch file."""
    nonempty = [p for p in parts if len(p)]
    if len(nonempty) <= 1:
        return nonempty[0] if nonempty else parts[-1]
    parts = nonempty
    article_base = np.cumsum([0, *(len(p.articles) for p in parts)])
    sentence_base = np.cumsum([0, *(int(p.sentence_offsets[-1]) for p in parts)])
    offsets = np.concatenate([[0]] + [p.sentence_offsets[1:] + sentence_base[i] for i, p in enumerate(parts)]).astype(
        np.int64
    )
    return SegmentData(
        articles=[a for p in parts for a in p.articles],
        chunks=[c for p in parts for c in p.chunks],
        ids=np.concatenate([p.ids for p in parts]),
        chunk_articles=np.concatenate([p.chunk_articles + article_base[i] for i, p in enumerate(parts)]).astype(
            np.int32
        ),
        vectors=np.concatenate([p.vectors for p in parts]),
        sentence_offsets=offsets,
        sentence_spans=np.concatenate([p.sentence_spans for p in parts]),
        sentence_vectors=_rows_into(scratch, [(p.sentence_vectors, None) for p in parts]),
        tokens=TokenTable.concatenate([p.tokens for p in parts]),
    )
