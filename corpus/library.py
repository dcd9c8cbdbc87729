"""The library: every article Byline fetched or was given, kept durably in one SQLite file.

The index is rebuilt from the corpus folder plus the library, so a rebuild, a new model or a
restart never needs the network, and an article that leaves a feed stays until it is removed
explicitly. The command line and the bot may use the file at the same time: it runs in WAL mode
with a busy timeout, and every change is one short transaction. Each call opens its own
connection, so one Library may be shared by threads.

Tables:
    articles        the Article JSON, its tenant, url_key, origin (feed/link/upload), the feed it
                    came from, its near-duplicate signature (bytes) and when it was added
    article_records each stored article's lean record (ArticleRecord: id, tenant, url_key, when added,
                    content hash, size, title, url, source file, outlet, published, signature), written
                    in the same transaction as the article and deleted with it (ON DELETE CASCADE), so a
                    reindex or a duplicate check reads what it compares without parsing any article's
                    JSON; in a table of its own because the articles' JSON spills onto overflow pages that
                    any scan of `articles` reading a column after `data` walks. Articles stored before
                    the table existed (or by an older Byline sharing the file) get their record computed
                    once, on the first read that needs records
    also_in         other outlets/addresses that ran a kept article's story (the kept article may
                    be a library article or a corpus-folder article), with the tenant that added them
    feeds           followed feeds per tenant: name, ETag/Last-Modified, last check, last new
                    article, articles taken, last error
    feed_entries    entries already handled per feed, so a check fetches only new ones
    removed_urls    addresses removed on purpose, so no feed brings them back
    corpus_signatures  signatures of corpus-folder articles, by content hash (a cache)
    meta            the signature format
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, NamedTuple

from corpus.dedup import SIGNATURE_FORMAT
from corpus.errors import BylineError, Remedy
from corpus.models import AlsoIn, Article
from corpus.sqlite_file import SqliteFile

Origin = Literal["feed", "link", "upload"]
EntryOutcome = Literal["taken", "duplicate", "failed", "removed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    url_key TEXT NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('feed', 'link', 'upload')),
    feed_key TEXT,
    data TEXT NOT NULL,
    signature BLOB,
    added_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS articles_by_url ON articles (tenant, url_key);
CREATE INDEX IF NOT EXISTS articles_by_feed ON articles (tenant, feed_key);
CREATE TABLE IF NOT EXISTS article_records (
    id TEXT PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    tenant TEXT NOT NULL,
    url_key TEXT NOT NULL,
    added_at TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    title TEXT NOT NULL,
    url TEXT NOT NULL,
    source_file TEXT NOT NULL,
    outlet TEXT NOT NULL,
    published TEXT,
    signature BLOB
);
CREATE INDEX IF NOT EXISTS article_records_hashes ON article_records (id, content_hash);
CREATE INDEX IF NOT EXISTS article_records_order ON article_records (added_at, id, content_hash, url_key);
CREATE TABLE IF NOT EXISTS also_in (
    article_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    url_key TEXT NOT NULL,
    data TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (article_id, tenant, url_key)
);
CREATE INDEX IF NOT EXISTS also_in_by_url ON also_in (tenant, url_key);
CREATE TABLE IF NOT EXISTS feeds (
    tenant TEXT NOT NULL,
    url_key TEXT NOT NULL,
    url TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    etag TEXT,
    last_modified TEXT,
    added_at TEXT NOT NULL,
    last_checked_at TEXT,
    last_new_at TEXT,
    articles_taken INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (tenant, url_key)
);
CREATE TABLE IF NOT EXISTS feed_entries (
    tenant TEXT NOT NULL,
    feed_key TEXT NOT NULL,
    entry_key TEXT NOT NULL,
    outcome TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    detail TEXT NOT NULL DEFAULT '',
    seen_at TEXT NOT NULL,
    PRIMARY KEY (tenant, feed_key, entry_key)
);
CREATE TABLE IF NOT EXISTS removed_urls (
    tenant TEXT NOT NULL,
    url_key TEXT NOT NULL,
    removed_at TEXT NOT NULL,
    PRIMARY KEY (tenant, url_key)
);
CREATE TABLE IF NOT EXISTS corpus_signatures (
    article_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    signature BLOB
);
"""


class LibraryError(BylineError):
    """The library file cannot be opened or used; the message says why."""


class LibraryArticleGoneError(BylineError):
    """A library article listed for indexing was removed before it could be read whole."""

    remedy = Remedy.RETRY_LATER


class DuplicateFeedError(BylineError, ValueError):
    """The feed is followed already."""


class UnknownFeedError(BylineError, LookupError):
    """No such feed is followed."""


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class StoredArticle:
    article: Article
    origin: Origin
    url_key: str
    feed_key: str | None
    signature: bytes | None
    added_at: datetime

    @property
    def tenant(self) -> str:
        return self.article.tenant


class ArticleRecord(NamedTuple):
    """What a reindex and a duplicate check need of a stored article, read without parsing its JSON.
    `content_hash` and `size` are those of the Article as stored (Article.content_hash, Article.size).
    The first seven fields are a KnownArticle's, in its order. A tuple: made by the ten thousand per read."""

    id: str
    content_hash: str
    source_file: str
    url: str
    size: int
    title: str
    tenant: str
    url_key: str
    added_at: str
    outlet: str
    published: str | None  # as the article's JSON has it

    def also_in(self) -> AlsoIn:
        """The article as another outlet of a story kept elsewhere (what folding it in records)."""
        return AlsoIn.model_validate(
            {
                "outlet": self.outlet,
                "url": self.url,
                "title": self.title,
                "published": self.published,
                "tenant": self.tenant,
            }
        )


StoryRecord = tuple[str, str, str, str, bytes | None]  # id, content hash, tenant, title, signature
RecordKey = tuple[str, str, str]  # id, content hash, url_key

_RECORD_COLUMNS = "id, content_hash, source_file, url, size, title, tenant, url_key, added_at, outlet, published"
# Bump when the same stored JSON gives another content hash, size or record field: records are made again.
RECORD_FORMAT = "1"
_RECORD_BATCH = 500  # articles given a record per transaction when old rows are brought up to date
_IDS_PER_QUERY = 500


def as_stored(article: Article) -> Article:
    """The article as the library keeps it: its also_in lives in the also_in table, not in its JSON."""
    return article.model_copy(update={"also_in": []}) if article.also_in else article


def _record_row(article: Article, url_key: str, added_at: str, signature: bytes | None) -> tuple[object, ...]:
    published = article.model_dump(mode="json", include={"published"})["published"]
    return (
        article.id,
        article.tenant,
        url_key,
        added_at,
        article.content_hash,
        article.size,
        article.title,
        article.url,
        article.source_file,
        article.outlet,
        published,
        signature,
    )


@dataclass(frozen=True)
class FeedRecord:
    """A followed feed and what its checks found."""

    url: str
    url_key: str
    tenant: str
    name: str
    added_at: datetime
    last_checked_at: datetime | None = None
    last_new_at: datetime | None = None
    articles_taken: int = 0
    last_error: str | None = None
    etag: str | None = None
    last_modified: str | None = None


class Library:
    """The SQLite library at `path` (created on the first write; reads of a missing file find nothing)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file = SqliteFile(
            self.path,
            _SCHEMA,
            "library",
            LibraryError,
            setup=[
                ("INSERT OR IGNORE INTO meta VALUES ('signature_format', ?)", (SIGNATURE_FORMAT,)),
                ("INSERT OR IGNORE INTO meta VALUES ('record_format', ?)", (RECORD_FORMAT,)),
            ],
            pragmas=["PRAGMA foreign_keys = ON"],
        )
        self._connect = self._file.connect

    def exists(self) -> bool:
        return self._file.exists()

    # --- articles

    def has_articles(self) -> bool:
        if not self.exists():
            return False
        with self._connect() as db:
            return db.execute("SELECT 1 FROM articles LIMIT 1").fetchone() is not None

    def articles(self) -> list[StoredArticle]:
        """Every stored article, oldest first."""
        if not self.exists():
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT data, origin, url_key, feed_key, signature, added_at FROM articles ORDER BY added_at, id"
            ).fetchall()
        return [_stored(row) for row in rows]

    def article(self, article_id: str) -> StoredArticle | None:
        if not self.exists():
            return None
        with self._connect() as db:
            row = db.execute(
                "SELECT data, origin, url_key, feed_key, signature, added_at FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
        return _stored(row) if row else None

    def articles_at(self, url_key: str) -> list[StoredArticle]:
        """Stored articles with this url_key, whatever their tenant."""
        if not self.exists():
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT data, origin, url_key, feed_key, signature, added_at FROM articles WHERE url_key = ?",
                (url_key,),
            ).fetchall()
        return [_stored(row) for row in rows]

    def store(
        self, article: Article, origin: Origin, url_key: str, signature: bytes | None, feed_key: str | None = None
    ) -> bool:
        """Keep `article`; False (and nothing stored) when its tenant has an article at this url_key already.

        Storing an address clears an earlier removal of it: adding it is explicit."""
        stored = as_stored(article)
        data = stored.model_dump_json()
        added_at = now().isoformat()
        with self._connect(write=True) as db:
            db.execute("DELETE FROM removed_urls WHERE tenant = ? AND url_key = ?", (article.tenant, url_key))
            cursor = db.execute(
                "INSERT OR IGNORE INTO articles (id, tenant, url_key, origin, feed_key, data, signature, added_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (article.id, article.tenant, url_key, origin, feed_key, data, signature, added_at),
            )
            if cursor.rowcount != 1:
                return False
            db.execute(
                "INSERT OR REPLACE INTO article_records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _record_row(stored, url_key, added_at, signature),
            )
            return True

    def records(self, ids: Collection[str] | None = None) -> list[ArticleRecord]:
        """The records of the stored articles of `ids` still there (None: every stored article's, oldest first,
        as `articles` orders them)."""
        if ids is not None:
            return list(map(ArticleRecord._make, self._record_columns(_RECORD_COLUMNS, ids)))
        if not self.exists():
            return []
        self._complete_records()
        with self._connect() as db:
            rows = db.execute(f"SELECT {_RECORD_COLUMNS} FROM article_records ORDER BY added_at, id").fetchall()
        return list(map(ArticleRecord._make, rows))

    def record_keys(self) -> list[RecordKey]:
        """(id, content hash, url_key) of every stored article, oldest first (read from one index)."""
        if not self.exists():
            return []
        self._complete_records()
        with self._connect() as db:
            query = "SELECT id, content_hash, url_key FROM article_records ORDER BY added_at, id"
            return db.execute(query).fetchall()

    def content_hashes(self) -> dict[str, str]:
        """Every stored article's content hash, by id (what tells whether an article changed since it was read)."""
        if not self.exists():
            return {}
        self._complete_records()
        with self._connect() as db:
            return dict(db.execute("SELECT id, content_hash FROM article_records").fetchall())

    def stories(self, ids: Collection[str] | None = None) -> list[StoryRecord]:
        """(id, content hash, tenant, title, signature) of the stored articles of `ids` (None: all) that are
        still there: what the duplicate check compares."""
        return self._record_columns("id, content_hash, tenant, title, signature", ids)

    def signatures_of(self, ids: Collection[str] | None = None) -> dict[str, bytes | None]:
        """The near-duplicate signatures of the stored articles of `ids` (None: all) still there."""
        return dict(self._record_columns("id, signature", ids))

    def whole_article(self, article_id: str) -> Article:
        """The stored article itself; LibraryArticleGoneError if it was removed."""
        stored = self.article(article_id)
        if stored is None:
            raise LibraryArticleGoneError(f"The stored article {article_id!r} was removed while it was being indexed.")
        return stored.article

    def _record_columns(self, columns: str, ids: Collection[str] | None) -> list:
        if not self.exists() or (ids is not None and not ids):
            return []
        self._complete_records()
        query = f"SELECT {columns} FROM article_records"
        with self._connect() as db:
            if ids is None:
                return db.execute(query).fetchall()
            if len(ids) > _IDS_PER_QUERY * 2:  # most of them, likely: one scan costs less than the lookups
                chosen = set(ids)
                return [row for row in db.execute(query) if row[0] in chosen]
            wanted = list(ids)
            rows = []
            for start in range(0, len(wanted), _IDS_PER_QUERY):
                batch = wanted[start : start + _IDS_PER_QUERY]
                marks = ", ".join("?" * len(batch))
                rows.extend(db.execute(f"{query} WHERE id IN ({marks})", batch).fetchall())
            return rows

    def _complete_records(self) -> None:
        """Give a record to every stored article without one (stored before records existed, or by an older
        Byline sharing the file): each is parsed once. Every record has its article (the foreign key, on in
        every connection Byline opens), so equal counts (read from the tables' indexes) mean nothing is
        missing; otherwise records left by a deletion with foreign keys off are dropped too."""
        with self._connect() as db:
            articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
            recorded = db.execute("SELECT count(*) FROM article_records").fetchone()[0]
            made_as = db.execute("SELECT value FROM meta WHERE key = 'record_format'").fetchone()
        if made_as != (RECORD_FORMAT,):
            with self._connect(write=True) as db:
                db.execute("DELETE FROM article_records")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('record_format', ?)", (RECORD_FORMAT,))
            recorded = 0
        if articles == recorded:
            return
        with self._connect(write=True) as db:  # records of articles deleted with foreign keys off
            db.execute("DELETE FROM article_records WHERE id NOT IN (SELECT id FROM articles)")
        while True:
            with self._connect(write=True) as db:
                rows = db.execute(
                    "SELECT id, url_key, added_at, data, signature FROM articles "
                    "WHERE id NOT IN (SELECT id FROM article_records) LIMIT ?",
                    (_RECORD_BATCH,),
                ).fetchall()
                db.executemany(
                    "INSERT INTO article_records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        _record_row(Article.model_validate_json(data), key, added_at, signature)
                        for _, key, added_at, data, signature in rows
                    ],
                )
            if len(rows) < _RECORD_BATCH:
                return

    def add_also_in(self, article_id: str, url_key: str, also: AlsoIn) -> bool:
        """Record that the story of `article_id` also ran at `also`; False if that was known already."""
        with self._connect(write=True) as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO also_in (article_id, tenant, url_key, data, added_at) VALUES (?, ?, ?, ?, ?)",
                (article_id, also.tenant, url_key, also.model_dump_json(), now().isoformat()),
            )
            return cursor.rowcount == 1

    def also_in(self) -> dict[str, list[AlsoIn]]:
        """Every kept article's other outlets, oldest first."""
        if not self.exists():
            return {}
        with self._connect() as db:
            rows = db.execute("SELECT article_id, data FROM also_in ORDER BY added_at, url_key").fetchall()
        found: dict[str, list[AlsoIn]] = {}
        for article_id, data in rows:
            found.setdefault(article_id, []).append(AlsoIn.model_validate_json(data))
        return found

    def also_in_at(self, url_key: str) -> list[tuple[str, str]]:
        """(kept article id, tenant) of every recorded copy at this url_key."""
        if not self.exists():
            return []
        with self._connect() as db:
            return db.execute("SELECT article_id, tenant FROM also_in WHERE url_key = ?", (url_key,)).fetchall()

    def remove_articles(self, article_ids: list[str], suppress: bool = True) -> list[StoredArticle]:
        """Delete these articles and the copies folded into them; with suppress, remember their addresses
        (and their copies') as removed, so no feed brings them back. Returns what was deleted."""
        removed: list[StoredArticle] = []
        with self._connect(write=True) as db:
            for article_id in article_ids:
                row = db.execute(
                    "SELECT data, origin, url_key, feed_key, signature, added_at FROM articles WHERE id = ?",
                    (article_id,),
                ).fetchone()
                if row is None:
                    continue
                stored = _stored(row)
                removed.append(stored)
                if suppress:
                    keys = [stored.url_key] + [
                        key for (key,) in db.execute("SELECT url_key FROM also_in WHERE article_id = ?", (article_id,))
                    ]
                    db.executemany(
                        "INSERT OR REPLACE INTO removed_urls VALUES (?, ?, ?)",
                        [(stored.tenant, key, now().isoformat()) for key in keys],
                    )
                db.execute("DELETE FROM also_in WHERE article_id = ?", (article_id,))
                db.execute("DELETE FROM article_records WHERE id = ?", (article_id,))
                db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        return removed

    def remove_also_in_copies(self, article_id: str, tenant: str | None) -> int:
        """Forget the copies of a corpus-folder article that `tenant` (None: anyone) added."""
        with self._connect(write=True) as db:
            if tenant is None:
                cursor = db.execute("DELETE FROM also_in WHERE article_id = ?", (article_id,))
            else:
                cursor = db.execute("DELETE FROM also_in WHERE article_id = ? AND tenant = ?", (article_id, tenant))
            return cursor.rowcount

    def is_removed(self, tenant: str, url_key: str) -> bool:
        if not self.exists():
            return False
        with self._connect() as db:
            row = db.execute(
                "SELECT 1 FROM removed_urls WHERE tenant = ? AND url_key = ?", (tenant, url_key)
            ).fetchone()
        return row is not None

    def signatures(self) -> list[tuple[str, str, bytes | None]]:
        """(article id, tenant, signature) of every stored article."""
        if not self.exists():
            return []
        return self._record_columns("id, tenant, signature", None)

    def corpus_signatures(self) -> dict[str, tuple[str, bytes | None]]:
        """Cached signatures of corpus-folder articles: id -> (content hash, signature)."""
        if not self.exists():
            return {}
        with self._connect() as db:
            rows = db.execute("SELECT article_id, content_hash, signature FROM corpus_signatures").fetchall()
        return {article_id: (content_hash, signature) for article_id, content_hash, signature in rows}

    def update_corpus_signatures(self, put: dict[str, tuple[str, bytes | None]], drop: list[str]) -> None:
        """Cache these corpus-folder signatures (id -> (content hash, signature)) and forget those of `drop`."""
        with self._connect(write=True) as db:
            db.executemany("DELETE FROM corpus_signatures WHERE article_id = ?", [(article_id,) for article_id in drop])
            db.executemany(
                "INSERT OR REPLACE INTO corpus_signatures VALUES (?, ?, ?)",
                [(article_id, content_hash, sig) for article_id, (content_hash, sig) in put.items()],
            )

    # --- feeds

    def add_feed(self, url: str, url_key: str, tenant: str, name: str) -> FeedRecord:
        """Follow a feed; DuplicateFeedError when this tenant follows it already."""
        record = FeedRecord(url=url, url_key=url_key, tenant=tenant, name=name, added_at=now())
        with self._connect(write=True) as db:
            existing = db.execute(
                "SELECT url FROM feeds WHERE tenant = ? AND url_key = ?", (tenant, url_key)
            ).fetchone()
            if existing:
                raise DuplicateFeedError(f"The feed {existing[0]} is followed already.")
            db.execute(
                "INSERT INTO feeds (tenant, url_key, url, name, added_at) VALUES (?, ?, ?, ?, ?)",
                (tenant, url_key, url, name, record.added_at.isoformat()),
            )
        return record

    def feeds(self, tenant: str | None = None) -> list[FeedRecord]:
        """Followed feeds of `tenant` (None: every tenant's), in the order they were added."""
        if not self.exists():
            return []
        query = "SELECT * FROM feeds" + ("" if tenant is None else " WHERE tenant = ?") + " ORDER BY added_at, url"
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(query, () if tenant is None else (tenant,)).fetchall()
        return [_feed(row) for row in rows]

    def feed(self, tenant: str, url_key: str) -> FeedRecord | None:
        if not self.exists():
            return None
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM feeds WHERE tenant = ? AND url_key = ?", (tenant, url_key)).fetchone()
        return _feed(row) if row else None

    def record_check(
        self,
        feed: FeedRecord,
        *,
        error: str | None,
        taken: int = 0,
        etag: str | None = None,
        last_modified: str | None = None,
        validators: bool = False,
    ) -> None:
        """Note a check of `feed`: its error (None when it worked), articles taken, new cache validators."""
        checked = now().isoformat()
        with self._connect(write=True) as db:
            db.execute(
                "UPDATE feeds SET last_checked_at = ?, last_error = ?, articles_taken = articles_taken + ?, "
                "last_new_at = CASE WHEN ? > 0 THEN ? ELSE last_new_at END WHERE tenant = ? AND url_key = ?",
                (checked, error, taken, taken, checked, feed.tenant, feed.url_key),
            )
            if validators:
                db.execute(
                    "UPDATE feeds SET etag = ?, last_modified = ? WHERE tenant = ? AND url_key = ?",
                    (etag, last_modified, feed.tenant, feed.url_key),
                )

    def remove_feed(self, tenant: str, url_key: str) -> FeedRecord:
        """Stop following a feed (its articles stay); UnknownFeedError when it is not followed."""
        with self._connect(write=True) as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM feeds WHERE tenant = ? AND url_key = ?", (tenant, url_key)).fetchone()
            if row is None:
                raise UnknownFeedError("That feed is not followed.")
            db.execute("DELETE FROM feeds WHERE tenant = ? AND url_key = ?", (tenant, url_key))
            db.execute("DELETE FROM feed_entries WHERE tenant = ? AND feed_key = ?", (tenant, url_key))
        return _feed(row)

    def feed_article_ids(self, tenant: str, feed_key: str) -> list[str]:
        with self._connect() as db:
            rows = db.execute("SELECT id FROM articles WHERE tenant = ? AND feed_key = ?", (tenant, feed_key))
            return [article_id for (article_id,) in rows]

    def entry_attempts(self, feed: FeedRecord) -> dict[str, tuple[EntryOutcome, int]]:
        """Entries of `feed` handled before: entry key -> (outcome, attempts)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT entry_key, outcome, attempts FROM feed_entries WHERE tenant = ? AND feed_key = ?",
                (feed.tenant, feed.url_key),
            ).fetchall()
        return {key: (outcome, attempts) for key, outcome, attempts in rows}

    def record_entry(self, feed: FeedRecord, entry_key: str, outcome: EntryOutcome, detail: str = "") -> None:
        with self._connect(write=True) as db:
            db.execute(
                "INSERT INTO feed_entries (tenant, feed_key, entry_key, outcome, detail, seen_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, feed_key, entry_key) DO UPDATE SET "
                "outcome = excluded.outcome, detail = excluded.detail, seen_at = excluded.seen_at, "
                "attempts = feed_entries.attempts + 1",
                (feed.tenant, feed.url_key, entry_key, outcome, detail, now().isoformat()),
            )


def _stored(row: tuple) -> StoredArticle:
    data, origin, url_key, feed_key, signature, added_at = row
    return StoredArticle(
        article=Article.model_validate_json(data),
        origin=origin,
        url_key=url_key,
        feed_key=feed_key,
        signature=signature,
        added_at=datetime.fromisoformat(added_at),
    )


def _feed(row: sqlite3.Row) -> FeedRecord:
    return FeedRecord(
        url=row["url"],
        url_key=row["url_key"],
        tenant=row["tenant"],
        name=row["name"],
        added_at=datetime.fromisoformat(row["added_at"]),
        last_checked_at=_time(row["last_checked_at"]),
        last_new_at=_time(row["last_new_at"]),
        articles_taken=row["articles_taken"],
        last_error=row["last_error"],
        etag=row["etag"],
        last_modified=row["last_modified"],
    )
