"""Byline's core as one object: the served index, asking questions, and reindexing the corpus.

Everything here is synchronous and may be slow (encoding, searching, indexing); the Discord bot calls
it from worker threads. A reindex builds a new generation on disk while the old searcher keeps
answering, then swaps the new searcher in.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np

from bot.answer import (
    AnswerComposer,
    AskedPart,
    ComposerConfig,
    NamedSources,
    conversation_query,
    not_covered_answer,
    to_passage,
)
from bot.answer_model import Answer
from bot.answer_store import ANSWERS_FILE, AnswerStore
from bot.build_inputs import BuildInputs, load_build_inputs, save_build_inputs
from bot.coverage import Coverage, asked_names, check_coverage, unmentioned
from bot.parts import QuestionPart, question_parts
from bot.question_text import QuestionError, clean_context, clean_question, without_emphasis
from bot.retrieval import RetrievalConfig, find_names, retrieve, searched_parts
from bot.settings import AnswerSettings, IndexSettings, SettingsError
from bot.specifics import question_specifics
from corpus.corpus_stories import CorpusStories
from corpus.errors import BylineError
from corpus.fingerprint import corpus_fingerprint
from corpus.gather import gather_articles, load_corpus_articles
from corpus.library import Library
from corpus.library_folds import LibraryFolds
from corpus.models import Article
from corpus.readers import CorpusNote, SkippedFile, default_corpus_path
from corpus.readers.recorded import CorpusFileRecords, KnownArticle
from embeddings.chunking import ChunkerSettings
from embeddings.encoder import Encoder
from embeddings.index_folder import IndexLocationError
from embeddings.indexer import BuildOptions, BuildProgress, BuildReport, ProgressCallback, build_index
from embeddings.query import NameMention, QueryHints
from embeddings.search import HybridSearcher, SearchFilters, SearchResult
from embeddings.sentences import StoredSentences
from embeddings.store import (
    IndexFormatError,
    IndexMissingError,
    IndexSnapshot,
    IndexUnavailableError,
    current_generation,
    open_index,
)
from embeddings.vectors import VectorStore, open_shared_store

log = logging.getLogger(__name__)

CORPUS_RECORDS_FILE = "corpus-files.json"  # in the index folder: what each corpus file held when last read

__all__ = ["Byline", "IndexStatus", "QuestionError", "ReindexOutcome"]


@dataclass(frozen=True)
class ReindexOutcome:
    report: BuildReport
    skipped: list[SkippedFile]
    from_library: int = 0  # articles indexed from the library (feeds, links, uploads)
    folded: int = 0  # library articles folded into a corpus-folder article telling the same story
    notes: list[CorpusNote] = field(default_factory=list)  # articles kept with a change (e.g. no date)
    files_read: int | None = None  # corpus files read (None: all; the others were unchanged since last read)


@dataclass(frozen=True)
class IndexStatus:
    articles: int
    chunks: int
    outlets: int
    model: str
    built_at: str
    corpus_path: Path
    newest_article: datetime | None = None  # publication date of the newest article the tenant may see


class Byline:
    """Answers questions from the served index and rebuilds it from the corpus."""

    def __init__(
        self,
        index_settings: IndexSettings,
        answer_settings: AnswerSettings,
        encoder: Encoder | None = None,
        with_library: bool = True,
        index_path_setting: str | None = "BYLINE_INDEX_PATH",
    ) -> None:
        """`index_path_setting` names where the index path came from, for errors about the folder."""
        self.index_settings = index_settings
        # Fetched and uploaded articles, indexed with the corpus folder (None: the folder alone, e.g. for eval).
        self.library = Library(index_settings.library_file) if with_library else None
        # What the duplicate checks (at ingest and when a rebuild folds the library in) know of the corpus
        # folder's articles, kept between them so each compares only what changed since.
        self.corpus_stories = CorpusStories()
        # Which corpus article tells each library article's story, kept between rebuilds so that each
        # compares only the library articles new or changed since (or all, once the corpus changed).
        self.library_folds = LibraryFolds()
        self.index_path_setting = index_path_setting
        self.answer_settings = answer_settings
        self.encoder = encoder or Encoder(
            index_settings.model, runtime=index_settings.runtime, model_cache=index_settings.model_cache
        )
        self.composer = AnswerComposer(
            self.encoder,
            ComposerConfig(sentences=answer_settings.sentences, min_relevance=answer_settings.min_relevance),
        )
        self.retrieval = RetrievalConfig()
        self.check_specifics = True
        self.find_names = True
        self._searcher: HybridSearcher | None = None
        self._shared: VectorStore | None = None
        self._swap_lock = threading.Lock()
        # Answers given in Discord and their feedback, beside the embedding cache (outliving generations).
        self.answers = AnswerStore(index_settings.index_path / ANSWERS_FILE)

    @property
    def corpus_path(self) -> Path:
        return self.index_settings.corpus_path or default_corpus_path()

    @property
    def chunker_settings(self) -> ChunkerSettings:
        return ChunkerSettings(self.index_settings.chunk_tokens, self.index_settings.chunk_overlap)

    def searcher(self) -> HybridSearcher:
        """The searcher over the served index, loaded on first use (IndexUnavailableError if it can't be)."""
        with self._swap_lock, self._index_folder_named():
            if self._searcher is None:
                self._searcher = self._open_searcher()
            return self._searcher

    def _open_searcher(self) -> HybridSearcher:
        snapshot = self._open_snapshot()
        return HybridSearcher(snapshot, self.encoder, shared=self._shared_store())

    def _shared_store(self) -> VectorStore | None:
        """The Milvus collection when the settings keep vectors there (opened once, kept across reindexes)."""
        if self._shared is None:
            self._shared = open_shared_store(
                self.index_settings.vector_settings, self.index_settings.index_path, self.encoder.dimension
            )
        return self._shared

    def close(self) -> None:
        """Let go of the served index's files (memory-mapped arrays, SQLite) and of Milvus."""
        with self._swap_lock:
            searcher, self._searcher = self._searcher, None
            shared, self._shared = self._shared, None
        if searcher is not None:
            searcher.snapshot.close()
        if shared is not None:
            shared.close()

    @property
    def index_loaded(self) -> bool:
        """Whether the served index is open in memory (it opens on first use)."""
        return self._searcher is not None

    def warm_up(self) -> None:
        """Load the model and open the served index now, so the first question costs what the next ones do.

        The model is loaded even when the index cannot be opened (that error is raised afterwards)."""
        self.encoder.encode(["warm-up"])
        self.searcher().search("warm-up", k=1)
        if self.library is not None:
            self._prepare_duplicate_checks(self.library)

    def _prepare_duplicate_checks(self, library: Library) -> None:
        """Compare the corpus folder's articles for duplicate checks now (0.5 s at 8,621 articles), and the
        library's with them, so the first link, upload or reindex after a start compares only what changed
        since. A failure here is left to that first add or reindex, which reports it."""
        try:
            self.corpus_stories.update(self.corpus_articles(), library)
            if library.exists():
                self.library_folds.fold(library.record_keys(), self.corpus_stories, library)
        except (BylineError, OSError) as error:
            log.warning("The corpus folder's and the library's articles were not compared at start: %s", error)

    def corpus_articles(self) -> list[Article | KnownArticle]:
        """The corpus folder's articles, reading only the files changed since they were recorded."""
        return load_corpus_articles(self.corpus_path, self.index_settings.corpus_options, self.corpus_records())

    def ensure_index(self, progress: ProgressCallback | None = None) -> ReindexOutcome | None:
        """Build the index if there is none yet (a fresh install), or rebuild one an older Byline wrote in
        another format (from its embedding cache); a damaged one, or one built with other settings, is left
        to `reindex`."""
        try:
            self.searcher()
        except (IndexMissingError, IndexFormatError):
            return self.reindex(progress)
        return None

    def reindex(
        self, progress: ProgressCallback | None = None, lock_timeout: float = 0, allow_empty: bool = False
    ) -> ReindexOutcome:
        """Rebuild incrementally from the corpus folder and the library, then serve the new index.

        `lock_timeout`: seconds to wait for another build to finish before IndexBusyError.
        `allow_empty`: build an empty index rather than raise EmptyCorpusError when there are no articles."""
        self._check_chunk_window()
        reading = _ReadingProgress(progress)
        fingerprint = self._inputs_fingerprint()
        unchanged = self._unchanged_since_last_build(fingerprint)
        if unchanged is not None:
            return unchanged
        with self._index_folder_named():
            gathered = gather_articles(
                self.corpus_path,
                self.library,
                allow_empty=allow_empty,
                options=self.index_settings.corpus_options,
                indexed_sources=self._indexed_sources(),
                progress=reading,
                records=self.corpus_records(),
                stories=self.corpus_stories,
                folds=self.library_folds,
            )
            report = build_index(
                gathered.articles,
                self.index_settings.index_path,
                self.encoder,
                self.chunker_settings,
                progress,
                lock_timeout=lock_timeout,
                options=BuildOptions(vectors=self.index_settings.vector_settings),
            )
            searcher = self._open_searcher()
        with self._swap_lock:
            self._searcher = searcher
        outcome = ReindexOutcome(
            report, gathered.skipped, gathered.from_library, gathered.folded, gathered.notes, gathered.files_read
        )
        save_build_inputs(self.index_settings.index_path, BuildInputs.of(fingerprint, outcome))
        return outcome

    def corpus_records(self) -> CorpusFileRecords:
        """What each corpus file held when it was last read (kept in the index folder)."""
        return CorpusFileRecords(self.index_settings.index_path / CORPUS_RECORDS_FILE)

    def _inputs_fingerprint(self) -> str:
        settings = self.index_settings
        library = settings.library_file if self.library is not None else None
        others = [library, library.with_name(library.name + "-wal")] if library is not None else []
        shape = f"{self.encoder.model_name}\x00{self.chunker_settings}\x00{settings.vector_store}"
        return corpus_fingerprint(self.corpus_path, settings.corpus_options, others, shape)

    def _unchanged_since_last_build(self, fingerprint: str) -> ReindexOutcome | None:
        """The last build's outcome when nothing it was built from changed since (files by path, size and
        modification time) and its index is still the one served: a reindex then reads no article."""
        inputs = load_build_inputs(self.index_settings.index_path)
        if inputs is None or inputs.fingerprint != fingerprint:
            return None
        try:
            snapshot = self.searcher().snapshot
        except IndexUnavailableError:
            return None
        if (
            snapshot.location.name != inputs.generation
            or current_generation(snapshot.location.parent.parent) != snapshot.location
        ):
            return None
        manifest = snapshot.manifest
        report = BuildReport(
            unchanged=manifest.articles,
            articles=manifest.articles,
            chunks=manifest.chunks,
            generation=snapshot.location.name,
            segments=len(snapshot.segments),
        )
        return inputs.outcome(report)

    def _indexed_sources(self) -> dict[str, str]:
        """Each served article's id and source file, so a new file cannot take over an indexed id."""
        with self._swap_lock:
            searcher = self._searcher
        try:
            snapshot = searcher.snapshot if searcher else self._open_snapshot()
        except IndexUnavailableError:  # no usable index yet: nothing to protect
            return {}
        return snapshot.source_files()

    def _open_snapshot(self) -> IndexSnapshot:
        return open_index(
            self.index_settings.index_path,
            self.encoder.model_name,
            self.chunker_settings,
            self.index_settings.vector_settings.kind,
        )

    def ask(
        self,
        question: str,
        outlet: str | None = None,
        since: date | None = None,
        until: date | None = None,
        context: str | None = None,
        tenant: str | None = None,
        author: str | None = None,
    ) -> Answer:
        """A cited answer to `question`; `context` is an earlier question of the same conversation.

        `tenant` (a Discord server id) limits the answer to what that server may see: the shared articles
        and its own; None (the command line) sees everything. `outlet` and `author` name an indexed outlet
        or author (any case; a part of the name is enough when no name matches it whole)."""
        question = self.clean_question(question)
        context = clean_context(context, self.answer_settings.max_question_chars)
        searcher = self.searcher()
        filters = self._filters(searcher, outlet, since, until, tenant, author)
        searched = without_emphasis(question)
        query = conversation_query(searched, context)
        hints = searcher.analyzer.analyze(query)
        if tenant is not None:
            visible = set(self._visible_outlets(searcher, tenant))
            hints = dataclasses.replace(hints, outlets=[o for o in hints.outlets if o in visible])
        asked_parts = question_parts(searched, searcher.analyzer, self.retrieval.source_clauses)
        parts = searched_parts(asked_parts, self.retrieval)
        # An author's name says whose articles to read, not what they say: it is left out of the meaning.
        meaning = _without(query, searcher.analyzer.author_mentions(query))
        query_vector, part_vectors = self._question_vectors(meaning, searched, parts)
        results = retrieve(
            searcher,
            query,
            parts,
            part_vectors,
            self.answer_settings.top_k,
            filters,
            hints,
            query_vector,
            self.retrieval,
        )
        results = [_result_for(result, tenant) for result in results]
        if self.check_specifics:
            results, coverage = self._covered(searcher, searched, results, filters, hints, query_vector, tenant)
            if not coverage.complete:
                return not_covered_answer(question, coverage, [to_passage(r) for r in results])
        asked = [
            AskedPart(part.text, vector, NamedSources(tuple(part.outlets), tuple(part.authors)))
            for part, vector in zip(parts, part_vectors)
        ]
        sentences = StoredSentences(searcher.snapshot)
        answer = self.composer.compose(
            searched,
            results,
            context=context,
            query_vector=query_vector,
            sentences=sentences,
            parts=asked,
            sources=NamedSources(tuple(hints.outlets), tuple(hints.authors)),
        )
        return answer if searched == question else answer.model_copy(update={"question": question})

    def _question_vectors(
        self, meaning: str, searched: str, parts: list[QuestionPart]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """The question's vector and each part's: pooled over the part's tokens in the question's own pass
        when the parts are spans of the text embedded (`RetrievalConfig.part_spans`), else embedded apart
        from the question, padded only to the longest part (137 tokens a dev question instead of 234)."""
        spans = [(part.start, part.end) for part in parts]
        if parts and meaning == searched and self.retrieval.part_spans and all(searched[a:b].strip() for a, b in spans):
            vectors = self.encoder.encode_with_spans([meaning], [spans])
            return vectors.passages[0], list(vectors.spans_of(0))
        query_vector = self.encoder.encode([meaning])[0]
        return query_vector, list(self.encoder.encode([part.text for part in parts]))

    def _covered(
        self,
        searcher: HybridSearcher,
        question: str,
        results: list[SearchResult],
        filters: SearchFilters,
        hints: QueryHints,
        query_vector: np.ndarray,
        tenant: str | None,
    ) -> tuple[list[SearchResult], Coverage]:
        """What the evidence lacks of the question's specifics (sources it names that are not indexed, names
        no retrieved article mentions), after looking for an article that mentions each missing name."""
        analyzer = searcher.analyzer
        known = [(m.start, m.end) for m in [*analyzer.outlet_mentions(question), *analyzer.author_mentions(question)]]
        specifics = question_specifics(question, known)

        def known_source(name: str) -> bool:
            return bool(analyzer.indexed_sources(name))

        coverage = check_coverage(specifics, results, known_source)
        if coverage.missing_names and not coverage.missing_sources and self.find_names:
            missing = unmentioned(asked_names(specifics), results)
            found = find_names(searcher, missing, results, self.answer_settings.top_k, filters, hints, query_vector)
            results = [_result_for(result, tenant) for result in found]
            coverage = check_coverage(specifics, results, known_source)
        return results, coverage

    def clean_question(self, question: str) -> str:
        """The question as plain text, or QuestionError saying why it cannot be asked (see question_text)."""
        return clean_question(question, self.answer_settings.max_question_chars)

    def status(self, tenant: str | None = None) -> IndexStatus:
        """What is indexed, counting only what `tenant` may see (None: everything)."""
        snapshot = self.searcher().snapshot
        articles, chunks = snapshot.counts(tenant)
        return IndexStatus(
            articles=articles,
            chunks=chunks,
            outlets=len(snapshot.visible_outlets(tenant)),
            model=snapshot.manifest.model,
            built_at=snapshot.manifest.built_at,
            corpus_path=self.corpus_path,
            newest_article=snapshot.newest_published(tenant),
        )

    def sources(self, tenant: str | None = None) -> list[Article]:
        """Indexed articles `tenant` may see (None: all), newest first (undated ones last)."""
        articles = [_article_for(a, tenant) for a in self.searcher().snapshot.visible_articles(tenant)]
        return sorted(articles, key=lambda a: (a.published is not None, a.published or datetime.min), reverse=True)

    def _visible_outlets(self, searcher: HybridSearcher, tenant: str | None) -> list[str]:
        return searcher.snapshot.visible_outlets(tenant)

    def _filters(
        self,
        searcher: HybridSearcher,
        outlet: str | None,
        since: date | None,
        until: date | None,
        tenant: str | None = None,
        author: str | None = None,
    ) -> SearchFilters:
        if since and until and since > until:
            raise QuestionError(f"The start date {since} is after the end date {until}.")
        outlets: tuple[str, ...] = ()
        if outlet and outlet.strip():
            visible = self._visible_outlets(searcher, tenant)
            outlets = tuple(o for o in searcher.analyzer.resolve_outlet(outlet) if o in set(visible))
            if not outlets:
                known = ", ".join(visible[:20]) or "none"
                raise QuestionError(f"No indexed outlet matches {outlet!r}. Indexed outlets: {known}.")
        authors: tuple[str, ...] = ()
        if author and author.strip():
            visible_authors = self._visible_authors(searcher, tenant)
            authors = resolve_author(author, visible_authors)
            if not authors:
                known = ", ".join(visible_authors[:20]) or "none"
                raise QuestionError(f"No indexed author matches {author!r}. Indexed authors: {known}.")
        tenants = None if tenant is None else tuple(dict.fromkeys(("", tenant)))
        return SearchFilters(outlets=outlets, authors=authors, since=since, until=until, tenants=tenants)

    def _visible_authors(self, searcher: HybridSearcher, tenant: str | None) -> list[str]:
        return searcher.snapshot.visible_authors(tenant)

    @contextmanager
    def _index_folder_named(self) -> Iterator[None]:
        """When the index folder itself is the problem, say which setting holds its path."""
        try:
            yield
        except IndexLocationError as error:
            if self.index_path_setting is None or error.setting is not None:
                raise
            raise error.naming(self.index_path_setting) from error

    def _check_chunk_window(self) -> None:
        window = self.encoder.max_tokens
        if self.index_settings.chunk_tokens > window:
            raise SettingsError(
                f"BYLINE_CHUNK_TOKENS is {self.index_settings.chunk_tokens}, but the model "
                f"{self.encoder.model_name!r} reads only {window} tokens per chunk; text past that would be ignored."
            )


class _ReadingProgress:
    """Reports articles read from the corpus, from the start and then at most every half second."""

    def __init__(self, progress: ProgressCallback | None) -> None:
        self._progress = progress
        self._started = time.monotonic()
        self._last = -1.0
        self(0)

    def __call__(self, read: int) -> None:
        now = time.monotonic() - self._started
        if self._progress is not None and (now - self._last >= 0.5 or read == 0):
            self._last = now
            self._progress(BuildProgress(0, 0, 0, 0, now, articles_read=read, stage="reading"))


def _without(text: str, mentions: list[NameMention]) -> str:
    """`text` with the `mentions` cut out (and the spaces around them collapsed)."""
    for mention in sorted(mentions, key=lambda m: m.start, reverse=True):
        text = text[: mention.start] + text[mention.end :]
    return " ".join(text.split())


def resolve_author(name: str, authors: list[str]) -> tuple[str, ...]:
    """The indexed authors `name` stands for: those it names whole (any case), else those whose byline
    contains it ("bayramli" finds "Nigar Bayramli"; a byline may name several authors)."""
    wanted = _folded(name)
    whole = tuple(a for a in authors if _folded(a) == wanted)
    return whole or tuple(a for a in authors if wanted in _folded(a))


def _folded(name: str) -> str:
    return " ".join(name.casefold().split())


def _article_for(article: Article, tenant: str | None) -> Article:
    """The article as `tenant` may see it: only the other outlets' copies that tenant may know about."""
    if tenant is None or not article.also_in:
        return article
    also_in = [entry for entry in article.also_in if entry.tenant in ("", tenant)]
    return article if len(also_in) == len(article.also_in) else article.model_copy(update={"also_in": also_in})


def _result_for(result: SearchResult, tenant: str | None) -> SearchResult:
    article = _article_for(result.article, tenant)
    return result if article is result.article else dataclasses.replace(result, article=article)
