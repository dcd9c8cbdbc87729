"""Indexing and query speed, as ratios against baselines measured in the same run.

    python benchmarks/indexing.py [--articles FILE.jsonl] [--count N]

Prints: the share of a full build spent embedding (the rest is Byline's own overhead), a rebuild
after one article changed and a rebuild with nothing changed, each against the full build, and the
median question time against the bare query embedding. Defaults to the first 60 MultiHop-RAG
articles in ../shared (any JSONL of articles works).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bot.answer import AnswerComposer
from corpus.readers import load_corpus
from embeddings.chunking import ChunkerSettings
from embeddings.encoder import Encoder
from embeddings.indexer import build_index
from embeddings.search import HybridSearcher
from embeddings.sentences import StoredSentences
from embeddings.store import open_index

DEFAULT_ARTICLES = Path(__file__).resolve().parents[1].parent / "shared/eval/multihop-rag/articles.jsonl"
QUESTIONS = [
    "What did the Federal Reserve signal about interest rates?",
    "Which company did TechCrunch report raised funding in October 2023?",
    "What did the prosecution argue in the Sam Bankman-Fried trial?",
    "How did the Chiefs perform against the Broncos?",
    "What did the Sporting News say about the Vikings' quarterback?",
]


class TimedEncoder(Encoder):
    """The real encoder, keeping count of the seconds spent embedding."""

    seconds = 0.0

    def encode(self, texts):
        started = time.perf_counter()
        try:
            return super().encode(texts)
        finally:
            self.seconds += time.perf_counter() - started

    def encode_with_spans(self, texts, spans):
        """What a build calls: passages embedded with their sentences' vectors."""
        started = time.perf_counter()
        try:
            return super().encode_with_spans(texts, spans)
        finally:
            self.seconds += time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=DEFAULT_ARTICLES)
    parser.add_argument("--count", type=int, default=60)
    args = parser.parse_args()
    articles = load_corpus(args.articles).articles[: args.count]
    encoder = TimedEncoder()
    encoder.encode(["warm up"])
    settings = ChunkerSettings()
    with tempfile.TemporaryDirectory() as folder:
        index = Path(folder)
        encoder.seconds = 0.0
        full = _timed(lambda: build_index(articles, index, encoder, settings))
        embedding = encoder.seconds
        last = articles[-1]
        edited = last.paragraphs[:-1] + [last.paragraphs[-1] + " This article was updated with a correction."]
        changed = articles[:-1] + [last.model_copy(update={"paragraphs": edited})]
        one_changed = _timed(lambda: build_index(changed, index, encoder, settings))
        unchanged = _timed(lambda: build_index(changed, index, encoder, settings))
        snapshot = open_index(index, encoder.model_name, settings)
        searcher = HybridSearcher(snapshot, encoder)
        query = statistics.median(_timed(lambda q=q: encoder.encode([q]))[1] for q in QUESTIONS * 3)
        search = statistics.median(_timed(lambda q=q: searcher.search(q, 10))[1] for q in QUESTIONS * 3)
        composer = AnswerComposer(encoder, sentences=StoredSentences(snapshot))
        answer = statistics.median(
            _timed(lambda q=q: composer.compose(q, searcher.search(q, 10)))[1] for q in QUESTIONS * 3
        )

    report, seconds = full
    print(f"articles: {report.articles}, chunks: {report.chunks}")
    print(
        f"full build: {seconds:.1f} s ({report.chunks / seconds:.1f} chunks/s, {report.articles / seconds:.1f} articles/s)"
    )
    print(
        f"  embedding: {embedding:.1f} s = {embedding / seconds:.1%} of the build; everything else {1 - embedding / seconds:.1%}"
    )
    print(
        f"one article changed: {one_changed[1]:.2f} s = {one_changed[1] / seconds:.3f}x the full build "
        f"({one_changed[0].chunks_embedded} chunks embedded)"
    )
    print(f"nothing changed: {unchanged[1]:.2f} s = {unchanged[1] / seconds:.4f}x the full build")
    print(
        f"question: embedding it alone {query * 1000:.0f} ms; search {search * 1000:.0f} ms = {search / query:.1f}x; "
        f"search and cited answer {answer * 1000:.0f} ms = {answer / query:.1f}x"
    )


def _timed(work):
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


if __name__ == "__main__":
    main()
