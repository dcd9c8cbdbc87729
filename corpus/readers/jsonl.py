"""JSON records: .jsonl (one object per line) and .json (one object or a list of objects).

Fields are those of the MultiHop-RAG articles file: id, title, source (-> outlet), url,
published_at, body, author (category is not kept); other common spellings are accepted too
(see fields.py). A record's own id is kept; without one it is "<file id>-<line or item number>"
(numbers count from 1). A malformed line or record (not UTF-8, binary, bad syntax, nesting too
deep to parse, an invalid field) is skipped with its line/item number while the rest of the file is kept. An
integer too long for Python to convert is kept as its digits. The body is split into paragraphs
on blank lines.
"""

from __future__ import annotations

import codecs
import json
import sys
from collections.abc import Iterator

from pydantic import ValidationError

from corpus.models import Article
from corpus.readers.fields import (
    BODY_KEYS,
    ID_KEYS,
    first_text,
    first_value,
    metadata_fields,
)
from corpus.readers.source import ReadResult, SourceFile, UnreadableFileError, has_unicode_bom
from corpus.readers.text import split_paragraphs

TOO_DEEP = "nested too deeply to read"
MAX_LINE_REASONS = 10  # a file giving no article at all is summed up in one reason beyond this


def read_jsonl(source: SourceFile) -> ReadResult:
    result = ReadResult()
    text_lines = 0
    first_error: UnreadableFileError | None = None
    for number, line in enumerate(jsonl_lines(source), start=1):
        if isinstance(line, UnreadableFileError):
            first_error = first_error or line
            result.skip(str(line), where=f"line {number}")
            continue
        text_lines += 1
        if not line.strip():
            continue
        try:
            record = parse_json(line)
        except UnreadableFileError as error:
            result.skip(str(error), where=f"line {number}")
            continue
        add_record(result, source, record, number, where=f"line {number}")
    if first_error is not None and not text_lines:  # not a text file at all: one reason, not one per line
        raise first_error
    if not result.articles and len(result.skipped_parts) > MAX_LINE_REASONS:  # e.g. a binary file
        raise UnreadableFileError(
            f"none of its {len(result.skipped_parts):,} lines is an article ({result.skipped_parts[0]})"
        )
    return result


def jsonl_lines(source: SourceFile) -> Iterator[str | UnreadableFileError]:
    """Each line as text, or why it is not text: one line that is binary or not UTF-8 costs only itself."""
    if has_unicode_bom(source.data):
        yield from source.text.split("\n")
        return
    for number, raw in enumerate(source.data.split(b"\n"), start=1):
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        raw = raw.removesuffix(b"\r")
        if (column := raw.find(b"\x00")) >= 0:
            yield UnreadableFileError(f"binary data, not text (NUL byte at column {column + 1})")
            continue
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as error:
            yield UnreadableFileError(f"not UTF-8 text (byte 0x{raw[error.start]:02x} at column {error.start + 1})")


def read_json(source: SourceFile) -> ReadResult:
    document = parse_json(source.text, whole_file=True)
    result = ReadResult()
    if isinstance(document, dict):
        add_record(result, source, document, 0, where="")
        return result
    if not isinstance(document, list):
        raise UnreadableFileError(f"expected a JSON object or a list of objects, got {json_type(document)}")
    for number, record in enumerate(document, start=1):
        add_record(result, source, record, number, where=f"item {number}")
    return result


def add_record(result: ReadResult, source: SourceFile, record: object, number: int, where: str) -> None:
    """Add the record's article (number 0: the file's only record), or the reason it was skipped."""
    default_id = f"{source.article_id}-{number}" if number else source.article_id
    try:
        article, notes = article_from_record(record, default_id, source.relative_name)
    except UnreadableFileError as error:
        result.skip(str(error), where)
        return
    except ValidationError as error:
        result.skip(f"invalid article ({error.errors()[0]['msg']})", where)
        return
    except RecursionError:
        result.skip(TOO_DEEP, where)
        return
    for note in notes:
        result.note(note, where)
    result.add(article, where)


def parse_json(text: str, whole_file: bool = False) -> object:
    """The JSON value of a line or file; integers too long to convert are kept as their digits."""
    try:
        return json.loads(text, parse_int=parse_integer)
    except json.JSONDecodeError as error:
        place = f"line {error.lineno} column {error.colno}" if whole_file else f"column {error.colno}"
        raise UnreadableFileError(f"malformed JSON ({error.msg} at {place})") from None
    except RecursionError:
        raise UnreadableFileError(f"malformed JSON ({TOO_DEEP})") from None


class LongInteger(str):
    """The digits of a JSON integer too long for Python to convert."""


def parse_integer(digits: str) -> int | str:
    return int(digits) if len(digits.lstrip("-")) < sys.get_int_max_str_digits() else LongInteger(digits)


def article_from_record(record: object, default_id: str, source_file: str) -> tuple[Article, list[str]]:
    if not isinstance(record, dict):
        raise UnreadableFileError(f"expected a JSON object, got {json_type(record)}")
    body = first_value(record, BODY_KEYS)
    paragraphs = split_paragraphs(body) if isinstance(body, str) else []
    if not paragraphs:
        raise UnreadableFileError("no body text")
    fields, notes = metadata_fields(record)
    article = Article(
        id=first_text(record, ID_KEYS) or default_id,
        paragraphs=paragraphs,
        source_file=source_file,
        **fields,
    )
    return article, notes


def json_type(value: object) -> str:
    if isinstance(value, LongInteger):
        return "a number"
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
    }
    return names.get(type(value), "a number")
