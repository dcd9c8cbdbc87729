"""Saved HTML pages, read offline with trafilatura (main text without navigation, footers, ads).

Metadata comes from the page itself: title, author, publication date (from meta tags and markup
only; trafilatura's guessing from URLs or page text is switched off), site name (-> outlet) and
the canonical / og:url address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import trafilatura
from trafilatura.settings import Document, set_date_params

from corpus.models import Article
from corpus.readers.dates import to_utc
from corpus.readers.source import ReadResult, SourceFile, UnreadableFileError
from corpus.readers.text import collapse_whitespace, without_title_heading


def date_extraction() -> dict[str, object]:
    """htmldate's settings, per page: trafilatura's defaults (so today is the latest date accepted)
    with the publication date, not the last modification, taken from markup only."""
    return {
        **set_date_params(extensive=False),  # no guesses from URL paths or copyright lines
        "original_date": True,
        "outputformat": "%Y-%m-%dT%H:%M:%S%z",  # keep the time and offset when the page gives them
    }


@dataclass(frozen=True)
class PageText:
    """What trafilatura found on a page: its main text as paragraphs, and its metadata."""

    title: str
    paragraphs: list[str]
    outlet: str
    author: str
    published: datetime | None
    url: str


def extract_page(data: bytes, url: str | None = None) -> PageText:
    """The article on an HTML page; `url` (where it was fetched) lets trafilatura resolve the canonical
    address. UnreadableFileError when the page has no article text."""
    document = trafilatura.bare_extraction(
        data,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_images=False,
        include_links=False,
        date_extraction_params=date_extraction(),
        as_dict=False,
    )
    if not isinstance(document, Document) or not (document.text or "").strip():
        raise UnreadableFileError("no article text found in the HTML")
    title = collapse_whitespace(document.title or "")
    paragraphs = without_title_heading(text_lines(document.text or ""), title)
    if not paragraphs:
        raise UnreadableFileError("no body text")
    return PageText(
        title=title,
        paragraphs=paragraphs,
        outlet=collapse_whitespace(document.sitename or ""),
        author=collapse_whitespace(document.author or ""),
        published=to_utc(document.date),
        url=document.url or "",
    )


def read_html(source: SourceFile) -> ReadResult:
    page = extract_page(source.data)
    return ReadResult.single(
        Article(
            id=source.article_id,
            title=page.title,
            outlet=page.outlet,
            author=page.author,
            published=page.published,
            url=page.url,
            paragraphs=page.paragraphs,
            source_file=source.relative_name,
        )
    )


def text_lines(text: str) -> list[str]:
    """trafilatura puts one block (paragraph, list item, heading) per line."""
    return [collapse_whitespace(line) for line in text.split("\n") if line.strip()]
