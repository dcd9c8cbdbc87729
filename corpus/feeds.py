"""Feeds fetched from the web: their entries (feedparser on bytes already fetched, so it never fetches
anything itself) and the feeds an HTML page advertises (<link rel="alternate" type="application/rss+xml">).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin

import feedparser
import lxml.html

from corpus.errors import BylineError
from corpus.readers.dates import to_utc
from corpus.readers.feeds import entry_paragraphs, own_update_date
from corpus.readers.fields import as_text
from corpus.readers.source import UnreadableFileError
from corpus.urls import InvalidUrlError, web_url

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json")
FEED_MEDIA_TYPES = (*FEED_TYPES, "application/xml", "text/xml")
_FEED_START = re.compile(
    rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*(<!DOCTYPE[^>\[]*(\[.*?\])?\s*>\s*)?<(rss|feed|rdf:RDF)\b", re.S
)
# A DOCTYPE with an internal subset ("<!DOCTYPE rss [ ... ]>") is where entities are declared; no real feed needs one.
_INTERNAL_DTD = re.compile(rb"<!DOCTYPE\s+[^>\[]*\[", re.I)
_PROLOGUE_BYTES = 4096


class FeedFormatError(BylineError):
    """Not a feed Byline can read; the message says why."""


@dataclass(frozen=True)
class FeedEntry:
    """One entry of a feed: where its article is, and the feed's own text for it (may be empty)."""

    key: str
    link: str
    title: str = ""
    author: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    paragraphs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: list[FeedEntry]
    skipped: list[str] = field(default_factory=list)


def looks_like_feed(data: bytes, media_type: str) -> bool:
    """Whether a fetched document is a feed rather than a web page."""
    if media_type in FEED_TYPES:
        return True
    return bool(_FEED_START.match(data[:_PROLOGUE_BYTES]))


def parse_feed(data: bytes, url: str, content_type: str = "application/xml") -> ParsedFeed:
    """The entries of a fetched feed, newest first; FeedFormatError when it is not a usable feed.

    `content_type` is the response's Content-Type header (its charset counts when decoding)."""
    if _INTERNAL_DTD.search(data):
        raise FeedFormatError("the feed declares its own XML entities, which Byline refuses (entity expansion)")
    # A stream, so feedparser never treats the content as an address to fetch; the header only
    # lets it resolve relative links against the feed's address.
    parsed = feedparser.parse(
        io.BytesIO(data), response_headers={"content-location": url, "content-type": content_type}
    )
    entries: list[FeedEntry] = []
    skipped: list[str] = []
    for number, entry in enumerate(parsed.entries, start=1):
        try:
            entries.append(_entry(entry, url))
        except (InvalidUrlError, UnreadableFileError) as error:
            skipped.append(f"entry {number}: {error}")
    if not entries:
        if parsed.bozo:
            raise FeedFormatError(f"not a readable RSS/Atom feed ({_first_line(parsed.bozo_exception)})")
        raise FeedFormatError(
            f"none of its {len(skipped)} entries links to an article" if skipped else "the feed has no entries"
        )
    entries.sort(key=_newest_first, reverse=True)
    return ParsedFeed(title=as_text(parsed.feed.get("title")), entries=entries, skipped=skipped)


def _newest_first(entry: FeedEntry) -> tuple[bool, datetime]:
    """Sort key (reversed): dated entries newest first, then undated ones in feed order."""
    moment = entry.published or entry.updated
    return (moment is not None, moment or datetime.min.replace(tzinfo=UTC))


def _entry(entry: feedparser.FeedParserDict, feed_url: str) -> FeedEntry:
    link = as_text(entry.get("link"))
    if not link:
        raise UnreadableFileError("no link")
    link = web_url(urljoin(feed_url, link))
    updated = to_utc(own_update_date(entry))
    return FeedEntry(
        key=as_text(entry.get("id")) or link,
        link=link,
        title=as_text(entry.get("title")),
        author=as_text(entry.get("author")),
        published=to_utc(entry.get("published_parsed")) or updated,
        updated=updated,
        paragraphs=entry_paragraphs(entry),
    )


def advertised_feeds(html: bytes, base_url: str) -> list[str]:
    """Addresses of the RSS/Atom feeds an HTML page links to with <link rel="alternate">, in page order."""
    try:
        document = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return []
    found: list[str] = []
    for link in document.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().strip()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in FEED_TYPES and href:
            try:
                found.append(web_url(urljoin(base_url, href)))
            except InvalidUrlError:
                continue
    return list(dict.fromkeys(found))


def _first_line(error: object) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
