"""Articles from fetched web pages and feed entries.

A page's article is its main text and metadata as trafilatura finds them (corpus/readers/html.py).
A feed entry's article is its page's when the page gives enough text; otherwise (the page fails,
has no article text, or only a paywall stub) it is the feed's own text for the entry.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from corpus.errors import BylineError
from corpus.feeds import FeedEntry
from corpus.fetch import FetchResult
from corpus.models import Article
from corpus.readers.html import PageText, extract_page
from corpus.readers.source import UnreadableFileError
from corpus.urls import InvalidUrlError, clean_url, shorten, url_key, web_url


class NotAnArticleError(BylineError):
    """A fetched page has no article text, or too little to be one (e.g. a paywall stub)."""


def article_id(prefix: str, tenant: str, key: str) -> str:
    """A stable id for an article taken from the web or an upload, distinct per tenant."""
    digest = hashlib.sha256(f"{tenant}\n{key}".encode()).hexdigest()[:16]
    return f"{prefix}-{digest}"


def page_text(result: FetchResult, min_chars: int) -> PageText:
    """The article on a fetched page; NotAnArticleError when there is none or too little of it."""
    try:
        page = extract_page(result.data, result.url)
    except UnreadableFileError as error:
        raise NotAnArticleError(f"{shorten(result.url)}: not an article page ({error})") from None
    chars = sum(len(p) for p in page.paragraphs)
    if chars < min_chars:
        raise NotAnArticleError(
            f"{shorten(result.url)}: too little article text ({chars:,} characters; a paywall or not an article page?)"
        )
    return page


def canonical_address(page: PageText, fetched_url: str) -> str:
    """The page's own canonical address when it names a web address, else where it was fetched from."""
    for candidate in (page.url, fetched_url):
        try:
            return clean_url(web_url(candidate))
        except InvalidUrlError:
            continue
    return clean_url(fetched_url)


def host_outlet(url: str) -> str:
    """An outlet name from an address when nothing better is known: its host without "www."."""
    return (urlsplit(url).hostname or "").removeprefix("www.")


def page_article(page: PageText, fetched_url: str, tenant: str, outlet: str = "") -> Article:
    url = canonical_address(page, fetched_url)
    return Article(
        id=article_id("web", tenant, url_key(url)),
        title=page.title,
        outlet=page.outlet or outlet or host_outlet(url),
        author=page.author,
        published=page.published,
        url=url,
        paragraphs=page.paragraphs,
        tenant=tenant,
    )


def entry_article(entry: FeedEntry, page: PageText | None, fetched_url: str, feed_title: str, tenant: str) -> Article:
    """The entry's article from its page when there is one, else from the feed's own text."""
    if page is not None:
        article = page_article(page, fetched_url, tenant, outlet=feed_title)
        return article.model_copy(
            update={
                "title": article.title or entry.title,
                "author": article.author or entry.author,
                "published": article.published or entry.published,
                "updated": entry.updated,
            }
        )
    if not entry.paragraphs:
        raise NotAnArticleError(f"{shorten(entry.link)}: the feed gives no text for this entry")
    url = clean_url(entry.link)
    return Article(
        id=article_id("web", tenant, url_key(url)),
        title=entry.title,
        outlet=feed_title or host_outlet(url),
        author=entry.author,
        published=entry.published,
        updated=entry.updated,
        url=url,
        paragraphs=entry.paragraphs,
        tenant=tenant,
    )
