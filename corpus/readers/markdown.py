"""Markdown (or plain text) files with front matter, read with python-frontmatter.

Front matter fields (first present spelling wins, see fields.py): title, outlet/source/publication,
author, date/published/published_at, updated, url/link and an optional id (else the file's path).
Dates are read by Byline's own date parser, not YAML's: a date that cannot be read (2024-13-45,
"yesterday") leaves the article undated, with a note saying so, instead of dropping it.
The body is split into paragraphs on blank lines; a leading "# Title" heading that repeats the
title is dropped (and becomes the title when the front matter has none).
"""

from __future__ import annotations

from typing import Any

import frontmatter
import yaml
from frontmatter.default_handlers import YAMLHandler

from corpus.models import Article
from corpus.readers.fields import (
    ID_KEYS,
    TITLE_KEYS,
    first_text,
    metadata_fields,
)
from corpus.readers.source import ReadResult, SourceFile, UnreadableFileError
from corpus.readers.text import split_paragraphs, without_title_heading

HEADING_MARK = "# "
MAX_FRONT_MATTER_CHARS = 100_000


class TextDatesLoader(yaml.SafeLoader):
    """YAML's safe loader, except that timestamps stay text: YAML's own date constructor raises on
    a date like 2024-13-45, which would make the whole front matter unreadable."""


def timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    return loader.construct_yaml_str(node)


TextDatesLoader.add_constructor("tag:yaml.org,2002:timestamp", timestamp_as_text)


class TextDatesYAMLHandler(YAMLHandler):
    def load(self, fm: str, **kwargs: object) -> Any:
        return yaml.load(fm, Loader=TextDatesLoader)  # noqa: S506 - a SafeLoader subclass


def has_front_matter(text: str) -> bool:
    return frontmatter.checks(text)


def read_markdown(source: SourceFile) -> ReadResult:
    try:
        metadata, content = parse_front_matter(source.text)
    except (yaml.YAMLError, ValueError) as error:
        raise UnreadableFileError(f"malformed front matter ({first_line(str(error))})") from None
    except RecursionError:
        raise UnreadableFileError("malformed front matter (nested too deeply to read)") from None
    paragraphs = split_paragraphs(separate_leading_heading(content))
    title = first_text(metadata, TITLE_KEYS) or heading_text(paragraphs)
    paragraphs = without_title_heading(paragraphs, title)
    if not paragraphs:
        raise UnreadableFileError("no body text")
    fields, notes = metadata_fields(metadata)
    fields["title"] = title
    article = Article(
        id=first_text(metadata, ID_KEYS) or source.article_id,
        paragraphs=paragraphs,
        source_file=source.relative_name,
        **fields,
    )
    return ReadResult.single(article, notes)


def parse_front_matter(text: str) -> tuple[dict[str, object], str]:
    """(metadata, content) as python-frontmatter splits them, with dates kept as text."""
    text = text.strip()
    handler = frontmatter.detect_format(text, frontmatter.handlers)
    if handler is None:
        return {}, text
    if isinstance(handler, YAMLHandler):
        handler = TextDatesYAMLHandler()
    try:
        header, content = handler.split(text)
    except ValueError:  # no closing delimiter: python-frontmatter reads it all as content
        return {}, text
    if len(header) > MAX_FRONT_MATTER_CHARS:
        raise UnreadableFileError(
            f"front matter too long ({len(header):,} characters; at most {MAX_FRONT_MATTER_CHARS:,})"
        )
    metadata: object = handler.load(header)  # YAML may hold a list or a string, whatever the handler's hints say
    return (metadata if isinstance(metadata, dict) else {}), content.strip()


def separate_leading_heading(content: str) -> str:
    """Put a first-line "# Heading" in a paragraph of its own, even with no blank line after it."""
    first_line_text, _, rest = content.lstrip().partition("\n")
    if first_line_text.startswith(HEADING_MARK):
        return f"{first_line_text}\n\n{rest}"
    return content


def heading_text(paragraphs: list[str]) -> str:
    """The text of a leading "# Heading" paragraph, or ""."""
    if paragraphs and paragraphs[0].startswith(HEADING_MARK):
        return paragraphs[0].removeprefix(HEADING_MARK).strip()
    return ""


def first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "unknown error"
