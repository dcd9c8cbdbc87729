"""Chunking (pysbd sentences, model tokens) and BM25 tokenizing of articles on every core, streamed:
results come back in order, one article at a time, as soon as they are ready, so embedding starts with
the first article instead of after the last."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import dataclass

from tokenizers import Tokenizer

from corpus.models import Article
from embeddings.chunking import Chunk, Chunker, ChunkerSettings
from embeddings.lexical import ChunkTokens, chunk_tokens

# Fewer articles than this are chunked in this process: starting worker processes costs about a second.
POOL_MIN_ARTICLES = 64
ARTICLES_PER_TASK = 4


@dataclass(frozen=True)
class ChunkedArticle:
    position: int  # the article's position in the list given
    chunks: list[Chunk]
    tokens: list[ChunkTokens]  # BM25 tokens of each chunk (with the article's header line)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def chunk_articles(
    articles: list[Article], tokenizer: Tokenizer, settings: ChunkerSettings, workers: int | None = None
) -> Iterator[ChunkedArticle]:
    """Each article's chunks and BM25 tokens, in the order given; in a pool of `workers` processes (default:
    one per core) unless there are few articles."""
    workers = default_workers() if workers is None else workers
    if workers <= 1 or len(articles) < POOL_MIN_ARTICLES:
        chunker = Chunker(tokenizer, settings)
        for position, article in enumerate(articles):
            yield _chunk(chunker, position, article)
        return
    # spawn, not fork: the parent runs OpenVINO's and the tokenizer's threads, which a fork would copy mid-use.
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_start_worker, initargs=(tokenizer.to_str(), settings)) as pool:
        yield from pool.imap(_work, enumerate(articles), chunksize=ARTICLES_PER_TASK)


def _chunk(chunker: Chunker, position: int, article: Article) -> ChunkedArticle:
    chunks = chunker.chunk(article)
    return ChunkedArticle(position, chunks, chunk_tokens(article, chunks))


_worker_chunker: Chunker | None = None


def _start_worker(tokenizer: str, settings: ChunkerSettings) -> None:
    global _worker_chunker
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _worker_chunker = Chunker(Tokenizer.from_str(tokenizer), settings)


def _work(item: tuple[int, Article]) -> ChunkedArticle:
    assert _worker_chunker is not None
    return _chunk(_worker_chunker, *item)
