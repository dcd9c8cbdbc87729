"""What the duplicate checks know of the corpus folder's articles, kept from one check to the next.

Telling whether an added article (or a library article, at a rebuild) is a corpus article's story needs
each corpus article's tenant, title, address (url_key) and near-duplicate signature, never its text.
`CorpusStories.update` takes the corpus articles as loaded (those of files unchanged since they were
recorded come from their record, see readers/recorded.py) and works only on the ones new or changed
since its last update: their signatures come from the library's cache (by content hash), or are computed
and cached there. So at archive scale an add or a rebuild costs the new articles, not the whole folder.
Thread-safe: updates and lookups are serialised by one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from corpus.dedup import NearDuplicates, signature_of
from corpus.library import Library
from corpus.models import Article
from corpus.readers.recorded import KnownArticle, whole
from corpus.urls import url_key


@dataclass(frozen=True)
class CorpusStory:
    id: str
    content_hash: str  # id and content hash decide every other field
    tenant: str
    title: str
    url_key: str | None  # None: the article has no address


class CorpusStories:
    """The corpus articles' stories as of the last `update`, searchable by address and by near-duplicate text."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._stories: dict[str, CorpusStory] = {}
        self._near = NearDuplicates()
        self._first_at: dict[str, str] = {}
        self._last_at: dict[str, str] = {}
        self._version = 0

    def __len__(self) -> int:
        return len(self._stories)

    def update(self, articles: Sequence[Article | KnownArticle], library: Library) -> None:
        """Know exactly these corpus articles (in this order) from now on."""
        with self._lock:
            current = {article.id for article in articles}
            changed = [article for article in articles if self._is_new(article)]
            gone = [article_id for article_id in self._stories if article_id not in current]
            if changed or gone:
                self._apply(changed, gone, current, library)
            first_at: dict[str, str] = {}
            last_at: dict[str, str] = {}
            for article in articles:
                key = self._stories[article.id].url_key
                if key is not None:
                    first_at.setdefault(key, article.id)
                    last_at[key] = article.id
            if changed or gone or last_at != self._last_at or first_at != self._first_at:
                self._version += 1
            self._first_at, self._last_at = first_at, last_at

    @contextmanager
    def held(self) -> Iterator[int]:
        """Hold the stories as they are (no update meanwhile); gives their version, which every update that
        changes an answer of last_at, first_at, closest, best or story changes."""
        with self._lock:
            yield self._version

    def _is_new(self, article: Article | KnownArticle) -> bool:
        story = self._stories.get(article.id)
        return story is None or story.content_hash != article.content_hash

    def _apply(
        self, changed: list[Article | KnownArticle], gone: list[str], current: set[str], library: Library
    ) -> None:
        cached = library.corpus_signatures()
        computed: dict[str, tuple[str, bytes | None]] = {}
        for article_id in gone:
            del self._stories[article_id]
            self._near.remove(article_id)
        for article in changed:
            content_hash = article.content_hash
            hit = cached.get(article.id)
            if hit and hit[0] == content_hash:
                signature = hit[1]
            else:
                signature = signature_of(whole(article).body)
                computed[article.id] = (content_hash, signature)
            self._near.remove(article.id)
            self._near.add(article.id, signature)
            address = url_key(article.url) if article.url else None
            self._stories[article.id] = CorpusStory(article.id, content_hash, article.tenant, article.title, address)
        stale = [article_id for article_id in cached if article_id not in current]
        if computed or stale:
            library.update_corpus_signatures(computed, stale)

    def story(self, article_id: str) -> CorpusStory | None:
        with self._lock:
            return self._stories.get(article_id)

    def first_at(self, key: str) -> str | None:
        """The id of the first corpus article (in corpus order) at this url_key."""
        with self._lock:
            return self._first_at.get(key)

    def last_at(self, key: str) -> str | None:
        """The id of the last corpus article (in corpus order) at this url_key."""
        with self._lock:
            return self._last_at.get(key)

    def closest(self, signature: bytes | None) -> str | None:
        """The id of the corpus article whose text is nearest to `signature`'s, if near enough."""
        found = self.best(signature)
        return found[1] if found else None

    def best(
        self, signature: bytes | None, allowed: Callable[[str], bool] = lambda key: True
    ) -> tuple[float, str] | None:
        """(similarity, id) of the corpus article whose text is nearest to `signature`'s, if near enough."""
        with self._lock:
            return self._near.best(signature, allowed)
