"""A small news site for the ingest tests, served by a real HTTP server on 127.0.0.1 (pytest-httpserver).

Article pages are built from real MultiHop-RAG articles (fixtures/articles.jsonl) the way news sites
publish them: <article> with a headline and byline, og: and article:published_time meta, a canonical
link, a feed advertised in <head>, and navigation, promos, "most read" and a footer around the text.
Feeds are RSS 2.0 or Atom; they answer conditional GETs (ETag / Last-Modified) with 304.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

FIXTURES = Path(__file__).parent / "fixtures"
LAST_MODIFIED = "Mon, 11 Dec 2023 18:30:00 GMT"


def load_articles() -> dict[str, dict]:
    """The fixture articles by id (MultiHop-RAG fields: id, title, source, url, published_at, body, author)."""
    lines = (FIXTURES / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    return {record["id"]: record for record in map(json.loads, lines)}


def paragraphs_of(record: dict) -> list[str]:
    return [p.strip() for p in record["body"].split("\n\n") if p.strip()]


def article_page(
    record: dict,
    *,
    canonical: str,
    outlet: str | None = None,
    intro: str | None = None,
    paragraphs: list[str] | None = None,
    feed_href: str = "/feed.xml",
) -> str:
    """A realistic article page for `record`, published by `outlet` (default: the record's source)."""
    outlet = outlet or record["source"]
    body = paragraphs if paragraphs is not None else paragraphs_of(record)
    if intro:
        body = [intro, *body]
    author = record.get("author") or ""
    published = record["published_at"]
    day = datetime.fromisoformat(published).strftime("%B %-d, %Y")
    text = "\n".join(f"      <p>{html.escape(p)}</p>" for p in body)
    e = html.escape
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{e(record["title"])} | {e(outlet)}</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="author" content="{e(author)}">
  <meta name="description" content="{e(body[0][:150])}">
  <meta property="og:type" content="article">
  <meta property="og:title" content="{e(record["title"])}">
  <meta property="og:site_name" content="{e(outlet)}">
  <meta property="og:url" content="{e(canonical)}">
  <meta property="article:published_time" content="{e(published)}">
  <link rel="canonical" href="{e(canonical)}">
  <link rel="alternate" type="application/rss+xml" title="{e(outlet)} — latest" href="{e(feed_href)}">
  <script>window.dataLayer = window.dataLayer || []; dataLayer.push({{"page": "article"}});</script>
  <style>body {{ font-family: serif; }} .promo {{ background: #ffd; }}</style>
</head>
<body>
  <header>
    <a class="logo" href="/">{e(outlet)}</a>
    <nav><ul>
      <li><a href="/news">News</a></li><li><a href="/business">Business</a></li>
      <li><a href="/tech">Tech</a></li><li><a href="/sport">Sport</a></li>
      <li><a href="/subscribe">Subscribe</a></li><li><a href="/login">Sign in</a></li>
    </ul></nav>
    <div class="promo">Get the morning briefing in your inbox. <a href="/newsletters">Sign up</a></div>
  </header>
  <main>
    <article>
      <h1>{e(record["title"])}</h1>
      <p class="byline">By <a rel="author" href="/authors/x">{e(author or "Staff")}</a> ·
        <time datetime="{e(published)}">{day}</time></p>
{text}
    </article>
    <section class="related"><h2>Related</h2><ul>
      <li><a href="/r1">Markets wrap: what moved stocks this week</a></li>
      <li><a href="/r2">Five things to know before the opening bell</a></li>
    </ul></section>
  </main>
  <aside><h2>Most read</h2><ol>
    <li><a href="/m1">Celebrity chef opens a new restaurant downtown</a></li>
    <li><a href="/m2">The best phones of the year, ranked</a></li>
  </ol></aside>
  <footer>
    <p>© 2023 {e(outlet)}. All rights reserved.</p>
    <p><a href="/privacy">Privacy policy</a> | <a href="/cookies">Cookie settings</a> | <a href="/terms">Terms</a></p>
  </footer>
</body>
</html>
"""


def paywall_page(record: dict, canonical: str) -> str:
    """A page that shows only a teaser and a subscription prompt."""
    teaser = paragraphs_of(record)[0][:160]
    return article_page(record, canonical=canonical, paragraphs=[teaser, "Subscribe to continue reading."])


def rss_feed(title: str, link: str, items: list[dict]) -> str:
    """RSS 2.0; each item: title, link, guid, published (ISO), summary, author."""
    rendered = []
    for item in items:
        published = format_datetime(datetime.fromisoformat(item["published"]))
        rendered.append(
            f"""    <item>
      <title>{html.escape(item["title"])}</title>
      <link>{html.escape(item["link"])}</link>
      <guid isPermaLink="false">{html.escape(item.get("guid") or item["link"])}</guid>
      <pubDate>{published}</pubDate>
      <dc:creator>{html.escape(item.get("author") or "")}</dc:creator>
      <description>{html.escape(item.get("summary") or "")}</description>
    </item>"""
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>{html.escape(title)}</title>
    <link>{html.escape(link)}</link>
    <description>Latest stories from {html.escape(title)}</description>
{chr(10).join(rendered)}
  </channel>
</rss>
"""


def atom_feed(title: str, link: str, items: list[dict]) -> str:
    entries = []
    for item in items:
        entries.append(
            f"""  <entry>
    <title>{html.escape(item["title"])}</title>
    <link rel="alternate" href="{html.escape(item["link"])}"/>
    <id>{html.escape(item.get("guid") or item["link"])}</id>
    <published>{item["published"]}</published>
    <updated>{item["published"]}</updated>
    <author><name>{html.escape(item.get("author") or "Staff")}</name></author>
    <summary>{html.escape(item.get("summary") or "")}</summary>
  </entry>"""
        )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>{html.escape(title)}</title>
  <link rel="alternate" href="{html.escape(link)}"/>
  <id>{html.escape(link)}</id>
  <updated>2023-12-11T18:30:00Z</updated>
{chr(10).join(entries)}
</feed>
"""


def feed_item(record: dict, link: str, summary: str | None = None) -> dict:
    return {
        "title": record["title"],
        "link": link,
        "guid": record["id"],
        "published": record["published_at"],
        "author": record.get("author") or "",
        "summary": summary if summary is not None else paragraphs_of(record)[0],
    }


@dataclass
class Route:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = False  # answer If-None-Match / If-Modified-Since with 304
    handler: Callable[[Request], Response] | None = None  # answers instead of the fields above


@dataclass(frozen=True)
class SeenRequest:
    path: str
    query: str
    headers: dict[str, str]


class NewsSite:
    """Routes by path (query ignored) on one pytest-httpserver; records every request it receives."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.routes: dict[str, Route] = {}
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self.serve("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
        server.expect_request(re.compile(r"^/.*")).respond_with_handler(self._handle)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def serve(
        self,
        path: str,
        body: str | bytes,
        *,
        content_type: str = "text/html; charset=utf-8",
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(data, content_type, status, dict(headers or {}))
        return self.url(path)

    def serve_feed(self, path: str, xml: str, content_type: str = "application/rss+xml; charset=utf-8") -> str:
        data = xml.encode()
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
        self.routes[path] = Route(data, content_type, 200, headers, conditional=True)
        return self.url(path)

    def handle(self, path: str, handler: Callable[[Request], Response]) -> str:
        self.routes[path] = Route(b"", handler=handler)
        return self.url(path)

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def page_requests(self) -> list[str]:
        """Paths requested, robots.txt left out."""
        with self._lock:
            return [r.path for r in self.requests if r.path != "/robots.txt"]

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(SeenRequest(request.path, request.query_string.decode(), dict(request.headers)))
        route = self.routes.get(request.path)
        if route is None:
            return Response("not found", status=404, content_type="text/plain")
        if route.handler is not None:
            return route.handler(request)
        if route.conditional and _not_modified(request, route):
            return Response(status=304, headers=route.headers)
        return Response(route.body, status=route.status, headers=route.headers, content_type=route.content_type)


def _not_modified(request: Request, route: Route) -> bool:
    """RFC 9110: If-None-Match decides when it is sent; If-Modified-Since only without it."""
    if "If-None-Match" in request.headers:
        return request.headers["If-None-Match"] == route.headers.get("ETag")
    return request.headers.get("If-Modified-Since") == route.headers.get("Last-Modified")
