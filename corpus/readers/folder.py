"""Load a whole corpus folder: walk it, pick a reader per file suffix, collect what was skipped.

Files are visited recursively in sorted order (hidden files and folders ignored; symbolic links
as walk.py explains), so ids and article order are deterministic. Every file or part of a file
that cannot become an article is reported as a SkippedFile with one reason, and every article
kept with a change (an unreadable date left out, invalid characters replaced) as a CorpusNote;
the rest still load. Files over `max_file_bytes` and articles over `max_article_chars` are
skipped, so one huge file cannot stall the load.

When two articles share an id, the one already in the index (`indexed_sources`: id -> the
source file it was indexed from) is kept; otherwise the first one read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Protocol, TypeVar

from pydantic import ValidationError

from corpus.characters import printable
from corpus.errors import BylineError
from corpus.models import Article
from corpus.readers.feeds import read_feed
from corpus.readers.html import read_html
from corpus.readers.jsonl import read_json, read_jsonl
from corpus.readers.markdown import has_front_matter, read_markdown
from corpus.readers.scraped import read_scraped
from corpus.readers.source import ReadResult, SourceFile, UnreadableFileError, has_unicode_bom
from corpus.readers.walk import CorpusFile, walk_corpus

Reader = Callable[[SourceFile], ReadResult]

DEFAULT_CORPUS_PACKAGE = "corpus"
DEFAULT_CORPUS_FOLDER = "default"
MAX_REASONS_IN_ERROR = 3
OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


@dataclass(frozen=True)
class CorpusOptions:
    """What the loader may read: links out of the corpus folder, and how big a file or article."""

    follow_external_links: bool = False
    max_file_bytes: int = 100_000_000
    max_article_chars: int = 1_000_000


@dataclass(frozen=True)
class SkippedFile:
    """A file, or a line/entry of one, that gave no article, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return printable(f"{self.path}: {self.reason}")


@dataclass(frozen=True)
class CorpusNote:
    """An article kept with a change the user should know of (e.g. an unreadable date left out)."""

    path: Path
    message: str

    def __str__(self) -> str:
        return printable(f"{self.path}: {self.message}")


@dataclass
class CorpusLoad:
    articles: list[Article] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    notes: list[CorpusNote] = field(default_factory=list)


class EmptyCorpusError(BylineError):
    """The corpus folder is missing, or no article could be loaded from it."""

    def __init__(self, message: str, skipped: list[SkippedFile] | None = None) -> None:
        super().__init__(message)
        self.skipped = skipped or []


def read_text_file(source: SourceFile) -> ReadResult:
    """A .txt file is front-matter text if it starts with front matter, else a scraped page."""
    return read_markdown(source) if has_front_matter(source.text) else read_scraped(source)


READERS: dict[str, Reader] = {
    ".txt": read_text_file,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".html": read_html,
    ".htm": read_html,
    ".json": read_json,
    ".jsonl": read_jsonl,
    ".rss": read_feed,
    ".atom": read_feed,
    ".xml": read_feed,
}


# Readers that check each line themselves, so that one binary line costs only that line.
LINE_READERS = frozenset({".jsonl"})


def default_corpus_path() -> Path:
    """The sample corpus shipped inside the package (also from an installed wheel)."""
    return Path(str(files(DEFAULT_CORPUS_PACKAGE).joinpath(DEFAULT_CORPUS_FOLDER)))


def load_corpus(
    root: Path | str,
    options: CorpusOptions | None = None,
    indexed_sources: Mapping[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> CorpusLoad:
    """Every article under root (a folder, or one file such as a JSONL); raises EmptyCorpusError if
    root is missing or gives none. `indexed_sources` maps the ids already indexed to their source
    files, so that a new file reusing one of those ids cannot replace the indexed article.
    `progress` is told how many articles were read so far, after each file."""
    options = options or CorpusOptions()
    corpus_files, root, walk_skipped = list_corpus(Path(root), options)
    load = CorpusLoad(skipped=walk_skipped)
    read = read_articles(root, options)
    articles, skipped, notes = collect_corpus(corpus_files, options, indexed_sources or {}, progress, read)
    load.articles.extend(articles)
    load.skipped.extend(SkippedFile(path, reason) for path, reason in skipped)
    load.notes.extend(CorpusNote(path, message) for path, message in notes)
    if not load.articles:
        raise EmptyCorpusError(empty_corpus_message(root, load.skipped), load.skipped)
    return load


def list_corpus(root: Path, options: CorpusOptions) -> tuple[list[CorpusFile], Path, list[SkippedFile]]:
    """The files to read under root (or root itself, a file), the folder ids are relative to, and what the
    walk skipped; EmptyCorpusError when root does not exist."""
    if root.is_file():
        return [CorpusFile(root, Path(os.path.realpath(root)))], root.parent, []
    if root.is_dir():
        walk = walk_corpus(root, options.follow_external_links)
        return walk.files, root, [SkippedFile(path, reason) for path, reason in walk.skipped]
    raise EmptyCorpusError(f"corpus folder {printable(str(root))} does not exist")


class Candidate(Protocol):
    """What choosing one article per id reads of an article (an Article, or the record of one)."""

    @property
    def id(self) -> str: ...

    @property
    def source_file(self) -> str: ...

    @property
    def size(self) -> int: ...


C = TypeVar("C", bound=Candidate)
FileReader = Callable[[CorpusFile], tuple[list[C], list[str], list[str]]]


def collect_corpus(
    corpus_files: list[CorpusFile],
    options: CorpusOptions,
    indexed_sources: Mapping[str, str],
    progress: Callable[[int], None] | None,
    read: FileReader[C],
) -> tuple[list[C], list[tuple[Path, str]], list[tuple[Path, str]]]:
    """The articles of `corpus_files` (each read with `read`: its articles, skipped parts and notes), one
    per id, with what was skipped and noted, each with its file."""
    skipped: list[tuple[Path, str]] = []
    notes: list[tuple[Path, str]] = []
    candidates: list[tuple[Path, C]] = []
    for corpus_file in corpus_files:
        articles, skipped_parts, file_notes = read(corpus_file)
        skipped.extend((corpus_file.path, reason) for reason in skipped_parts)
        notes.extend((corpus_file.path, note) for note in file_notes)
        for article in articles:
            if article.size > options.max_article_chars:
                reason = f"article {article.id!r} too long ({article.size:,} characters; the limit is {options.max_article_chars:,})"
                skipped.append((corpus_file.path, reason))
            else:
                candidates.append((corpus_file.path, article))
        if progress is not None:
            progress(len(candidates))
    return keep_one_per_id(candidates, indexed_sources, skipped), skipped, notes


def keep_one_per_id(
    candidates: list[tuple[Path, C]], indexed_sources: Mapping[str, str], skipped: list[tuple[Path, str]]
) -> list[C]:
    """One article per id, in the order ids first appear: the indexed one if it is among them, else
    the first; every other article with that id is skipped with the file it clashes with."""
    kept: dict[str, C] = {}
    for _, article in candidates:
        current = kept.get(article.id)
        if current is None or (indexed_sources.get(article.id) == article.source_file != current.source_file):
            kept[article.id] = article
    for path, article in candidates:
        chosen = kept[article.id]
        if article is chosen:
            continue
        indexed = ", the indexed one" if indexed_sources.get(article.id) == chosen.source_file else ""
        reason = f"duplicate article id {article.id!r} (kept the article from {chosen.source_file}{indexed})"
        skipped.append((path, reason))
    return list(kept.values())


def read_articles(root: Path, options: CorpusOptions) -> FileReader[Article]:
    """Reads each file for its articles, skipped parts and notes."""

    def read(corpus_file: CorpusFile) -> tuple[list[Article], list[str], list[str]]:
        result = read_file(corpus_file, root, options)
        return result.articles, result.skipped_parts, result.notes

    return read


def read_file(corpus_file: CorpusFile, root: Path, options: CorpusOptions) -> ReadResult:
    """The file's articles, or a result whose single skipped part says why it gave none."""
    path = corpus_file.path
    try:
        suffix = supported_suffix(path)
        data = read_bytes(corpus_file.target, options.max_file_bytes)
        if suffix not in LINE_READERS:
            refuse_binary(data)
        return READERS[suffix](SourceFile(path, root, data))
    except UnreadableFileError as error:
        return ReadResult(skipped_parts=[str(error)])
    except ValidationError as error:
        return ReadResult(skipped_parts=[f"invalid article ({error.errors()[0]['msg']})"])
    except RecursionError:
        return ReadResult(skipped_parts=["could not be read (nested too deeply)"])
    except Exception as error:  # a parser library choking on one odd file must not stop the load
        return ReadResult(skipped_parts=[f"could not be read ({type(error).__name__}: {error})"])


def supported_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise UnreadableFileError(f"unsupported file type {suffix or '(no suffix)'}")
    return suffix


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing what is not a regular file, too large or empty.

    The path is opened without following a final symbolic link and without blocking, so a file
    swapped for a link or a pipe after the walk is refused rather than read or waited on.
    """
    try:
        descriptor = os.open(path, OPEN_FLAGS)
    except OSError as error:
        raise UnreadableFileError(f"cannot read file ({error.strerror})") from None
    with os.fdopen(descriptor, "rb") as file:
        size = os.fstat(descriptor).st_size
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise UnreadableFileError("not a regular file")
        if size > max_bytes:
            raise UnreadableFileError(f"file too large ({size_label(size)}; the limit is {size_label(max_bytes)})")
        try:
            data = file.read(max_bytes + 1)
        except OSError as error:
            raise UnreadableFileError(f"cannot read file ({error.strerror})") from None
    if len(data) > max_bytes:
        raise UnreadableFileError(f"file too large (over {size_label(max_bytes)})")
    if not data.strip():
        raise UnreadableFileError("empty file")
    return data


def refuse_binary(data: bytes) -> None:
    if not has_unicode_bom(data) and (offset := data.find(b"\x00")) >= 0:
        raise UnreadableFileError(f"binary file, not text (NUL byte at offset {offset})")


def size_label(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB" if size >= 100_000 else f"{size:,} bytes"


def empty_corpus_message(root: Path, skipped: list[SkippedFile]) -> str:
    if not skipped:
        supported = ", ".join(READERS)
        return f"corpus folder {printable(str(root))} has no supported files (looked for {supported})"
    skipped_files = len({entry.path for entry in skipped})
    examples = "; ".join(str(entry) for entry in skipped[:MAX_REASONS_IN_ERROR])
    return f"no articles could be loaded from corpus folder {printable(str(root))}: {skipped_files} file(s) skipped ({examples})"
