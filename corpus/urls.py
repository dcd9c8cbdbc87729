"""Web addresses: which ones Byline accepts, how they are cleaned, and when two name the same article.

`clean_url` is the address as shown and stored: courlan's strict normalisation (host lowercased,
default port, fragment and tracking parameters such as utm_*, fbclid and gclid dropped).
`url_key` is the identity used to spot the same article reached twice: the cleaned address with
http/https, a leading "www.", AMP variants and a trailing slash made the same.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import courlan

from corpus.errors import BylineError

WEB_SCHEMES = ("http", "https")
MAX_URL_CHARS = 2048

# AMP copies of a page: amp.example.com, /amp/... (e.g. AMP caches), .../amp, ....amp(.html), ?amp or ?amp=1.
_AMP_HOST_PREFIX = "amp."
_AMP_PATH_SEGMENT = re.compile(r"(^|/)amp(?=/|$)")
_AMP_SUFFIX = re.compile(r"\.amp(\.html?)?$")
_AMP_QUERY = re.compile(r"(^|&)(amp(=1|=true)?|outputType=amp)(?=&|$)", re.IGNORECASE)


class InvalidUrlError(BylineError, ValueError):
    """Not an address Byline can fetch: the message says why."""


def web_url(url: str) -> str:
    """`url` stripped, if it is an absolute http(s) address with a host; InvalidUrlError otherwise."""
    url = (url or "").strip()
    if not url:
        raise InvalidUrlError("no address given")
    if len(url) > MAX_URL_CHARS:
        raise InvalidUrlError(f"address longer than {MAX_URL_CHARS:,} characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise InvalidUrlError(f"{shorten(url)} contains spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as error:
        raise InvalidUrlError(f"{shorten(url)} is not a valid address ({error})") from None
    if parts.scheme.lower() not in WEB_SCHEMES:
        raise InvalidUrlError(f"{shorten(url)} is not an http:// or https:// address; only those can be fetched")
    if not parts.hostname:
        raise InvalidUrlError(f"{shorten(url)} has no host name")
    if parts.username or parts.password:
        raise InvalidUrlError(f"{shorten(url)} contains a user name or password")
    return url


def clean_url(url: str) -> str:
    """The address without tracking parameters, fragment or default port, host lowercased."""
    try:
        return courlan.normalize_url(url, strict=True)
    except (ValueError, AttributeError):
        return url.strip()


def url_key(url: str) -> str:
    """One key for every variant of the same page (http/https, www., AMP, tracking parameters, trailing /)."""
    parts = urlsplit(clean_url(url))
    host = (parts.hostname or "").removeprefix("www.").removeprefix(_AMP_HOST_PREFIX)
    if parts.port:
        host = f"{host}:{parts.port}"
    path = _AMP_SUFFIX.sub("", _AMP_PATH_SEGMENT.sub("", parts.path)).rstrip("/")
    query = "&".join(part for part in _AMP_QUERY.sub("", parts.query).split("&") if part)
    return urlunsplit(("https", host, path or "/", query, ""))


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def shorten(url: str, limit: int = 120) -> str:
    """An address short enough for a one-line message."""
    return url if len(url) <= limit else url[: limit - 1] + "…"
