"""Field names shared by the readers of structured metadata (front matter, JSON records).

Each Article field accepts a few common spellings; the first one present wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TypedDict

from corpus.characters import printable
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
SCALARS = (str, int, float, date)
MAX_QUOTED_VALUE = 60


class MetadataFields(TypedDict):
    """The Article fields a metadata mapping gives, besides id and body."""

    title: str
    outlet: str
    author: str
    published: datetime | None
    updated: datetime | None
    url: str


def first_value(mapping: Mapping[str, object], keys: tuple[str, ...]) -> object:
    """The first value under one of the keys that is not None or empty."""
    for key in keys:
        value = mapping.get(key)
        if value not in (None, "", []):
            return value
    return None


def as_text(value: object) -> str:
    """A one-line string for a metadata value; a list (e.g. several authors) is joined by ", ".

    Only plain values and lists of them are text: a nested structure (a mapping, lists within
    lists) gives nothing, so a hostile record cannot make this recurse deeply or explode.
    """
    if isinstance(value, list):
        return ", ".join(text for item in value if not isinstance(item, list) and (text := as_text(item)))
    if not isinstance(value, SCALARS) or isinstance(value, bool):
        return ""
    try:
        return collapse_whitespace(str(value))
    except ValueError:  # an integer too long to print
        return ""


def first_text(mapping: Mapping[str, object], keys: tuple[str, ...]) -> str:
    return as_text(first_value(mapping, keys))


def metadata_fields(mapping: Mapping[str, object]) -> tuple[MetadataFields, list[str]]:
    """The Article fields a metadata mapping gives, besides id and body, and notes on dates that
    were given but could not be read (the article is kept without them)."""
    notes: list[str] = []
    published = date_field(mapping, PUBLISHED_KEYS, "publication date", notes)
    updated = date_field(mapping, UPDATED_KEYS, "update date", notes)
    fields = MetadataFields(
        title=first_text(mapping, TITLE_KEYS),
        outlet=first_text(mapping, OUTLET_KEYS),
        author=first_text(mapping, AUTHOR_KEYS),
        published=published,
        updated=updated,
        url=first_text(mapping, URL_KEYS),
    )
    return fields, notes


def date_field(mapping: Mapping[str, object], keys: tuple[str, ...], label: str, notes: list[str]) -> datetime | None:
    value = first_value(mapping, keys)
    parsed = to_utc(value)
    if value is not None and parsed is None:
        notes.append(unreadable_date_note(label, value))
    return parsed


def unreadable_date_note(label: str, value: object) -> str:
    text = as_text(value) or type(value).__name__
    if len(text) > MAX_QUOTED_VALUE:
        text = text[:MAX_QUOTED_VALUE] + "…"
    return f"{label} '{printable(text)}' is not a date; the article is kept without it"
