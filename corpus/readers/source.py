"""What every reader receives (one file of the corpus) and what it hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from corpus.errors import BylineError
from corpus.models import Article, article_id_from_path

BYTE_ORDER_MARK = "\ufeff"


class UnreadableFileError(BylineError):
    """A file (or one record/entry of it) cannot become an article; the message is the reason."""


@dataclass(frozen=True)
class SourceFile:
    """One file of the corpus: its path, the corpus root and its raw bytes."""

    path: Path
    root: Path
    data: bytes

    @property
    def text(self) -> str:
        """The file as UTF-8 text, with the BOM stripped and newlines normalised to "\\n"."""
        return normalise_newlines(decode_utf8(self.data)).removeprefix(BYTE_ORDER_MARK)

    @property
    def article_id(self) -> str:
        """The id of a one-article file (or the prefix for the articles of a multi-article file)."""
        return article_id_from_path(self.path, self.root)

    @property
    def relative_name(self) -> str:
        """The path inside the corpus, recorded as Article.source_file."""
        return self.path.relative_to(self.root).as_posix()


@dataclass
class ReadResult:
    """The articles one file gave, and the reasons any parts of it (lines, entries) were skipped."""

    articles: list[Article] = field(default_factory=list)
    skipped_parts: list[str] = field(default_factory=list)

    @classmethod
    def single(cls, article: Article) -> ReadResult:
        return cls(articles=[article])


def decode_utf8(data: bytes) -> str:
    """Decode strictly, naming the first offending byte and its offset in the file."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        bad_byte = data[error.start]
        raise UnreadableFileError(f"not UTF-8 text (byte 0x{bad_byte:02x} at offset {error.start})") from None


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
