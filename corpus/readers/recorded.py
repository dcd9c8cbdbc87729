"""Load a corpus folder reading only the files that changed since the last load.

What each file gave when it was read (its articles' ids, content hashes and sizes, what was skipped,
the notes) is recorded under the file's path, with the size and modification time (nanoseconds) it had
then. A file whose size and modification time are still those is not read again: its articles come
back as KnownArticle, which carries what an index build compares (id, content hash, source file, url)
and what the duplicate check at ingest compares (title, tenant; url), and reads the file again only when
the whole article is wanted (`KnownArticle.article()`, e.g. to chunk it). Library articles come to an
index build as KnownArticle too, read whole from the library only when wanted. So adding one file to a corpus of thousands reads that one file.

A record is trusted only if the file was last modified well before it was read (RACY_SECONDS), so a
file changed again within its timestamp's resolution right after it was read is read again, and only
for the same corpus root, loader options and RECORDS_FORMAT. The records are a cache: a file that
cannot be written or read back only costs the next load a full read.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from corpus.errors import BylineError, Remedy
from corpus.models import Article
from corpus.readers.folder import (
    CorpusNote,
    CorpusOptions,
    EmptyCorpusError,
    SkippedFile,
    collect_corpus,
    empty_corpus_message,
    list_corpus,
    read_file,
)
from corpus.readers.source import ReadResult
from corpus.readers.walk import CorpusFile

# Bump when a reader gives other articles, reasons or notes for the same bytes, or a record keeps other fields.
RECORDS_FORMAT = 2  # 2: each article's title and tenant too
_ARTICLE_FIELDS = 7  # id, content hash, source file, url, size, title, tenant
RACY_SECONDS = 2.0  # a file modified this close to its reading is read again next time


class CorpusFileChangedError(BylineError):
    """A corpus file changed between being listed and being read for its articles."""

    remedy = Remedy.RETRY_LATER


@dataclass(frozen=True)
class FileStamp:
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileStamp | None:
        try:
            status = os.stat(path)
        except OSError:
            return None
        return cls(status.st_size, status.st_mtime_ns)


class _UnchangedFile:
    """A corpus file whose record is still good; read again (once) only if an article is wanted whole."""

    def __init__(self, corpus_file: CorpusFile, root: Path, options: CorpusOptions) -> None:
        self.corpus_file = corpus_file
        self.root = root
        self.options = options
        self._articles: list[Article] | None = None

    def articles(self) -> list[Article]:
        if self._articles is None:
            self._articles = read_file(self.corpus_file, self.root, self.options).articles
        return self._articles

    def article(self, position: int, article_id: str) -> Article:
        """The article at `position`, read from the file again (CorpusFileChangedError if the file changed
        so that it no longer holds this article where it did)."""
        articles = self.articles()
        found = articles[position] if position < len(articles) else None
        if found is None or found.id != article_id:
            path = self.corpus_file.path
            raise CorpusFileChangedError(f"The corpus file {path} changed while it was being indexed.")
        return found


class KnownArticle:
    """An article known by its record: its id, content hash, source file, url, size, title and tenant,
    without its text. `article()` reads the whole Article from where it is kept (`load`): an unchanged
    corpus file read again, or the library (see corpus/gather.py)."""

    __slots__ = ("_load", "content_hash", "id", "size", "source_file", "tenant", "title", "url")

    def __init__(
        self,
        id: str,  # noqa: A002 (Article's own name for it)
        content_hash: str,
        source_file: str,
        url: str,
        size: int,
        title: str,
        tenant: str,
        load: Callable[[], Article],
    ) -> None:
        self.id, self.content_hash, self.source_file, self.url = id, content_hash, source_file, url
        self.size, self.title, self.tenant = size, title, tenant
        self._load = load

    @classmethod
    def recorded(cls, fields: Sequence[object], load: Callable[[], Article]) -> KnownArticle:
        """From a corpus file's record: id, content hash, source file, url, size, title, tenant (_ARTICLE_FIELDS)."""
        article_id, content_hash, source_file, url, size, title, tenant = fields
        return cls(
            str(article_id),
            str(content_hash),
            str(source_file),
            str(url),
            int(str(size)),
            str(title),
            str(tenant),
            load,
        )

    def article(self) -> Article:
        """The whole article (a BylineError if it is no longer where its record says)."""
        return self._load()


def whole(article: Article | KnownArticle) -> Article:
    """The Article itself, reading its file again if only its record was loaded."""
    return article if isinstance(article, Article) else article.article()


@dataclass
class RecordedLoad:
    articles: list[Article | KnownArticle] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    notes: list[CorpusNote] = field(default_factory=list)
    files_read: int = 0  # files read this time (the rest were unchanged since they were recorded)


class CorpusFileRecords:
    """The records file at `path` (JSON, replaced whole)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load_corpus(
        self,
        root: Path,
        options: CorpusOptions | None = None,
        indexed_sources: Mapping[str, str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> RecordedLoad:
        """What folder.load_corpus gives, reading only the files whose record is stale, then recording
        every file read (and forgetting files no longer there). EmptyCorpusError as load_corpus raises it."""
        options = options or CorpusOptions()
        corpus_files, root, walk_skipped = list_corpus(Path(root), options)
        scope = self._scope(root, options)
        known = self._records(scope)
        fresh: dict[str, dict] = {}
        load = RecordedLoad(skipped=walk_skipped)

        def read(corpus_file: CorpusFile) -> tuple[list[Article | KnownArticle], list[str], list[str]]:
            key = str(corpus_file.path)
            record = known.get(key)
            stamp = FileStamp.of(corpus_file.target)
            if record is not None and stamp is not None and _trusted(record, stamp, corpus_file):
                fresh[key] = record
                unchanged = _UnchangedFile(corpus_file, root, options)
                articles = [
                    KnownArticle.recorded(fields, partial(unchanged.article, i, str(fields[0])))
                    for i, fields in enumerate(record["articles"])
                ]
                return list(articles), list(record["skipped"]), list(record["notes"])
            read_at = time.time_ns()
            result = read_file(corpus_file, root, options)
            load.files_read += 1
            if stamp is not None:
                fresh[key] = _record(corpus_file, stamp, read_at, result)
            return list(result.articles), result.skipped_parts, result.notes

        articles, skipped, notes = collect_corpus(corpus_files, options, indexed_sources or {}, progress, read)
        load.articles = articles
        load.skipped.extend(SkippedFile(path, reason) for path, reason in skipped)
        load.notes.extend(CorpusNote(path, message) for path, message in notes)
        if not load.articles:
            raise EmptyCorpusError(empty_corpus_message(root, load.skipped), load.skipped)
        if fresh != known or not self.path.exists():
            self._save(scope, fresh)
        return load

    @staticmethod
    def _scope(root: Path, options: CorpusOptions) -> str:
        return f"{RECORDS_FORMAT}\x00{root}\x00{options!r}"

    def _records(self, scope: str) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data["scope"] != scope:
                return {}
            files = data["files"]
            return files if isinstance(files, dict) else {}
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def _save(self, scope: str, files: dict[str, dict]) -> None:
        """Written whole or not at all; a folder that cannot be written only costs the next load a full read."""
        temporary = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps({"scope": scope, "files": files}), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            with suppress(OSError):  # on a read-only file system even removing a missing file fails
                temporary.unlink(missing_ok=True)


def _record(corpus_file: CorpusFile, stamp: FileStamp, read_at: int, result: ReadResult) -> dict:
    return {
        "target": str(corpus_file.target),
        "size": stamp.size,
        "mtime_ns": stamp.mtime_ns,
        "read_at_ns": read_at,
        "articles": [[a.id, a.content_hash, a.source_file, a.url, a.size, a.title, a.tenant] for a in result.articles],
        "skipped": list(result.skipped_parts),
        "notes": list(result.notes),
    }


def _trusted(record: dict, stamp: FileStamp, corpus_file: CorpusFile) -> bool:
    try:
        return (
            record["target"] == str(corpus_file.target)
            and record["size"] == stamp.size
            and record["mtime_ns"] == stamp.mtime_ns
            and stamp.mtime_ns < int(record["read_at_ns"]) - RACY_SECONDS * 1e9
            and all(isinstance(fields, list) and len(fields) == _ARTICLE_FIELDS for fields in record["articles"])
        )
    except (KeyError, TypeError, ValueError):
        return False
