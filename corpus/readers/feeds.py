"""RSS and Atom feed files (.rss, .atom, .xml), read with feedparser: one article per entry.

id: the entry's id/guid, else its link, else "<file id>-<entry number>".
outlet: the feed's title.
published: the entry's publication date, else its update date.
updated: only an update date the entry really gives (RSS items have none).
Body: the entry's full content if present, else its summary, with HTML reduced to text
paragraphs by lxml. An entry without text is skipped with its number; the others are kept. An
entry whose date is given but cannot be read is kept undated, and the file's notes say so.
"""

from __future__ import annotations

import io

import feedparser
from pydantic import ValidationError

from corpus.models import Article
from corpus.readers.dates import to_utc
from corpus.readers.fields import as_text, unreadable_date_note
from corpus.readers.source import ReadResult, SourceFile, UnreadableFileError
from corpus.readers.text import html_to_paragraphs, split_paragraphs


def read_feed(source: SourceFile) -> ReadResult:
    # A stream, so feedparser never treats the content as a URL or file name to open.
    feed = feedparser.parse(io.BytesIO(source.data))
    if not feed.entries:
        if feed.bozo:
            raise UnreadableFileError(f"not a parsable RSS/Atom feed ({feed.bozo_exception})")
        raise UnreadableFileError("no feed entries (not an RSS/Atom feed, or an empty one)")
    outlet = as_text(feed.feed.get("title"))
    result = ReadResult()
    for number, entry in enumerate(feed.entries, start=1):
        where = f"entry {number}"
        try:
            article = article_from_entry(entry, outlet, source, number)
        except UnreadableFileError as error:
            result.skip(str(error), where)
            continue
        except ValidationError as error:
            result.skip(f"invalid article ({error.errors()[0]['msg']})", where)
            continue
        for note in unreadable_date_notes(entry):
            result.note(note, where)
        result.add(article, where)
    return result


def article_from_entry(entry: feedparser.FeedParserDict, outlet: str, source: SourceFile, number: int) -> Article:
    paragraphs = entry_paragraphs(entry)
    if not paragraphs:
        raise UnreadableFileError("no body text")
    updated = to_utc(own_update_date(entry))
    published = to_utc(entry.get("published_parsed")) or updated
    return Article(
        id=as_text(entry.get("id") or entry.get("link")) or f"{source.article_id}-{number}",
        title=as_text(entry.get("title")),
        outlet=outlet,
        author=as_text(entry.get("author")),
        published=published,
        updated=updated,
        url=as_text(entry.get("link")),
        paragraphs=paragraphs,
        source_file=source.relative_name,
    )


def unreadable_date_notes(entry: feedparser.FeedParserDict) -> list[str]:
    """Dates the entry gives as text that feedparser could not read."""
    notes = []
    for label, text_key, parsed_key in (
        ("publication date", "published", "published_parsed"),
        ("update date", "updated", "updated_parsed"),
    ):
        if text_key in entry and entry[text_key] and entry.get(parsed_key) is None:
            notes.append(unreadable_date_note(label, entry[text_key]))
    return notes


def own_update_date(entry: feedparser.FeedParserDict) -> object:
    """The entry's own update date; `in` (unlike get) skips feedparser's fallback to published."""
    return entry["updated_parsed"] if "updated_parsed" in entry else None


def entry_paragraphs(entry: feedparser.FeedParserDict) -> list[str]:
    """Paragraphs of the entry's full content, else of its summary."""
    for detail in [*entry.get("content", []), entry.get("summary_detail")]:
        if detail and detail.get("value", "").strip():
            return detail_paragraphs(detail)
    return []


def detail_paragraphs(detail: feedparser.FeedParserDict) -> list[str]:
    if "html" in detail.get("type", ""):
        return html_to_paragraphs(detail["value"])
    return split_paragraphs(detail["value"])
