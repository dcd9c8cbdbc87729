"""Markdown (or plain text) files with front matter, read with python-frontmatter.

Front matter fields (first present spelling wins, see fields.py): title, outlet/source/publication,
author, date/published/published_at, updated, url/link and an optional id (else the file's path).
The body is split into paragraphs on blank lines; a leading "# Title" heading that repeats the
title is dropped (and becomes the title when the front matter has none).
"""

from __future__ import annotations

import frontmatter
import yaml

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


def has_front_matter(text: str) -> bool:
    return frontmatter.checks(text)


def read_markdown(source: SourceFile) -> ReadResult:
    try:
        post = frontmatter.loads(source.text)
    except (yaml.YAMLError, ValueError) as error:
        raise UnreadableFileError(f"malformed front matter ({first_line(str(error))})") from None
    metadata = post.metadata
    paragraphs = split_paragraphs(separate_leading_heading(post.content))
    title = first_text(metadata, TITLE_KEYS) or heading_text(paragraphs)
    paragraphs = without_title_heading(paragraphs, title)
    if not paragraphs:
        raise UnreadableFileError("no body text")
    fields = metadata_fields(metadata)
    fields["title"] = title
    return ReadResult.single(
        Article(
            id=first_text(metadata, ID_KEYS) or source.article_id,
            paragraphs=paragraphs,
            source_file=source.relative_name,
            **fields,
        )
    )


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
