"""The library's articles as a rebuild indexes them, folded into the corpus by difference from one rebuild
to the next.

A rebuild folds a library article into the corpus article at its address (the last one, in corpus
order) or else into the corpus article whose text is nearest to its own, if near enough (see
corpus/gather.py). That decision depends only on the library article's address (url_key) and
signature, which its content hash stands for, and on the corpus stories (CorpusStories, whose version
changes with every answer it would give). So `LibraryFolds` keeps each decision with the content hash
and address it was made for and the stories' version, and decides anew only for library articles new
or changed since, or for all when the corpus stories changed. It keeps each article's record and its
KnownArticle too (by content hash), so a rebuild after one added link reads the stored articles' ids,
content hashes and addresses from one index, and the record and signature of the new one: no article's
JSON, and no object made anew per stored article. Thread-safe: one fold at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from corpus.corpus_stories import CorpusStories
from corpus.library import ArticleRecord, Library, RecordKey
from corpus.models import AlsoIn
from corpus.readers.recorded import KnownArticle


@dataclass
class LibraryFold:
    articles: list[KnownArticle] = field(default_factory=list)  # indexed on their own, in library order
    also_in: dict[str, list[AlsoIn]] = field(default_factory=dict)  # what corpus articles gain, by id
    folded: int = 0  # library articles folded into a corpus article
    decided: int = 0  # fold decisions made anew (the others were kept)


class LibraryFolds:
    """Fold decisions, records and stand-ins of library articles, kept between folds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made_against: tuple[CorpusStories, int] | None = None  # the stories and their version
        # library article id -> (content hash, url_key, corpus article id telling its story or None)
        self._decided: dict[str, tuple[str, str, str | None]] = {}
        self._library: Library | None = None
        self._records: dict[str, ArticleRecord] = {}
        self._known: dict[str, KnownArticle] = {}
        self.decided_last = 0  # fold decisions the last fold made anew (the others were kept)

    def fold(self, keys: Sequence[RecordKey], stories: CorpusStories, library: Library) -> LibraryFold:
        """The library articles of `keys` (id, content hash, url_key; as Library.record_keys gives them),
        folded against `stories` as they are now exactly as a fold of every one of them would fold them.
        An article removed while this runs is left out."""
        with self._lock, stories.held() as version:
            if library is not self._library:
                self._library, self._records, self._known, self._made_against = library, {}, {}, None
            if (stories, version) != self._made_against:
                self._decided, self._made_against = {}, (stories, version)
            self._forget_all_but({key[0] for key in keys})
            self._read_records(keys, library)
            keys = [key for key in keys if key[0] in self._records]
            kept_in, decided = self._kept_in(keys, stories, library)
            fold = LibraryFold(decided=decided)
            self.decided_last = decided
            for (article_id, _, _), kept_id in zip(keys, kept_in, strict=True):
                if kept_id is None:
                    fold.articles.append(self._known_article(article_id, library))
                else:
                    fold.folded += 1
                    fold.also_in.setdefault(kept_id, []).append(self._records[article_id].also_in())
            return fold

    def _forget_all_but(self, current: set[str]) -> None:
        for kept in (self._decided, self._records, self._known):
            for gone in [article_id for article_id in kept if article_id not in current]:
                del kept[gone]

    def _read_records(self, keys: Sequence[RecordKey], library: Library) -> None:
        """Records of the articles new or changed since they were read (changed: their stand-ins go too)."""
        stale = [key[0] for key in keys if (r := self._records.get(key[0])) is None or r.content_hash != key[1]]
        for article_id in stale:
            self._records.pop(article_id, None)
            self._known.pop(article_id, None)
        if stale:
            self._records.update((record.id, record) for record in library.records(stale))

    def _kept_in(
        self, keys: Sequence[RecordKey], stories: CorpusStories, library: Library
    ) -> tuple[list[str | None], int]:
        stale = [key for key in keys if self._decided.get(key[0], (None, None))[:2] != key[1:]]
        by_signature = [article_id for article_id, _, address in stale if stories.last_at(address) is None]
        signatures = library.signatures_of(by_signature) if by_signature else {}
        vanished = set(by_signature) - signatures.keys()  # removed since `keys` were read: not kept
        for article_id, content_hash, address in stale:
            kept_id = stories.last_at(address) or stories.closest(signatures.get(article_id))
            self._decided[article_id] = (content_hash, address, kept_id)
        kept_in = [self._decided[key[0]][2] for key in keys]
        for article_id in vanished:
            del self._decided[article_id]
        return kept_in, len(stale)

    def _known_article(self, article_id: str, library: Library) -> KnownArticle:
        known = self._known.get(article_id)
        if known is None:
            record = self._records[article_id]
            known = KnownArticle(*record[:7], partial(library.whole_article, article_id))
            self._known[article_id] = known
        return known
