"""Which corpus article, if any, tells each library article's story, kept from one reindex to the next.

A rebuild folds a library article into the corpus article at its address (the last one, in corpus
order) or else into the corpus article whose text is nearest to its own, if near enough (see
corpus/gather.py). That decision depends only on the library article's address (url_key) and
signature, which its content hash stands for, and on the corpus stories (CorpusStories, whose version
changes with every answer it would give). So `LibraryFolds` keeps each decision with the content hash
and address it was made for and the stories' version, and decides anew only for library articles new
or changed since, or for all when the corpus stories changed: a reindex after one added link reads
one signature, not the whole library. Thread-safe: one decision at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from corpus.corpus_stories import CorpusStories
from corpus.library import ArticleRecord, Library


class LibraryFolds:
    """Fold decisions of library articles, as of the corpus stories' version they were made against."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made_against: tuple[CorpusStories, int] | None = None  # the stories and their version
        # library article id -> (content hash, url_key, corpus article id telling its story or None)
        self._decided: dict[str, tuple[str, str, str | None]] = {}
        self.decided_last = 0  # decisions made anew by the last `kept_in` (the others were kept)

    def kept_in(self, records: Sequence[ArticleRecord], stories: CorpusStories, library: Library) -> list[str | None]:
        """For each record, the id of the corpus article it folds into (None: it is indexed on its own), as
        a fold of every record against `stories` as they are now would decide."""
        with self._lock, stories.held() as version:
            if (stories, version) != self._made_against:
                self._decided, self._made_against = {}, (stories, version)
            stale = [record for record in records if not self._is_decided(record)]
            by_signature = [record.id for record in stale if stories.last_at(record.url_key) is None]
            signatures = library.signatures_of(by_signature) if by_signature else {}
            vanished = set(by_signature) - signatures.keys()  # removed since `records` was read: not kept
            fresh: dict[str, str | None] = {}
            for record in stale:
                fresh[record.id] = stories.last_at(record.url_key) or stories.closest(signatures.get(record.id))
                if record.id not in vanished:
                    self._decided[record.id] = (record.content_hash, record.url_key, fresh[record.id])
            current = {record.id for record in records}
            for gone in [article_id for article_id in self._decided if article_id not in current]:
                del self._decided[gone]
            self.decided_last = len(stale)
            return [fresh[r.id] if r.id in fresh else self._decided[r.id][2] for r in records]

    def _is_decided(self, record: ArticleRecord) -> bool:
        decided = self._decided.get(record.id)
        return decided is not None and decided[:2] == (record.content_hash, record.url_key)
