"""Address identity, near-duplicate signatures, feed parsing and feed discovery (no network, no model)."""

from __future__ import annotations

import pytest

from corpus.dedup import NearDuplicates, signature_of
from corpus.feeds import FeedFormatError, advertised_feeds, looks_like_feed, parse_feed
from corpus.urls import clean_url, url_key
from tests.ingest.news_site import atom_feed, feed_item, load_articles, paragraphs_of, rss_feed

ARTICLES = load_articles()


@pytest.mark.parametrize(
    "variant",
    [
        "https://www.gulfledger.example/2024/07/water-rationing",
        "http://gulfledger.example/2024/07/water-rationing/",
        "https://gulfledger.example/2024/07/water-rationing?utm_source=rss&utm_medium=feed",
        "https://gulfledger.example/2024/07/water-rationing?fbclid=abc123#comments",
        "https://gulfledger.example/2024/07/water-rationing/amp",
        "https://gulfledger.example/amp/2024/07/water-rationing",
        "https://amp.gulfledger.example/2024/07/water-rationing",
        "https://gulfledger.example/2024/07/water-rationing.amp.html",
        "https://gulfledger.example/2024/07/water-rationing?amp=1",
        "https://gulfledger.example/2024/07/water-rationing?outputType=amp",
        "HTTPS://GulfLedger.example:443/2024/07/water-rationing",
    ],
)
def test_variants_of_one_address_share_a_key(variant: str) -> None:
    assert url_key(variant) == url_key("https://gulfledger.example/2024/07/water-rationing")


@pytest.mark.parametrize(
    "other",
    [
        "https://gulfledger.example/2024/07/water-rationing-part-two",
        "https://gulfledger.example/2024/07/water-rationing?page=2",
        "https://other.example/2024/07/water-rationing",
        "https://gulfledger.example/2024/07/camp-water-rationing",
    ],
)
def test_different_pages_keep_different_keys(other: str) -> None:
    assert url_key(other) != url_key("https://gulfledger.example/2024/07/water-rationing")


def test_clean_url_drops_tracking_but_keeps_the_page() -> None:
    cleaned = clean_url("https://www.Example.org/a/story?id=7&utm_campaign=x&gclid=y#top")
    assert cleaned == "https://www.example.org/a/story?id=7"


def test_a_wire_copy_with_its_own_intro_is_a_near_duplicate_and_other_stories_are_not() -> None:
    wire = ARTICLES["mhrag-0087"]["body"]
    copy = "Markets round-up from our business desk. " + wire.rsplit("\n\n", 1)[0]
    index = NearDuplicates()
    for article_id, record in ARTICLES.items():
        index.add(article_id, signature_of(record["body"]))
    assert index.closest(signature_of(copy)) == "mhrag-0087"
    assert index.closest(signature_of(copy), allowed=lambda key: key != "mhrag-0087") is None
    assert index.closest(signature_of(ARTICLES["mhrag-0461"]["body"][:1500] + " a different ending")) in (
        None,
        "mhrag-0461",
    )
    assert signature_of("Too short to compare.") is None


def test_signatures_are_plain_bytes_and_round_trip() -> None:
    signature = signature_of(ARTICLES["mhrag-0402"]["body"])
    assert isinstance(signature, bytes) and len(signature) == 128 * 4
    index = NearDuplicates()
    index.add("a", bytes(signature))
    assert index.closest(signature) == "a"


def test_rss_and_atom_entries_come_newest_first_with_absolute_links() -> None:
    records = [ARTICLES["mhrag-0287"], ARTICLES["mhrag-0402"], ARTICLES["mhrag-0461"]]
    items = [feed_item(r, f"/news/{r['id']}") for r in records]
    for feed in (
        rss_feed("Tech Desk", "https://tech.example/", items),
        atom_feed("Tech Desk", "https://tech.example/", items),
    ):
        parsed = parse_feed(feed.encode(), "https://tech.example/feed.xml")
        assert parsed.title == "Tech Desk"
        assert [e.key.rsplit("/", 1)[-1] for e in parsed.entries] == ["mhrag-0402", "mhrag-0287", "mhrag-0461"]
        assert parsed.entries[0].link == "https://tech.example/news/mhrag-0402"
        assert parsed.entries[0].paragraphs == [paragraphs_of(ARTICLES["mhrag-0402"])[0]]
        assert parsed.entries[0].published is not None and parsed.entries[0].published.year == 2023


def test_entity_expansion_is_refused() -> None:
    lol = '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY lol "lol">\n'
    previous = "lol"
    for level in range(1, 10):
        lol += f'<!ENTITY lol{level} "{("&" + previous + ";") * 10}">\n'
        previous = f"lol{level}"
    lol += "]>\n<rss version='2.0'><channel><title>&lol9;</title><item><title>&lol9;</title>"
    lol += "<link>https://x.example/1</link><description>&lol9;</description></item></channel></rss>"
    with pytest.raises(FeedFormatError, match="entity expansion"):
        parse_feed(lol.encode(), "https://x.example/feed.xml")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"<rss version='2.0'><channel><title>Broken</title><item><title>x</title>", "not a readable RSS/Atom feed"),
        (b"<rss version='2.0'><channel><title>No links</title><item><title>x</title></item></channel></rss>", "links"),
        (b"this is not xml at all {]", "not a readable RSS/Atom feed"),
        (b"<rss version='2.0'><channel><title>Empty</title></channel></rss>", "no entries"),
    ],
)
def test_malformed_or_empty_feeds_are_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(FeedFormatError, match=message):
        parse_feed(data, "https://x.example/feed.xml")


def test_a_feed_with_5000_entries_parses() -> None:
    items = [
        {
            "title": f"Item {n}",
            "link": f"/item/{n}",
            "guid": f"g{n}",
            "published": "2023-12-01T10:00:00+00:00",
            "summary": "s",
        }
        for n in range(5000)
    ]
    parsed = parse_feed(rss_feed("Firehose", "https://fire.example/", items).encode(), "https://fire.example/feed.xml")
    assert len(parsed.entries) == 5000


def test_feeds_are_told_from_pages_and_pages_name_their_feeds() -> None:
    feed = rss_feed("T", "https://t.example/", [feed_item(ARTICLES["mhrag-0402"], "/a")]).encode()
    assert looks_like_feed(feed, "text/xml") and looks_like_feed(feed, "application/rss+xml")
    page = b"""<html><head><title>Home</title>
      <link rel="alternate" type="application/rss+xml" title="All" href="/rss/all.xml">
      <link rel="alternate" type="application/atom+xml" href="https://t.example/atom">
      <link rel="alternate" hreflang="fr" href="/fr/">
      <link rel="stylesheet" href="/s.css"></head><body><p>Hi</p></body></html>"""
    assert not looks_like_feed(page, "text/html")
    assert advertised_feeds(page, "https://t.example/news/") == [
        "https://t.example/rss/all.xml",
        "https://t.example/atom",
    ]
