"""JSON records: .jsonl (one object per line) and .json (one object or a list of objects).

Fields are those of the MultiHop-RAG articles file: id, title, source (-> outlet), url,
published_at, body, author (category is not kept); other common spellings are accepted too
(see fields.py). A record's own id is kept; without one it is "<file id>-<line or item number>"
(numbers count from 1). A malformed line or record is skipped with its line/item number while
the rest of the file is kept. The body is split into paragraphs on blank lines.
"""

from __future__ import annotations

import json

from corpus.models import Article
from corpus.readers.fields import (
    BODY_KEYS,
    ID_KEYS,
    first_text,
    first_value,
    metadata_fields,
)
from corpus.readers.source import ReadResult, SourceFile, UnreadableFileError
from corpus.readers.text import split_paragraphs


def read_jsonl(source: SourceFile) -> ReadResult:
    result = ReadResult()
    for number, line in enumerate(source.text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = parse_json_line(line)
        except UnreadableFileError as error:
            result.skipped_parts.append(f"line {number}: {error}")
            continue
        add_record(result, source, record, number, where=f"line {number}")
    return result


def read_json(source: SourceFile) -> ReadResult:
    try:
        document = json.loads(source.text)
    except json.JSONDecodeError as error:
        raise UnreadableFileError(f"malformed JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    if isinstance(document, dict):
        article = article_from_record(document, source.article_id, source.relative_name)
        return ReadResult.single(article)
    if not isinstance(document, list):
        raise UnreadableFileError(f"expected a JSON object or a list of objects, got {json_type(document)}")
    result = ReadResult()
    for number, record in enumerate(document, start=1):
        add_record(result, source, record, number, where=f"item {number}")
    return result


def add_record(result: ReadResult, source: SourceFile, record: object, number: int, where: str) -> None:
    """Append the record's article, or the reason it was skipped (prefixed with where it is)."""
    default_id = f"{source.article_id}-{number}"
    try:
        result.articles.append(article_from_record(record, default_id, source.relative_name))
    except UnreadableFileError as error:
        result.skipped_parts.append(f"{where}: {error}")


def parse_json_line(line: str) -> object:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise UnreadableFileError(f"malformed JSON ({error.msg} at column {error.colno})") from None


def article_from_record(record: object, default_id: str, source_file: str) -> Article:
    if not isinstance(record, dict):
        raise UnreadableFileError(f"expected a JSON object, got {json_type(record)}")
    body = first_value(record, BODY_KEYS)
    paragraphs = split_paragraphs(body) if isinstance(body, str) else []
    if not paragraphs:
        raise UnreadableFileError("no body text")
    return Article(
        id=first_text(record, ID_KEYS) or default_id,
        paragraphs=paragraphs,
        source_file=source_file,
        **metadata_fields(record),
    )


def json_type(value: object) -> str:
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
    }
    return names.get(type(value), "a number")
