"""Plain text scraped from a news page, laid out like the seed article:

    Last update: December 3, 2024 23:14      -> updated        (optional)
    Newsroom logo                            -> dropped        (optional)
    <headline>                               -> title
    By Nigar Bayramli December 6, 2023       -> author, published (optional)
    None                                     -> image placeholder, dropped (optional)
    <photo caption ... / Credit>             -> caption        (optional)
    <story paragraphs>                       -> paragraphs

Outlet: the logo line's text without " logo" (e.g. "IranWire logo" -> "IranWire"), unless that
text is a generic word such as "Newsroom", "Site" or "Home"; then the outlet stays "" rather
than inventing one. Nothing else in the file names the outlet.

Caption: after the "None" placeholder, the next paragraph is the caption (as long as a story
paragraph follows it). Without a placeholder, a first paragraph is taken as a caption only if
it ends with a photo credit (" / <credit>").
"""

from __future__ import annotations

import re
from datetime import datetime

from corpus.models import Article
from corpus.readers.dates import parse_date_text
from corpus.readers.source import ReadResult, SourceFile, UnreadableFileError
from corpus.readers.text import collapse_whitespace, split_paragraphs

LAST_UPDATE = re.compile(r"^last updated?\s*:\s*(?P<stamp>.+)$", re.IGNORECASE)
LOGO_SUFFIX = " logo"
MAX_LOGO_LINE_WORDS = 5
GENERIC_LOGO_NAMES = frozenset({"", "newsroom", "news", "site", "home", "logo", "header", "brand"})
BYLINE_PREFIX = "by "
MAX_AUTHOR_WORDS = 12  # up to a few names joined by "and"
MAX_DATE_WORDS = 10  # "December 6, 2023 at 10:45 am GMT+3", with room to spare
NAME_CONNECTORS = frozenset({"and", "&"})
NAME_PARTICLES = frozenset({"al", "el", "bin", "ibn", "de", "del", "da", "di", "du", "van", "von", "der", "la", "le"})
YEAR = re.compile(r"\b\d{4}\b")
IMAGE_PLACEHOLDER = "None"
PHOTO_CREDIT_SUFFIX = re.compile(r"\s/\s+[^/]{1,80}$")


def read_scraped(source: SourceFile) -> ReadResult:
    return ReadResult.single(parse_scraped(source.text, source.article_id, source.relative_name))


def parse_scraped(text: str, article_id: str, source_file: str = "") -> Article:
    lines = text.split("\n")
    position, updated, outlet = read_page_chrome(lines)
    position, title = next_content_line(lines, position)
    author, published = "", None
    if parse_byline(title) is not None:  # no headline: the byline comes first
        title, position = "", position - 1
    after_title, line = next_content_line(lines, position)
    if (byline := parse_byline(line)) is not None:
        author, published = byline
        position = after_title
    caption, paragraphs = split_caption(split_paragraphs("\n".join(lines[position:])))
    if not paragraphs:
        raise UnreadableFileError("no body text")
    return Article(
        id=article_id,
        title=title,
        outlet=outlet,
        author=author,
        published=published,
        updated=updated,
        paragraphs=paragraphs,
        caption=caption,
        source_file=source_file,
    )


def read_page_chrome(lines: list[str]) -> tuple[int, datetime | None, str]:
    """Consume the leading "Last update" and logo lines; return where the headline starts."""
    position, updated, outlet = 0, None, ""
    while position < len(lines):
        line = collapse_whitespace(lines[position])
        if line and (stamp := LAST_UPDATE.match(line)):
            updated = parse_date_text(stamp["stamp"])
        elif line and is_logo_line(line):
            outlet = outlet_from_logo_line(line)
        elif line:
            break
        position += 1
    return position, updated, outlet


def next_content_line(lines: list[str], position: int) -> tuple[int, str]:
    """The next non-blank line (whitespace collapsed) and the position just after it."""
    while position < len(lines):
        line = collapse_whitespace(lines[position])
        position += 1
        if line:
            return position, line
    return position, ""


def is_logo_line(line: str) -> bool:
    return line.lower().endswith("logo") and len(line.split()) <= MAX_LOGO_LINE_WORDS


def outlet_from_logo_line(line: str) -> str:
    name = line[: -len(LOGO_SUFFIX)].strip() if line.lower().endswith(LOGO_SUFFIX) else ""
    return "" if name.lower() in GENERIC_LOGO_NAMES else name


def parse_byline(line: str) -> tuple[str, datetime | None] | None:
    """("Author Names", published) from "By <Author> <Date>", or None if the line is no byline."""
    if not line.lower().startswith(BYLINE_PREFIX):
        return None
    words = line[len(BYLINE_PREFIX) :].split()
    if len(words) > MAX_AUTHOR_WORDS + MAX_DATE_WORDS:  # a sentence; trying each split would be slow
        return None
    for split_at in range(1, len(words)):  # the longest date suffix that parses wins
        published = parse_byline_date(" ".join(words[split_at:]))
        if published is not None:
            author_words = words[:split_at]
            return (" ".join(author_words), published) if looks_like_names(author_words) else None
    return (" ".join(words), None) if looks_like_names(words) else None


def parse_byline_date(text: str) -> datetime | None:
    return parse_date_text(text) if YEAR.search(text) else None


def looks_like_names(words: list[str]) -> bool:
    """Capitalised words (plus "and" and name particles like "al-"), not a sentence."""
    if not words or len(words) > MAX_AUTHOR_WORDS or words[-1].lower() in NAME_CONNECTORS:
        return False
    return all(is_name_word(word) for word in words)


def is_name_word(word: str) -> bool:
    lowered = word.lower().rstrip(",")
    if lowered in NAME_CONNECTORS or lowered in NAME_PARTICLES:
        return True
    if lowered.split("-")[0] in NAME_PARTICLES and "-" in lowered:  # al-Shemari
        return True
    return word[0].isupper() and not word.endswith((":", ";"))


def split_caption(paragraphs: list[str]) -> tuple[str, list[str]]:
    """(caption, story paragraphs); image placeholder lines are dropped everywhere."""
    has_placeholder = bool(paragraphs) and paragraphs[0] == IMAGE_PLACEHOLDER
    story = [paragraph for paragraph in paragraphs if paragraph != IMAGE_PLACEHOLDER]
    if len(story) > 1 and (has_placeholder or PHOTO_CREDIT_SUFFIX.search(story[0])):
        return story[0], story[1:]
    return "", story
