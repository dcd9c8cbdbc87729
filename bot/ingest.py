"""Taking in news for both faces: fetch into the library (corpus/ingest.py), then update the served index.

Every method is synchronous, thread-safe and may be slow (it fetches and indexes): the Discord bot
calls them from a worker thread. `tenant` is "" for what the command line adds (shared by every
server) or a Discord server id as a string; None, where accepted, means every tenant (the operator).
Expected failures raise BylineError subclasses; per-item failures (one link, one feed) are data in
the results. After anything that changes the library the index is rebuilt incrementally; if another
build holds the index past `INDEX_WAIT_SECONDS`, the result says `index_pending` and the next build
indexes what was stored (nothing is lost).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime

from bot.service import Byline, ReindexOutcome
from bot.settings import FeedsSettings, FetchSettings
from corpus.errors import BylineError
from corpus.fetch import Fetcher, Resolver, system_resolver
from corpus.ingest import FeedCheck, FetchProgressCallback, Ingestor, IngestPolicy, LinkOutcome, check_upload
from corpus.library import FeedRecord, Library, StoredArticle
from corpus.models import Article
from embeddings.indexer import IndexBusyError, ProgressCallback

INDEX_WAIT_SECONDS = 600.0

log = logging.getLogger(__name__)


class LibraryDisabledError(BylineError):
    """This Byline indexes one articles file only (evaluation); it keeps no library."""


@dataclass
class Indexed:
    """How the index was brought up to date after a change (index None: nothing changed, or pending)."""

    index: ReindexOutcome | None = None
    index_pending: bool = False


@dataclass
class FeedAdded(Indexed):
    check: FeedCheck | None = None


@dataclass
class LinksAdded(Indexed):
    outcomes: list[LinkOutcome] = field(default_factory=list)

    @property
    def added(self) -> list[Article]:
        found = [o.added for o in self.outcomes if o.added is not None]
        for outcome in self.outcomes:
            if outcome.feed is not None:
                found.extend(outcome.feed.added)
        return found


@dataclass
class FeedsUpdated(Indexed):
    checks: list[FeedCheck] = field(default_factory=list)

    @property
    def added(self) -> list[Article]:
        return [article for check in self.checks for article in check.added]

    @property
    def all_failed(self) -> bool:
        """True when there were feeds and not one of them could be checked."""
        return bool(self.checks) and all(check.status == "failed" for check in self.checks)


@dataclass
class ArticlesRemoved(Indexed):
    removed: list[StoredArticle] = field(default_factory=list)


@dataclass
class FeedRemoved(Indexed):
    feeds: list[FeedRecord] = field(default_factory=list)
    purged: int = 0


@dataclass(frozen=True)
class FeedsOverview:
    """For a status view: the feeds a tenant's answers draw on, and when they were last checked."""

    feeds: int
    last_check: datetime | None
    last_new_article: datetime | None
    failing: int


class IngestService:
    """Feeds, links, uploads and removals for one Byline; share one per process (the fetcher is shared)."""

    def __init__(
        self,
        byline: Byline,
        fetch: FetchSettings | None = None,
        feeds: FeedsSettings | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        if byline.library is None:
            raise LibraryDisabledError("This Byline indexes one articles file and keeps no library of fetched news.")
        self.byline = byline
        self.fetch_settings = fetch or FetchSettings()  # read from the environment
        self.feeds_settings = feeds or FeedsSettings()
        self.library: Library = byline.library
        self.fetcher = Fetcher(self.fetch_settings.policy(), resolver)
        self.ingestor = Ingestor(
            self.library,
            self.fetcher,
            IngestPolicy(
                min_article_chars=self.fetch_settings.min_article_chars,
                max_entries_per_check=self.feeds_settings.max_entries_per_check,
                feed_workers=self.feeds_settings.workers,
                max_upload_bytes=self.fetch_settings.max_bytes,
            ),
            byline.corpus_articles,
            byline.corpus_stories,
        )
        self._index_lock = threading.Lock()

    def close(self) -> None:
        self.fetcher.close()

    def warm_up(self) -> None:
        """Know the stored and corpus-folder articles for duplicate checks now (the bot runs this before it
        reports ready), so the first add after a start costs what the next ones do. A failure here is logged
        and left to that first add, which reports it."""
        try:
            self.ingestor.prepare()
        except (BylineError, OSError) as error:
            log.warning("The stored articles were not compared for duplicate checks at start: %s", error)

    # --- adding

    def add_feed(
        self,
        url: str,
        name: str = "",
        tenant: str = "",
        fetch_progress: FetchProgressCallback | None = None,
        index_progress: ProgressCallback | None = None,
    ) -> FeedAdded:
        """Follow a feed (or the one an HTML page advertises), take its entries and index them.

        Raises DuplicateFeedError (followed already), InvalidUrlError, FetchError subclasses (incl.
        UnsafeAddressError) or FeedFormatError; then nothing is followed."""
        check = self.ingestor.add_feed(url, name, tenant, fetch_progress)
        result = FeedAdded(check=check)
        self._index_if(_check_changed(check), result, index_progress)
        return result

    def add_links(
        self,
        urls: list[str],
        tenant: str = "",
        fetch_progress: FetchProgressCallback | None = None,
        index_progress: ProgressCallback | None = None,
    ) -> LinksAdded:
        """Fetch article pages (a feed address is followed as a feed) and index them; one outcome per address."""
        outcomes = self.ingestor.add_links(urls, tenant, fetch_progress)
        result = LinksAdded(outcomes=outcomes)
        self._index_if(any(_changed(o) for o in outcomes), result, index_progress)
        return result

    def add_upload(
        self, filename: str, data: bytes, tenant: str, index_progress: ProgressCallback | None = None
    ) -> LinksAdded:
        """The articles of an uploaded .html/.txt/.md/.json/.jsonl/.xml/.rss/.atom file; UploadError if unreadable."""
        outcomes = self.ingestor.add_upload(filename, data, tenant)
        result = LinksAdded(outcomes=outcomes)
        self._index_if(any(_changed(o) for o in outcomes), result, index_progress)
        return result

    def check_upload(self, filename: str, size: int) -> str:
        """The name an upload of `size` bytes is read under; UploadError (unsupported type, too large)
        before anything is downloaded."""
        return check_upload(filename, size, self.ingestor.policy.max_upload_bytes)

    def update(
        self,
        tenant: str | None = None,
        fetch_progress: FetchProgressCallback | None = None,
        index_progress: ProgressCallback | None = None,
    ) -> FeedsUpdated:
        """Check every followed feed once (conditional GET), take new entries and index them."""
        checks = self.ingestor.update(tenant, fetch_progress)
        result = FeedsUpdated(checks=checks)
        self._index_if(any(_check_changed(c) for c in checks), result, index_progress)
        return result

    # --- removing

    def remove(
        self, ref: str, tenant: str | None = None, index_progress: ProgressCallback | None = None
    ) -> ArticlesRemoved:
        """Remove a stored article by id or address (tenant None: any tenant's) and reindex.

        Raises ArticleNotFoundError, or CorpusArticleError for a corpus-folder article."""
        removed = self.ingestor.remove(ref, tenant)
        result = ArticlesRemoved(removed=removed)
        self._index_if(bool(removed), result, index_progress)
        return result

    def remove_feed(
        self,
        url: str,
        tenant: str | None = "",
        purge: bool = False,
        index_progress: ProgressCallback | None = None,
    ) -> FeedRemoved:
        """Stop following a feed; its articles stay unless `purge`. Raises UnknownFeedError, InvalidUrlError."""
        feeds, purged = self.ingestor.remove_feed(url, tenant, purge)
        result = FeedRemoved(feeds=feeds, purged=purged)
        self._index_if(purged > 0, result, index_progress)
        return result

    # --- reading

    def feeds(self, tenant: str | None = None, include_shared: bool = False) -> list[FeedRecord]:
        """Followed feeds of `tenant` (None: all); include_shared adds the shared ones ("")."""
        feeds = self.library.feeds(tenant)
        if include_shared and tenant not in (None, ""):
            feeds = self.library.feeds("") + feeds
        return feeds

    def overview(self, tenant: str | None = None) -> FeedsOverview:
        """The feeds whose articles `tenant` sees (its own and the shared ones; None: all)."""
        feeds = self.feeds(tenant, include_shared=True)
        checks = [f.last_checked_at for f in feeds if f.last_checked_at]
        news = [f.last_new_at for f in feeds if f.last_new_at]
        return FeedsOverview(
            feeds=len(feeds),
            last_check=max(checks, default=None),
            last_new_article=max(news, default=None),
            failing=sum(1 for f in feeds if f.last_error),
        )

    # --- internals

    def _index_if(self, changed: bool, result: Indexed, progress: ProgressCallback | None) -> None:
        if not changed:
            return
        with self._index_lock:
            try:
                result.index = self.byline.reindex(progress, lock_timeout=INDEX_WAIT_SECONDS, allow_empty=True)
            except IndexBusyError:
                result.index_pending = True


def _changed(outcome: LinkOutcome) -> bool:
    """Whether the outcome changed what is indexed: an article kept, or another outlet's copy noted."""
    if outcome.feed is not None:
        return _check_changed(outcome.feed)
    return outcome.added is not None or (outcome.duplicate is not None and not outcome.duplicate.same_page)


def _check_changed(check: FeedCheck) -> bool:
    return bool(check.added) or any(not d.same_page for d in check.duplicates)
