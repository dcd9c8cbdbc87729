"""Byline's core as one object: the served index, asking questions, and reindexing the corpus.

Everything here is synchronous and may be slow (encoding, searching, indexing); the Discord bot calls
it from worker threads. A reindex builds a new generation on disk while the old searcher keeps
answering, then swaps the new searcher in.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from bot.answer import AnswerComposer, ComposerConfig, conversation_query
from bot.answer_model import Answer
from bot.settings import AnswerSettings, IndexSettings, SettingsError
from corpus.errors import BylineError
from corpus.models import Article
from corpus.readers import SkippedFile, default_corpus_path, load_corpus
from embeddings.chunking import ChunkerSettings
from embeddings.encoder import Encoder
from embeddings.indexer import BuildReport, ProgressCallback, build_index
from embeddings.search import HybridSearcher, SearchFilters
from embeddings.store import IndexMissingError, open_index

_DISCORD_MENTION = re.compile(r"<(@[!&]?|#)\d+>")


class QuestionError(BylineError, ValueError):
    """A question or filter that cannot be answered as given; the message tells the user why."""


@dataclass(frozen=True)
class ReindexOutcome:
    report: BuildReport
    skipped: list[SkippedFile]


@dataclass(frozen=True)
class IndexStatus:
    articles: int
    chunks: int
    outlets: int
    model: str
    built_at: str
    corpus_path: Path


class Byline:
    """Answers questions from the served index and rebuilds it from the corpus."""

    def __init__(
        self, index_settings: IndexSettings, answer_settings: AnswerSettings, encoder: Encoder | None = None
    ) -> None:
        self.index_settings = index_settings
        self.answer_settings = answer_settings
        self.encoder = encoder or Encoder(
            index_settings.model, runtime=index_settings.runtime, model_cache=index_settings.model_cache
        )
        self.composer = AnswerComposer(
            self.encoder,
            ComposerConfig(sentences=answer_settings.sentences, min_relevance=answer_settings.min_relevance),
        )
        self._searcher: HybridSearcher | None = None
        self._swap_lock = threading.Lock()

    @property
    def corpus_path(self) -> Path:
        return self.index_settings.corpus_path or default_corpus_path()

    @property
    def chunker_settings(self) -> ChunkerSettings:
        return ChunkerSettings(self.index_settings.chunk_tokens, self.index_settings.chunk_overlap)

    def searcher(self) -> HybridSearcher:
        """The searcher over the served index, loaded on first use (IndexUnavailableError if it can't be)."""
        with self._swap_lock:
            if self._searcher is None:
                snapshot = open_index(self.index_settings.index_path, self.encoder.model_name, self.chunker_settings)
                self._searcher = HybridSearcher(snapshot, self.encoder)
            return self._searcher

    def ensure_index(self, progress: ProgressCallback | None = None) -> ReindexOutcome | None:
        """Build the index if there is none yet (a fresh install); a damaged one is left to `reindex`."""
        try:
            self.searcher()
        except IndexMissingError:
            return self.reindex(progress)
        return None

    def reindex(self, progress: ProgressCallback | None = None) -> ReindexOutcome:
        """Rebuild incrementally from the corpus, then serve the new index."""
        self._check_chunk_window()
        corpus = load_corpus(self.corpus_path)
        report = build_index(
            corpus.articles, self.index_settings.index_path, self.encoder, self.chunker_settings, progress
        )
        snapshot = open_index(self.index_settings.index_path, self.encoder.model_name, self.chunker_settings)
        searcher = HybridSearcher(snapshot, self.encoder)
        with self._swap_lock:
            self._searcher = searcher
        return ReindexOutcome(report, corpus.skipped)

    def ask(
        self,
        question: str,
        outlet: str | None = None,
        since: date | None = None,
        until: date | None = None,
        context: str | None = None,
    ) -> Answer:
        """A cited answer to `question`; `context` is an earlier question of the same conversation."""
        question = self.clean_question(question)
        searcher = self.searcher()
        filters = self._filters(searcher, outlet, since, until)
        query = conversation_query(question, context)
        query_vector = self.encoder.encode([query])[0]
        results = searcher.search(query, k=self.answer_settings.top_k, filters=filters, query_vector=query_vector)
        return self.composer.compose(question, results, context=context, query_vector=query_vector)

    def clean_question(self, question: str) -> str:
        question = _DISCORD_MENTION.sub(" ", question or "")
        question = " ".join(question.split())
        if not question:
            raise QuestionError("Ask a question, e.g. “What did Baqeri propose?”")
        limit = self.answer_settings.max_question_chars
        if len(question) > limit:
            raise QuestionError(f"That question is {len(question):,} characters long; keep it under {limit:,}.")
        if not any(ch.isalnum() for ch in question):
            raise QuestionError("That question has no words in it.")
        return question

    def status(self) -> IndexStatus:
        snapshot = self.searcher().snapshot
        return IndexStatus(
            articles=len(snapshot.articles),
            chunks=len(snapshot.chunks),
            outlets=len(snapshot.outlets),
            model=snapshot.manifest.model,
            built_at=snapshot.manifest.built_at,
            corpus_path=self.corpus_path,
        )

    def sources(self) -> list[Article]:
        """Indexed articles, newest first (undated ones last)."""
        articles = list(self.searcher().snapshot.articles.values())
        return sorted(articles, key=lambda a: (a.published is not None, a.published or datetime.min), reverse=True)

    def _filters(
        self, searcher: HybridSearcher, outlet: str | None, since: date | None, until: date | None
    ) -> SearchFilters:
        if since and until and since > until:
            raise QuestionError(f"The start date {since} is after the end date {until}.")
        outlets: tuple[str, ...] = ()
        if outlet and outlet.strip():
            outlets = tuple(searcher.analyzer.resolve_outlet(outlet))
            if not outlets:
                known = ", ".join(searcher.snapshot.outlets[:20]) or "none"
                raise QuestionError(f"No indexed outlet matches {outlet!r}. Indexed outlets: {known}.")
        return SearchFilters(outlets=outlets, since=since, until=until)

    def _check_chunk_window(self) -> None:
        window = self.encoder.max_tokens
        if self.index_settings.chunk_tokens > window:
            raise SettingsError(
                f"BYLINE_CHUNK_TOKENS is {self.index_settings.chunk_tokens}, but the model "
                f"{self.encoder.model_name!r} reads only {window} tokens per chunk; text past that would be ignored."
            )
