"""Incremental index builds: re-chunk and re-embed only what changed, then swap the new generation in."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from corpus.errors import BylineError, Remedy
from corpus.models import Article
from embeddings.cache import EmbeddingCache, text_key
from embeddings.chunking import Chunk, Chunker, ChunkerSettings
from embeddings.encoder import Encoder
from embeddings.index_folder import writing_database, writing_to
from embeddings.store import (
    IndexSnapshot,
    IndexUnavailableError,
    Manifest,
    current_generation,
    load_generation,
    remove_leftovers,
    serve_generation,
    write_generation,
)

EMBED_BATCH = 64
CACHE_FILE = "embedding-cache.sqlite"


class IndexBusyError(BylineError):
    """Another build holds the index lock."""

    remedy = Remedy.RETRY_LATER


@dataclass(frozen=True)
class BuildProgress:
    articles_done: int
    articles_total: int
    chunks_done: int
    chunks_total: int
    elapsed: float

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def articles_per_second(self) -> float:
        return self.articles_done / self.elapsed if self.elapsed > 0 else 0.0


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


ProgressCallback = Callable[[BuildProgress], None]


def build_index(
    articles: list[Article],
    index_path: Path,
    encoder: Encoder,
    chunker_settings: ChunkerSettings,
    progress: ProgressCallback | None = None,
    lock_timeout: float = 0,
) -> BuildReport:
    """Build and serve a new generation for `articles`, reusing every chunk and vector it can.

    A build that fails (a full disk, say) leaves the served generation as it was, and no part of its own.
    """
    lock = FileLock(str(index_path / ".lock"))
    with writing_to(index_path):
        index_path.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=lock_timeout)
        except Timeout as error:  # a TimeoutError, so an OSError: caught before writing_to sees it
            raise IndexBusyError(f"Another build of the index at {index_path} is running.") from error
    try:
        return _build_locked(articles, index_path, encoder, chunker_settings, progress)
    finally:
        lock.release()


def _build_locked(
    articles: list[Article],
    index_path: Path,
    encoder: Encoder,
    chunker_settings: ChunkerSettings,
    progress: ProgressCallback | None,
) -> BuildReport:
    started = time.monotonic()
    served = _served_generation(index_path)
    remove_leftovers(index_path)
    previous = _reusable_snapshot(served, encoder.model_name, chunker_settings)
    report = _diff(articles, previous)
    if previous is not None and not (report.added or report.changed or report.removed):
        return _nothing_to_do(report, previous, started)

    chunker = Chunker(encoder.tokenizer, chunker_settings)
    chunks = _chunks_for(articles, previous, chunker)
    keys = [text_key(encoder.model_name, c.text) for c in chunks]
    dimension = encoder.dimension
    with _saving_vectors(index_path):
        cache = EmbeddingCache(index_path / CACHE_FILE, dimension)
    try:
        vectors, report.chunks_embedded = _embed_missing(index_path, chunks, keys, cache, encoder, started, progress)
        manifest = Manifest(
            model=encoder.model_name,
            dimension=encoder.dimension,
            chunker=asdict(chunker_settings),
            articles=len(articles),
            chunks=len(chunks),
        )
        generation = write_generation(index_path, manifest, articles, chunks, vectors)
        serve_generation(index_path, generation)
        with _saving_vectors(index_path):
            cache.keep_only(set(keys))
    finally:
        cache.close()
    report.articles, report.chunks = len(articles), len(chunks)
    report.seconds = time.monotonic() - started
    report.generation = generation.name
    return report


def _served_generation(index_path: Path) -> Path | None:
    """The served generation; a damaged pointer counts as none, since this build replaces it."""
    try:
        return current_generation(index_path)
    except IndexUnavailableError:
        return None


def _nothing_to_do(report: BuildReport, served: IndexSnapshot, started: float) -> BuildReport:
    """The served generation already holds exactly these articles: keep serving it."""
    report.articles, report.chunks = len(served.articles), len(served.chunks)
    report.seconds = time.monotonic() - started
    report.generation = served.location.name
    return report


def _reusable_snapshot(served: Path | None, model: str, chunker: ChunkerSettings) -> IndexSnapshot | None:
    """The served generation if its chunks can be reused; a damaged or different one is rebuilt from scratch."""
    if served is None:
        return None
    try:
        snapshot = load_generation(served)
        snapshot.manifest.check_compatible(model, chunker, served)
    except IndexUnavailableError:
        return None
    return snapshot


def _diff(articles: list[Article], previous: IndexSnapshot | None) -> BuildReport:
    old = previous.article_hashes if previous else {}
    report = BuildReport()
    for article in articles:
        if article.id not in old:
            report.added.append(article.id)
        elif old[article.id] != article.content_hash:
            report.changed.append(article.id)
        else:
            report.unchanged += 1
    current = {a.id for a in articles}
    report.removed = sorted(set(old) - current)
    return report


def _chunks_for(articles: list[Article], previous: IndexSnapshot | None, chunker: Chunker) -> list[Chunk]:
    """Chunks of every article, taken from the previous generation where the article is unchanged."""
    reusable: dict[str, list[Chunk]] = {}
    if previous:
        for chunk in previous.chunks:
            reusable.setdefault(chunk.article_id, []).append(chunk)
    chunks: list[Chunk] = []
    for article in articles:
        unchanged = previous is not None and previous.article_hashes.get(article.id) == article.content_hash
        chunks.extend(reusable.get(article.id, []) if unchanged else chunker.chunk(article))
    return chunks


def _saving_vectors(index_path: Path) -> AbstractContextManager[None]:
    """Writes to the embedding cache that fail for want of room or permission raise one clear error."""
    return writing_database(index_path, index_path / CACHE_FILE)


def _embed_missing(
    index_path: Path,
    chunks: list[Chunk],
    keys: list[str],
    cache: EmbeddingCache,
    encoder: Encoder,
    started: float,
    progress: ProgressCallback | None,
) -> tuple[np.ndarray, int]:
    """Vectors for every chunk, from the cache or embedded in batches (each batch saved at once)."""
    unique = list(dict.fromkeys(keys))
    known = cache.get_many(unique)
    missing = [key for key in unique if key not in known]
    text_of = dict(zip(keys, (c.text for c in chunks)))
    tracker = _ProgressTracker(chunks, keys, set(known), started, progress)
    for start in range(0, len(missing), EMBED_BATCH):
        batch = missing[start : start + EMBED_BATCH]
        vectors = encoder.encode([text_of[key] for key in batch])
        with _saving_vectors(index_path):
            cache.put_many(batch, vectors)
        known.update(zip(batch, vectors))
        tracker.done(batch)
    if not chunks:
        return np.zeros((0, encoder.dimension), dtype=np.float32), 0
    return np.vstack([known[key] for key in keys]).astype(np.float32), len(missing)


class _ProgressTracker:
    """Counts articles and chunks whose vectors are ready, and reports after every batch."""

    def __init__(
        self,
        chunks: list[Chunk],
        keys: list[str],
        ready: set[str],
        started: float,
        progress: ProgressCallback | None,
    ) -> None:
        self._progress = progress
        self._started = started
        self._chunks_total = len(chunks)
        self._rows_by_key: dict[str, int] = {}
        self._pending_by_article: dict[str, set[str]] = {}
        self._article_of_key: dict[str, set[str]] = {}
        for chunk, key in zip(chunks, keys):
            self._rows_by_key[key] = self._rows_by_key.get(key, 0) + 1
            self._pending_by_article.setdefault(chunk.article_id, set())
            if key not in ready:
                self._pending_by_article[chunk.article_id].add(key)
                self._article_of_key.setdefault(key, set()).add(chunk.article_id)
        self._articles_total = len(self._pending_by_article)
        self._chunks_done = sum(count for key, count in self._rows_by_key.items() if key in ready)
        self._report()

    def done(self, keys: list[str]) -> None:
        for key in keys:
            self._chunks_done += self._rows_by_key.get(key, 0)
            for article_id in self._article_of_key.get(key, ()):
                self._pending_by_article[article_id].discard(key)
        self._report()

    def _report(self) -> None:
        if self._progress is None:
            return
        articles_done = sum(1 for pending in self._pending_by_article.values() if not pending)
        elapsed = time.monotonic() - self._started
        self._progress(
            BuildProgress(articles_done, self._articles_total, self._chunks_done, self._chunks_total, elapsed)
        )
