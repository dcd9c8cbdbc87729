"""Load a whole corpus folder: walk it, pick a reader per file suffix, collect what was skipped.

Files are visited recursively in sorted order (hidden files and folders ignored), so ids and
article order are deterministic. Every file or part of a file that cannot become an article is
reported as a SkippedFile with one reason; the rest still load. When two articles share an id,
the first one read is kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from pydantic import ValidationError

from corpus.errors import BylineError
from corpus.models import Article
from corpus.readers.feeds import read_feed
from corpus.readers.html import read_html
from corpus.readers.jsonl import read_json, read_jsonl
from corpus.readers.markdown import has_front_matter, read_markdown
from corpus.readers.scraped import read_scraped
from corpus.readers.source import ReadResult, SourceFile, UnreadableFileError

Reader = Callable[[SourceFile], ReadResult]

DEFAULT_CORPUS_PACKAGE = "corpus"
DEFAULT_CORPUS_FOLDER = "default"
MAX_REASONS_IN_ERROR = 3


@dataclass(frozen=True)
class SkippedFile:
    """A file, or a line/entry of one, that gave no article, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class CorpusLoad:
    articles: list[Article] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


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


def default_corpus_path() -> Path:
    """The sample corpus shipped inside the package (also from an installed wheel)."""
    return Path(str(files(DEFAULT_CORPUS_PACKAGE).joinpath(DEFAULT_CORPUS_FOLDER)))


def load_corpus(root: Path | str) -> CorpusLoad:
    """Every article under root (a folder, or one file such as a JSONL); raises EmptyCorpusError if
    root is missing or gives none."""
    root = Path(root)
    if root.is_file():
        paths, root = [root], root.parent
    elif root.is_dir():
        paths = list(iter_corpus_files(root))
    else:
        raise EmptyCorpusError(f"corpus folder {root} does not exist")
    load = CorpusLoad()
    first_file_by_id: dict[str, str] = {}
    for path in paths:
        result = read_file(path, root)
        load.skipped.extend(SkippedFile(path, reason) for reason in result.skipped_parts)
        for article in result.articles:
            if article.id in first_file_by_id:
                first_file = first_file_by_id[article.id]
                reason = f"duplicate article id {article.id!r} (already loaded from {first_file})"
                load.skipped.append(SkippedFile(path, reason))
                continue
            first_file_by_id[article.id] = article.source_file
            load.articles.append(article)
    if not load.articles:
        raise EmptyCorpusError(empty_corpus_message(root, load.skipped), load.skipped)
    return load


def iter_corpus_files(root: Path) -> Iterator[Path]:
    """Files under root in sorted order, skipping hidden files and folders."""
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                yield Path(folder) / name


def read_file(path: Path, root: Path) -> ReadResult:
    """The file's articles, or a result whose single skipped part says why it gave none."""
    try:
        return READERS[supported_suffix(path)](SourceFile(path, root, read_bytes(path)))
    except UnreadableFileError as error:
        return ReadResult(skipped_parts=[str(error)])
    except ValidationError as error:
        return ReadResult(skipped_parts=[f"invalid article ({error.errors()[0]['msg']})"])
    except Exception as error:  # a parser library choking on one odd file must not stop the load
        return ReadResult(skipped_parts=[f"could not be read ({type(error).__name__}: {error})"])


def supported_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise UnreadableFileError(f"unsupported file type {suffix or '(no suffix)'}")
    return suffix


def read_bytes(path: Path) -> bytes:
    """The file's bytes, refusing empty and binary files."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UnreadableFileError(f"cannot read file ({error.strerror})") from None
    if not data.strip():
        raise UnreadableFileError("empty file")
    if (offset := data.find(b"\x00")) >= 0:
        raise UnreadableFileError(f"binary file, not text (NUL byte at offset {offset})")
    return data


def empty_corpus_message(root: Path, skipped: list[SkippedFile]) -> str:
    if not skipped:
        supported = ", ".join(READERS)
        return f"corpus folder {root} has no supported files (looked for {supported})"
    skipped_files = len({entry.path for entry in skipped})
    examples = "; ".join(str(entry) for entry in skipped[:MAX_REASONS_IN_ERROR])
    return f"no articles could be loaded from corpus folder {root}: {skipped_files} file(s) skipped ({examples})"
