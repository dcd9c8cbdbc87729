"""What every reader receives (one file of the corpus) and what it hands back."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from corpus.errors import BylineError
from corpus.models import Article, article_id_from_path

BYTE_ORDER_MARK = "\ufeff"
# Checked in this order: the UTF-32 little-endian mark starts with the UTF-16 one.
UNICODE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


class UnreadableFileError(BylineError):
    """A file (or one record/entry of it) cannot become an article; the message is the reason."""


@dataclass(frozen=True)
class SourceFile:
    """One file of the corpus: its path, the corpus root and its raw bytes."""

    path: Path
    root: Path
    data: bytes

    @cached_property
    def text(self) -> str:
        """The file as text (UTF-8, or UTF-16/32 with a byte order mark), BOM stripped, newlines "\\n"."""
        return normalise_newlines(decode_text(self.data)).removeprefix(BYTE_ORDER_MARK)

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
    """The articles one file gave, the reasons any parts of it (lines, entries) were skipped, and
    notes on what was kept but changed (an unreadable date dropped, invalid characters replaced)."""

    articles: list[Article] = field(default_factory=list)
    skipped_parts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def single(cls, article: Article, notes: list[str] | None = None) -> ReadResult:
        result = cls(notes=list(notes or []))
        result.add(article)
        return result

    def add(self, article: Article, where: str = "") -> None:
        """Keep the article, noting any invalid characters its fields had replaced."""
        self.articles.append(article)
        if article.repairs:
            self.note(repairs_note(article.repairs), where)

    def skip(self, reason: str, where: str = "") -> None:
        self.skipped_parts.append(f"{where}: {reason}" if where else reason)

    def note(self, message: str, where: str = "") -> None:
        self.notes.append(f"{where}: {message}" if where else message)


def repairs_note(repairs: dict[str, int]) -> str:
    total = sum(repairs.values())
    names = ["body" if name == "paragraphs" else name.replace("_", " ") for name in repairs]
    fields = " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else names[0]
    return f"{total} invalid character(s) (lone surrogates or control characters) in the {fields} replaced with U+FFFD"


def decode_text(data: bytes) -> str:
    """UTF-16 and UTF-32 by their byte order mark, anything else as strict UTF-8."""
    for mark, codec, name in UNICODE_BOMS:
        if data.startswith(mark):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as error:
                raise UnreadableFileError(f"not {name} text despite its byte order mark ({error.reason})") from None
    return decode_utf8(data)


def has_unicode_bom(data: bytes) -> bool:
    return any(data.startswith(mark) for mark, _, _ in UNICODE_BOMS)


def decode_utf8(data: bytes) -> str:
    """Decode strictly, naming the first offending byte and its offset in the file."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        bad_byte = data[error.start]
        raise UnreadableFileError(f"not UTF-8 text (byte 0x{bad_byte:02x} at offset {error.start})") from None


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
