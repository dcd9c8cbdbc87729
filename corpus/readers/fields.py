"""Field names shared by the readers of structured metadata (front matter, JSON records).

Each Article field accepts a few common spellings; the first one present wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TypedDict

from corpus.readers.dates import to_utc
from corpus.readers.text import collapse_whitespace

ID_KEYS = ("id",)
TITLE_KEYS = ("title", "headline")
OUTLET_KEYS = ("outlet", "source", "publication")
AUTHOR_KEYS = ("author", "authors", "byline")
PUBLISHED_KEYS = ("published_at", "published", "date")
UPDATED_KEYS = ("updated_at", "updated", "modified")
URL_KEYS = ("url", "link")
BODY_KEYS = ("body", "text", "content")


def first_value(mapping: Mapping[str, object], keys: tuple[str, ...]) -> object:
    """The first value under one of the keys that is not None or empty."""
    for key in keys:
        value = mapping.get(key)
        if value not in (None, "", []):
            return value
    return None


def as_text(value: object) -> str:
    """A one-line string for a metadata value; lists (e.g. several authors) are joined by ", "."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(text for item in value if (text := as_text(item)))
    return collapse_whitespace(str(value))


def first_text(mapping: Mapping[str, object], keys: tuple[str, ...]) -> str:
    return as_text(first_value(mapping, keys))


class MetadataFields(TypedDict):
    """The Article fields a metadata mapping gives, besides id and body."""

    title: str
    outlet: str
    author: str
    published: datetime | None
    updated: datetime | None
    url: str


def metadata_fields(mapping: Mapping[str, object]) -> MetadataFields:
    """The Article fields a metadata mapping gives, besides id and body."""
    return {
        "title": first_text(mapping, TITLE_KEYS),
        "outlet": first_text(mapping, OUTLET_KEYS),
        "author": first_text(mapping, AUTHOR_KEYS),
        "published": to_utc(first_value(mapping, PUBLISHED_KEYS)),
        "updated": to_utc(first_value(mapping, UPDATED_KEYS)),
        "url": first_text(mapping, URL_KEYS),
    }
