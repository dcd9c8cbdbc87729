"""Taking in news: links, feeds and uploaded files become articles in the library, each story kept once.

Duplicates are caught at ingest, for the tenant adding the article and only among articles that
tenant may see (its own and the shared ones), so nothing of one server's reveals itself to another:
1. the same address (url_key: tracking parameters, http/https, www., AMP variants ignored) as a stored
   article, a recorded copy, or a corpus-folder article: nothing new is kept;
2. near-duplicate text (MinHash LSH): the copy is not kept, and the kept article's `also_in` gains
   the copy's outlet and address (tagged with the adding tenant).
Every public method is synchronous and thread-safe; decisions and writes are serialised by one lock,
fetching is not. Failures of single items are reported in the results, never raised, so one bad
link or feed never stops the others; what is raised is a BylineError about the request itself.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from corpus.corpus_stories import CorpusStories
from corpus.dedup import NearDuplicates, signature_of
from corpus.errors import BylineError, Remedy
from corpus.feeds import FeedEntry, FeedFormatError, ParsedFeed, advertised_feeds, looks_like_feed, parse_feed
from corpus.fetch import ACCEPT_FEED, Fetcher, FetchError, FetchResult
from corpus.library import (
    DuplicateFeedError,
    FeedRecord,
    Library,
    Origin,
    StoredArticle,
    UnknownFeedError,
    as_stored,
)
from corpus.models import AlsoIn, Article
from corpus.pages import NotAnArticleError, article_id, entry_article, host_outlet, page_article, page_text
from corpus.readers.folder import READERS
from corpus.readers.recorded import KnownArticle
from corpus.readers.source import SourceFile, UnreadableFileError
from corpus.urls import InvalidUrlError, clean_url, shorten, url_key, web_url

log = logging.getLogger(__name__)

# The corpus folder's articles as they are now (those of files unchanged since recorded may be KnownArticle).
CorpusArticles = Callable[[], Sequence[Article | KnownArticle]]


class ArticleNotFoundError(BylineError, LookupError):
    """No stored article matches the id or address (among those the tenant may see)."""


class CorpusArticleError(BylineError):
    """The article is a file of the corpus folder: it is removed by deleting that file."""

    remedy = Remedy.REINDEX

    def __init__(self, message: str, source_file: str) -> None:
        super().__init__(message)
        self.source_file = source_file


class UploadError(BylineError, ValueError):
    """An uploaded file cannot become articles; the message says why."""


@dataclass(frozen=True)
class IngestPolicy:
    min_article_chars: int = 400
    max_entries_per_check: int = 50
    max_entry_attempts: int = 3
    feed_workers: int = 4
    max_upload_bytes: int = 5_000_000


@dataclass(frozen=True)
class FetchProgress:
    """`done` of `total` items of one kind handled so far; `url` is the latest one.

    stage: "link" (addresses given to add_links), "feed" (feeds of an update, counted as each finishes)
    or "entry" (new entries of the feed being checked; several feeds may report at once during an update).
    """

    stage: Literal["link", "feed", "entry"]
    done: int
    total: int
    url: str


FetchProgressCallback = Callable[[FetchProgress], None]


@dataclass(frozen=True)
class Duplicate:
    """A story kept already, as `kept_id`. same_page: the same address; otherwise another outlet's copy
    of the same text, now listed in the kept article's also_in."""

    url: str
    kept_id: str
    kept_title: str
    same_page: bool


@dataclass(frozen=True)
class Failure:
    url: str
    reason: str


@dataclass
class FeedCheck:
    """One check of one feed. status: "new" (articles added), "unchanged" or "failed" (error says why)."""

    feed: FeedRecord
    status: Literal["new", "unchanged", "failed"] = "unchanged"
    added: list[Article] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    from_feed_text: int = 0  # entries whose page gave no article, taken from the feed's own text
    left_for_later: int = 0  # new entries over the per-check cap, taken by later checks
    cap: int = 0  # most new entries taken per check
    not_modified: bool = False  # the server answered 304
    error: str | None = None


@dataclass
class LinkOutcome:
    """What became of one address (or one article of an uploaded file): exactly one of the fields is set."""

    url: str
    added: Article | None = None
    duplicate: Duplicate | None = None
    feed: FeedCheck | None = None  # the address was a feed, now followed
    error: str | None = None


@dataclass
class _KnownLibrary:
    """The library's side of what the tenant-aware duplicate check compares against (the corpus folder's
    is CorpusStories), brought up to date at the start of each operation by difference: the stored content
    hashes tell which articles are new or changed since (another process may have added or removed some),
    and only those have their title and signature read."""

    hash_of: dict[str, str] = field(default_factory=dict)
    tenant_of: dict[str, str] = field(default_factory=dict)
    title_of: dict[str, str] = field(default_factory=dict)
    signature_of: dict[str, bytes | None] = field(default_factory=dict)
    near: NearDuplicates = field(default_factory=NearDuplicates)
    read_last: int = 0  # articles whose story the last refresh read (the others were known)

    def refresh(self, library: Library) -> None:
        """Know exactly the articles stored in `library` now."""
        hashes = library.content_hashes()
        for stored_id in [known for known in self.hash_of if known not in hashes]:
            self.forget(stored_id)
        stale = [stored_id for stored_id, content_hash in hashes.items() if self.hash_of.get(stored_id) != content_hash]
        stories = library.stories(stale) if stale else []
        for stored_id, content_hash, tenant, title, signature in stories:
            self.know(stored_id, content_hash, tenant, title, signature)
        for stored_id in set(stale) - {story[0] for story in stories}:  # removed meanwhile
            self.forget(stored_id)
        self.read_last = len(stories)

    def know(self, stored_id: str, content_hash: str, tenant: str, title: str, signature: bytes | None) -> None:
        self.hash_of[stored_id] = content_hash
        self.tenant_of[stored_id] = tenant
        self.title_of[stored_id] = title
        if stored_id not in self.signature_of or self.signature_of[stored_id] != signature:
            self.signature_of[stored_id] = signature
            self.near.remove(stored_id)
            self.near.add(stored_id, signature)

    def forget(self, stored_id: str) -> None:
        for known in (self.hash_of, self.tenant_of, self.title_of, self.signature_of):
            known.pop(stored_id, None)
        self.near.remove(stored_id)


class _ProgressAborted(Exception):
    """The progress callback raised (e.g. the bot is shutting down): stop everything, not just one feed."""


class Ingestor:
    def __init__(
        self,
        library: Library,
        fetcher: Fetcher,
        policy: IngestPolicy,
        corpus_articles: CorpusArticles,
        corpus_stories: CorpusStories | None = None,
    ) -> None:
        """`corpus_stories` may be shared with whatever else compares articles with the corpus folder (the
        index build), so that each corpus article is compared once per change, not once per user."""
        self.library = library
        self.fetcher = fetcher
        self.policy = policy
        self._corpus_articles = corpus_articles
        self._corpus = corpus_stories if corpus_stories is not None else CorpusStories()
        self._lock = threading.RLock()
        self._progress_lock = threading.Lock()
        self._known = _KnownLibrary()

    # --- links

    def add_links(
        self, urls: list[str], tenant: str = "", progress: FetchProgressCallback | None = None
    ) -> list[LinkOutcome]:
        """Fetch each address and keep its article; an address that is a feed is followed as a feed."""
        self._refresh()
        outcomes: list[LinkOutcome] = []
        with _progress_errors():
            for done, url in enumerate(urls, start=1):
                outcomes.append(self._add_link(url, tenant))
                self._report(progress, FetchProgress("link", done, len(urls), url))
        return outcomes

    def _add_link(self, url: str, tenant: str) -> LinkOutcome:
        try:
            url = web_url(url)
            duplicate = self._same_address(url_key(url), tenant, url)
            if duplicate is not None:
                return LinkOutcome(url, duplicate=duplicate)
            result = self.fetcher.get(url)
            if looks_like_feed(result.data, result.media_type):
                return LinkOutcome(url, feed=self._follow(result, tenant, name=""))
            article = page_article(page_text(result, self.policy.min_article_chars), result.url, tenant)
        except (FetchError, InvalidUrlError, NotAnArticleError, FeedFormatError, DuplicateFeedError) as error:
            return LinkOutcome(url, error=_with_address(error, url))
        return self._keep(article, "link", url)

    # --- uploaded files

    def add_upload(self, filename: str, data: bytes, tenant: str) -> list[LinkOutcome]:
        """The articles of an uploaded file (same readers as the corpus folder), each kept once.

        UploadError when the file as a whole cannot be read; a bad record of it is one failed outcome."""
        name = check_upload(filename, len(data), self.policy.max_upload_bytes)
        reader = READERS[Path(name).suffix.lower()]
        if not data.strip():
            raise UploadError(f"{name}: empty file")
        if b"\x00" in data:
            raise UploadError(f"{name}: binary file, not text")
        try:
            result = reader(SourceFile(Path(name), Path(), data))
        except UnreadableFileError as error:
            raise UploadError(f"{name}: {error}") from None
        except ValidationError as error:
            raise UploadError(f"{name}: invalid article ({error.errors()[0]['msg']})") from None
        outcomes = [LinkOutcome(name, error=f"{name}: {reason}") for reason in result.skipped_parts]
        if not result.articles and not outcomes:
            raise UploadError(f"{name}: no article found")
        self._refresh()
        for article in result.articles:
            key = _content_key(article)
            uploaded = article.model_copy(
                update={
                    "id": article_id("upload", tenant, key),
                    "tenant": tenant,
                    "url": clean_url(article.url) if article.url else "",
                    "source_file": "",
                }
            )
            outcomes.append(self._keep(uploaded, "upload", uploaded.url or name))
        return outcomes

    # --- feeds

    def add_feed(
        self, url: str, name: str = "", tenant: str = "", progress: FetchProgressCallback | None = None
    ) -> FeedCheck:
        """Follow a feed (or the feed an HTML page advertises) and take its entries at once.

        DuplicateFeedError when it is followed already; FetchError/FeedFormatError/InvalidUrlError when
        it cannot be read (then nothing is followed)."""
        url = web_url(url)
        self._refuse_followed(url, tenant)
        self._refresh()
        with _progress_errors():
            return self._follow(self.fetcher.get(url, accept=ACCEPT_FEED), tenant, name, progress)

    def _follow(
        self, result: FetchResult, tenant: str, name: str, progress: FetchProgressCallback | None = None
    ) -> FeedCheck:
        if not looks_like_feed(result.data, result.media_type):
            advertised = advertised_feeds(result.data, result.url)
            if not advertised:
                raise FeedFormatError(f"{shorten(result.url)}: a web page that advertises no RSS or Atom feed")
            self._refuse_followed(advertised[0], tenant)
            result = self.fetcher.get(advertised[0], accept=ACCEPT_FEED)
        parsed = _parse(result)
        self._refuse_followed(result.url, tenant)
        label = name.strip() or parsed.title or host_outlet(result.url)
        record = self.library.add_feed(clean_url(result.url), url_key(result.url), tenant, label)
        check = self._take_entries(record, parsed, progress)
        self.library.record_check(
            record,
            error=None,
            taken=len(check.added),
            etag=result.etag,
            last_modified=result.last_modified,
            validators=True,
        )
        return check

    def _refuse_followed(self, url: str, tenant: str) -> None:
        existing = self.library.feed(tenant, url_key(url))
        if existing is not None:
            raise DuplicateFeedError(f"The feed {shorten(existing.url)} is followed already (as “{existing.name}”).")

    def feeds(self, tenant: str | None = None) -> list[FeedRecord]:
        """Followed feeds of `tenant` (None: all, for the operator)."""
        return self.library.feeds(tenant)

    def remove_feed(self, url: str, tenant: str | None = "", purge: bool = False) -> tuple[list[FeedRecord], int]:
        """Stop following a feed (for every tenant when tenant is None); with purge, also delete the
        articles it brought. Returns the feeds removed and the number of articles deleted."""
        key = url_key(web_url(url))
        with self._lock:
            matching = [f for f in self.library.feeds(tenant) if f.url_key == key]
            if not matching:
                raise UnknownFeedError(f"The feed {shorten(url)} is not followed.")
            purged = 0
            for feed in matching:
                ids = self.library.feed_article_ids(feed.tenant, feed.url_key) if purge else []
                self.library.remove_feed(feed.tenant, feed.url_key)
                purged += len(self.library.remove_articles(ids, suppress=False))
        return matching, purged

    def update(self, tenant: str | None = None, progress: FetchProgressCallback | None = None) -> list[FeedCheck]:
        """Check every followed feed once (of `tenant`, or all), several feeds at a time; one feed's
        failure is its own result and never stops the others."""
        feeds = self.library.feeds(tenant)
        if not feeds:
            return []
        self._refresh()
        counter = _Counter(len(feeds))
        workers = max(1, min(self.policy.feed_workers, len(feeds)))
        with _progress_errors(), ThreadPoolExecutor(max_workers=workers, thread_name_prefix="byline-feed") as pool:
            futures = [pool.submit(self._check_counted, feed, counter, progress) for feed in feeds]
            try:
                return [future.result() for future in futures]
            except _ProgressAborted:
                for future in futures:
                    future.cancel()
                raise

    def _check_counted(self, feed: FeedRecord, counter: _Counter, progress: FetchProgressCallback | None) -> FeedCheck:
        check = self._check_safely(feed, progress)
        self._report(progress, FetchProgress("feed", counter.next(), counter.total, feed.url))
        return check

    def _check_safely(self, feed: FeedRecord, progress: FetchProgressCallback | None) -> FeedCheck:
        try:
            return self.check_feed(feed, progress)
        except _ProgressAborted:
            raise
        except Exception as error:  # a bug while checking one feed must not stop the others
            log.exception("Checking the feed %s failed unexpectedly", feed.url)
            reason = f"{shorten(feed.url)}: internal error ({type(error).__name__}: {error})"
            self.library.record_check(feed, error=reason)
            return FeedCheck(feed, status="failed", error=reason)

    def check_feed(self, feed: FeedRecord, progress: FetchProgressCallback | None = None) -> FeedCheck:
        """One conditional GET of the feed, then its new entries (at most the per-check cap)."""
        try:
            result = self.fetcher.get(feed.url, accept=ACCEPT_FEED, etag=feed.etag, last_modified=feed.last_modified)
            if result.not_modified:
                self.library.record_check(feed, error=None)
                return FeedCheck(feed, not_modified=True)
            parsed = _parse(result)
        except (FetchError, FeedFormatError, InvalidUrlError) as error:
            reason = _with_address(error, feed.url)
            self.library.record_check(feed, error=reason)
            return FeedCheck(feed, status="failed", error=reason)
        check = self._take_entries(feed, parsed, progress)
        self.library.record_check(
            feed,
            error=None,
            taken=len(check.added),
            etag=result.etag,
            last_modified=result.last_modified,
            validators=True,
        )
        return check

    def _take_entries(self, feed: FeedRecord, parsed: ParsedFeed, progress: FetchProgressCallback | None) -> FeedCheck:
        handled = self.library.entry_attempts(feed)
        fresh = [entry for entry in parsed.entries if not self._handled(handled.get(entry.key))]
        cap = self.policy.max_entries_per_check
        check = FeedCheck(feed, left_for_later=max(0, len(fresh) - cap), cap=cap)
        fresh = fresh[:cap]
        for done, entry in enumerate(fresh, start=1):
            self._take_entry(feed, parsed.title, entry, check)
            self._report(progress, FetchProgress("entry", done, len(fresh), entry.link))
        check.status = "new" if check.added else "unchanged"
        return check

    def _handled(self, state: tuple[str, int] | None) -> bool:
        if state is None:
            return False
        outcome, attempts = state
        return outcome != "failed" or attempts >= self.policy.max_entry_attempts

    def _take_entry(self, feed: FeedRecord, feed_title: str, entry: FeedEntry, check: FeedCheck) -> None:
        link_key = url_key(entry.link)
        if self.library.is_removed(feed.tenant, link_key):
            self.library.record_entry(feed, entry.key, "removed")
            return
        duplicate = self._same_address(link_key, feed.tenant, entry.link)
        if duplicate is not None:
            check.duplicates.append(duplicate)
            self.library.record_entry(feed, entry.key, "duplicate", duplicate.kept_id)
            return
        page, page_problem, fetched_url = None, "", entry.link
        try:
            result = self.fetcher.get(entry.link)
            fetched_url = result.url
            page = page_text(result, self.policy.min_article_chars)
        except (FetchError, NotAnArticleError, InvalidUrlError) as error:
            page_problem = _with_address(error, entry.link)
        try:
            article = entry_article(entry, page, fetched_url, feed_title or feed.name, feed.tenant)
        except (NotAnArticleError, ValidationError):
            reason = f"{page_problem}, and the feed gives no text for it" if page_problem else "no text"
            check.failures.append(Failure(entry.link, reason))
            self.library.record_entry(feed, entry.key, "failed", reason)
            return
        outcome = self._keep(article, "feed", entry.link, feed_key=feed.url_key)
        if outcome.added is not None:
            check.added.append(outcome.added)
            check.from_feed_text += page is None
            self.library.record_entry(feed, entry.key, "taken", outcome.added.id)
        elif outcome.duplicate is not None:
            check.duplicates.append(outcome.duplicate)
            self.library.record_entry(feed, entry.key, "duplicate", outcome.duplicate.kept_id)

    # --- removing

    def remove(self, ref: str, tenant: str | None = None) -> list[StoredArticle]:
        """Remove the stored article with this id or address (tenant None: any tenant's). Its address and
        its copies' are remembered as removed, so no feed brings them back (adding one again explicitly
        does). CorpusArticleError for a corpus-folder article; ArticleNotFoundError when none matches."""
        ref = (ref or "").strip()
        if not ref:
            raise ArticleNotFoundError("Give an article id or address.")

        def in_scope(owner: str) -> bool:
            return tenant is None or owner == tenant

        with self._lock:
            stored = self.library.article(ref)
            if stored is not None and in_scope(stored.tenant):
                return self.library.remove_articles([ref])
            key = _address_key(ref)
            if key is not None:
                ids = [s.article.id for s in self.library.articles_at(key) if in_scope(s.tenant)]
                if ids:
                    return self.library.remove_articles(ids)
            for article in self._corpus_articles():
                if article.id == ref or (key is not None and article.url and url_key(article.url) == key):
                    raise CorpusArticleError(
                        f"The article {article.id!r} is read from the corpus folder (file "
                        f"{article.source_file or 'unknown'}); delete or move that file to remove it.",
                        article.source_file,
                    )
        raise ArticleNotFoundError(f"No stored article has the id or address {shorten(ref)}.")

    # --- keeping each story once

    def prepare(self) -> None:
        """Compare the library's and the corpus folder's articles now (about 5 s for the first 86,000 stored
        articles), so the first add after a start compares only what changed since."""
        self._refresh()

    def _refresh(self) -> None:
        """Bring what duplicates are checked against up to the library and the corpus folder as they are now
        (only what changed since the last refresh is compared again)."""
        self._corpus.update(self._corpus_articles(), self.library)
        with self._lock:
            self._known.refresh(self.library)

    def _tenant_of(self, kept_id: str) -> str | None:
        tenant = self._known.tenant_of.get(kept_id)
        if tenant is None:
            story = self._corpus.story(kept_id)
            tenant = story.tenant if story is not None else None
        return tenant

    def _title_of(self, kept_id: str) -> str:
        title = self._known.title_of.get(kept_id)
        if title is None:
            story = self._corpus.story(kept_id)
            title = story.title if story is not None else ""
        return title

    def _visible(self, tenant: str) -> Callable[[str], bool]:
        return lambda kept_id: self._tenant_of(kept_id) in ("", tenant)

    def _closest(self, signature: bytes | None, tenant: str) -> str | None:
        """The id of the article `tenant` may see (stored or corpus-folder) whose text is nearest, if near enough."""
        visible = self._visible(tenant)
        found = [self._corpus.best(signature, visible), self._known.near.best(signature, visible)]
        best = max((candidate for candidate in found if candidate is not None), default=None)
        return best[1] if best is not None else None

    def _same_address(self, key: str, tenant: str, url: str) -> Duplicate | None:
        """The article `tenant` may see that is at this address already (stored, a recorded copy, or a
        corpus-folder article), if any."""
        with self._lock:
            for stored in self.library.articles_at(key):
                if stored.tenant in ("", tenant):
                    return Duplicate(url, stored.article.id, stored.article.title, same_page=True)
            visible = self._visible(tenant)
            for kept_id, copy_tenant in self.library.also_in_at(key):
                if copy_tenant in ("", tenant) and visible(kept_id):
                    return Duplicate(url, kept_id, self._title_of(kept_id), same_page=True)
            corpus_id = self._corpus.first_at(key)
            if corpus_id is not None:
                return Duplicate(url, corpus_id, self._title_of(corpus_id), same_page=True)
        return None

    def _keep(self, article: Article, origin: Origin, url: str, feed_key: str | None = None) -> LinkOutcome:
        """Store `article` unless the tenant may see the same story already (then it is a duplicate, and
        a copy from another address is added to the kept article's also_in)."""
        key = url_key(article.url) if article.url else _content_key(article)
        signature = signature_of(article.body)
        with self._lock:
            duplicate = self._same_address(key, article.tenant, url)
            if duplicate is not None:
                return LinkOutcome(url, duplicate=duplicate)
            kept_id = self._closest(signature, article.tenant)
            if kept_id is not None:
                also = AlsoIn(
                    outlet=article.outlet,
                    url=article.url,
                    title=article.title,
                    published=article.published,
                    tenant=article.tenant,
                )
                self.library.add_also_in(kept_id, key, also)
                title = self._title_of(kept_id)
                return LinkOutcome(url, duplicate=Duplicate(url, kept_id, title, same_page=False))
            if not self.library.store(article, origin, key, signature, feed_key):
                return LinkOutcome(url, duplicate=Duplicate(url, article.id, article.title, same_page=True))
            self._known.know(article.id, as_stored(article).content_hash, article.tenant, article.title, signature)
        return LinkOutcome(url, added=article)

    def _report(self, progress: FetchProgressCallback | None, update: FetchProgress) -> None:
        if progress is None:
            return
        with self._progress_lock:
            try:
                progress(update)
            except Exception as error:
                raise _ProgressAborted() from error


def check_upload(filename: str, size: int, max_bytes: int) -> str:
    """The file name an upload is read under, if a file of this name and size can be read at all;
    UploadError otherwise (so a face can refuse it before downloading anything)."""
    name = Path(filename).name or "upload"
    if Path(name).suffix.lower() not in READERS:
        raise UploadError(f"{name}: unsupported file type (use one of {', '.join(READERS)})")
    if size > max_bytes:
        raise UploadError(f"{name}: too large ({size:,} bytes; the limit is {max_bytes:,})")
    return name


@contextmanager
def _progress_errors() -> Iterator[None]:
    """Re-raise what a progress callback raised as itself, once it has stopped the work."""
    try:
        yield
    except _ProgressAborted as aborted:
        raise (aborted.__cause__ or aborted) from None


class _Counter:
    def __init__(self, total: int) -> None:
        self.total = total
        self._done = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._done += 1
            return self._done


def _parse(result: FetchResult) -> ParsedFeed:
    try:
        content_type = result.media_type or "application/xml"
        if result.charset:
            content_type += f"; charset={result.charset}"
        return parse_feed(result.data, result.url, content_type)
    except FeedFormatError as error:
        raise FeedFormatError(f"{shorten(result.url)}: {error}") from None


def _with_address(error: BaseException, url: str) -> str:
    """The error's one line, starting with the address it is about."""
    text = str(error)
    return text if "://" in text.split(" ", 1)[0] or text.startswith("refused to fetch") else f"{shorten(url)}: {text}"


def _address_key(ref: str) -> str | None:
    try:
        return url_key(web_url(ref))
    except InvalidUrlError:
        return None


def _content_key(article: Article) -> str:
    """The identity of an article without an address: its text."""
    return "text:" + hashlib.sha256(article.body.encode()).hexdigest()[:32]
