"""Taking in news end to end: a local news site, the real model, real FAISS, through the ingest service."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from werkzeug import Request, Response

from bot.ingest import IngestService
from bot.render_text import render_answer
from corpus.feeds import FeedFormatError
from corpus.fetch import UnsafeAddressError
from corpus.ingest import ArticleNotFoundError, CorpusArticleError, FeedCheck
from corpus.library import DuplicateFeedError
from corpus.readers import EmptyCorpusError
from corpus.urls import InvalidUrlError
from tests.conftest import SEED_FILE, seed_text, write_corpus
from tests.ingest.conftest import make_service
from tests.ingest.news_site import (
    NewsSite,
    article_page,
    atom_feed,
    feed_item,
    load_articles,
    paragraphs_of,
    paywall_page,
    rss_feed,
)

ARTICLES = load_articles()
BEEPER, SPOTIFY, APPLE, ASX, KING, HYDROGEL = (
    "mhrag-0402",
    "mhrag-0461",
    "mhrag-0287",
    "mhrag-0087",
    "mhrag-0412",
    "mhrag-0285",
)


def publish(site: NewsSite, article_id: str, path: str | None = None, **page: Any) -> str:
    """Serve the article's page at `path` (default /news/<id>) and return its address."""
    path = path or f"/news/{article_id}"
    canonical = str(page.pop("canonical", site.url(path)))
    return site.serve(path, article_page(ARTICLES[article_id], canonical=canonical, **page))


def failure(check: FeedCheck) -> str:
    """The error of a check that failed."""
    assert check.status == "failed" and check.error is not None, (check.status, check.error)
    return check.error


def publish_feed(
    site: NewsSite, path: str, article_ids: list[str], title: str = "Tech Desk", atom: bool = False
) -> str:
    items = [feed_item(ARTICLES[i], site.url(f"/news/{i}") + "?utm_source=rss&utm_medium=feed") for i in article_ids]
    if atom:
        return site.serve_feed(path, atom_feed(title, site.base, items), "application/atom+xml")
    return site.serve_feed(path, rss_feed(title, site.base, items))


def indexed_titles(desk: IngestService, tenant: str | None = None) -> set[str]:
    return {article.title for article in desk.byline.sources(tenant)}


def test_a_feed_is_followed_indexed_and_checked_with_conditional_gets(site: NewsSite, desk: IngestService) -> None:
    for article_id in (BEEPER, SPOTIFY, APPLE):
        publish(site, article_id)
    feed = publish_feed(site, "/feed.xml", [BEEPER, SPOTIFY, APPLE])

    added = desk.add_feed(feed)
    check = added.check
    assert check is not None and check.status == "new" and len(check.added) == 3 and not check.failures
    assert added.index is not None and sorted(added.index.report.added) == sorted(a.id for a in check.added)
    beeper = next(a for a in check.added if a.outlet == "TechCrunch")
    assert beeper.url == site.url(f"/news/{BEEPER}"), "tracking parameters dropped; canonical address kept"
    assert (
        beeper.author == "Sarah Perez"
        and beeper.published is not None
        and beeper.published.date().isoformat() == "2023-12-11"
    )
    assert "Subscribe" not in beeper.body and "Most read" not in beeper.body, (
        "boilerplate around the article is left out"
    )

    answer = desk.byline.ask("What happened to Beeper Mini after Apple's attempt to shut it down?")
    assert not answer.refused and answer.citations[0].outlet == "TechCrunch"
    assert answer.citations[0].url == beeper.url

    [record] = desk.feeds()
    assert record.name == "Tech Desk" and record.articles_taken == 3 and record.last_checked_at and record.last_new_at
    assert record.etag and record.last_error is None

    pages_before = site.page_requests()
    update = desk.update()
    [again] = update.checks
    assert again.status == "unchanged" and again.not_modified and update.index is None
    assert site.page_requests() == [*pages_before, "/feed.xml"], "a 304: no entry page is fetched again"
    assert [r for r in site.requests if r.path == "/feed.xml"][-1].headers["If-None-Match"] == record.etag


def test_a_new_entry_is_taken_and_one_leaving_the_feed_stays(site: NewsSite, desk: IngestService) -> None:
    for article_id in (BEEPER, SPOTIFY, APPLE):
        publish(site, article_id)
    feed = publish_feed(site, "/feed.xml", [BEEPER, SPOTIFY], atom=True)
    desk.add_feed(feed, name="Gadgets")
    publish_feed(site, "/feed.xml", [SPOTIFY, APPLE], atom=True)  # Beeper leaves, Apple arrives

    update = desk.update()
    [check] = update.checks
    assert check.status == "new" and [a.title for a in check.added] == [ARTICLES[APPLE]["title"]]
    assert site.hits(f"/news/{SPOTIFY}") == 1, "entries seen before are not fetched again"
    titles = {ARTICLES[i]["title"] for i in (BEEPER, SPOTIFY, APPLE)}
    assert indexed_titles(desk) == titles, "the article that left the feed is kept"

    # A full rebuild (a new index folder, as after a model change) needs no network and gives the same index.
    requests_before = len(site.requests)
    ids_before = {a.id for a in desk.byline.sources()}
    shutil.rmtree(desk.byline.index_settings.index_path)
    rebuilt = desk.byline.reindex()
    assert {a.id for a in desk.byline.sources()} == ids_before and rebuilt.from_library == 3
    assert len(site.requests) == requests_before


def test_a_syndicated_copy_is_kept_once_and_named_as_also_in(site: NewsSite, desk: IngestService) -> None:
    original = publish(site, ASX, "/business/asx-open")
    wire = ARTICLES[ASX]
    copy = site.serve(
        "/markets/wall-street-september",
        article_page(
            wire,
            canonical=site.url("/markets/wall-street-september"),
            outlet="The Age",
            intro="From our markets desk, with AP wire copy.",
        ),
    )
    result = desk.add_links([original, copy])
    first, second = result.outcomes
    assert first.added is not None and first.added.outlet == "The Sydney Morning Herald"
    assert (
        second.duplicate is not None and not second.duplicate.same_page and second.duplicate.kept_id == first.added.id
    )
    [kept] = desk.byline.sources()
    assert [(a.outlet, a.url) for a in kept.also_in] == [("The Age", copy)]

    answer = desk.byline.ask("How did Wall Street close out September, and what dragged the ASX lower?")
    assert not answer.refused
    cited = [c for c in answer.citations if c.article_id == kept.id]
    assert cited and [a.outlet for a in cited[0].also_in] == ["The Age"]
    assert len({c.article_id for c in answer.citations}) == len(answer.citations), "the story is cited once"
    assert "also in: The Age" in render_answer(answer)


def test_address_variants_are_known_without_fetching_them_again(site: NewsSite, desk: IngestService) -> None:
    url = publish(site, KING, "/sport/billie-jean-king")
    amp = publish(site, HYDROGEL, "/amp/science/hydrogel", canonical=site.url("/science/hydrogel"))
    added = desk.add_links([url, amp])
    assert all(outcome.added is not None for outcome in added.outcomes)
    amp_article = added.outcomes[1].added
    assert amp_article is not None and amp_article.url == site.url("/science/hydrogel"), (
        "an AMP page is stored at its canonical address"
    )
    requests_before = site.page_requests()

    variants = [
        url + "?utm_source=twitter&utm_campaign=sport",
        url + "/",
        url + "#comments",
        url + "/amp",
        url + "?amp=1",
        site.url("/science/hydrogel"),
        site.url("/science/hydrogel") + "?fbclid=xyz",
    ]
    again = desk.add_links(variants)
    assert all(o.duplicate is not None and o.duplicate.same_page for o in again.outcomes)
    assert site.page_requests() == requests_before, "no variant was fetched"
    assert again.index is None and len(desk.byline.sources()) == 2


def test_a_paywalled_page_falls_back_to_the_feed_text_and_a_dead_entry_is_reported(
    site: NewsSite, desk: IngestService
) -> None:
    site.serve(f"/news/{KING}", paywall_page(ARTICLES[KING], site.url(f"/news/{KING}")))
    publish(site, HYDROGEL)
    items = [
        feed_item(ARTICLES[KING], site.url(f"/news/{KING}"), summary=ARTICLES[KING]["body"]),
        feed_item(ARTICLES[SPOTIFY], site.url(f"/news/{SPOTIFY}"), summary=""),  # no page (404), no text
        feed_item(ARTICLES[HYDROGEL], site.url(f"/news/{HYDROGEL}")),
    ]
    feed = site.serve_feed("/feed.xml", rss_feed("Mixed", site.base, items))

    check = desk.add_feed(feed).check
    assert check is not None and len(check.added) == 2 and check.from_feed_text == 1
    king = next(a for a in check.added if a.title == ARTICLES[KING]["title"])
    assert king.paragraphs == paragraphs_of(ARTICLES[KING]), "the feed's full text, not the teaser"
    [failure] = check.failures
    assert failure.url == site.url(f"/news/{SPOTIFY}")
    assert "not found (404" in failure.reason and "the feed gives no text for it" in failure.reason


def test_each_bad_link_gets_one_line_and_the_good_one_is_kept(site: NewsSite, desk: IngestService) -> None:
    good = publish(site, BEEPER)
    site.serve("/gone", "gone", status=410)
    site.serve("/down", "busy", status=503)
    site.serve("/", "<html><head><title>Home</title></head><body><nav><a href='/a'>A</a></nav></body></html>")
    site.serve("/paywalled", paywall_page(ARTICLES[KING], site.url("/paywalled")))
    site.serve("/photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 32, content_type="image/jpeg")
    site.serve("/loop-a", "", status=302, headers={"Location": "/loop-b"})
    site.serve("/loop-b", "", status=302, headers={"Location": "/loop-a"})
    links = {
        "missing": site.url("/missing"),
        "gone": site.url("/gone"),
        "down": site.url("/down"),
        "home": site.url("/"),
        "paywall": site.url("/paywalled"),
        "photo": site.url("/photo.jpg"),
        "loop": site.url("/loop-a"),
        "tls": site.url("/tls").replace("http://", "https://"),
        "ftp": "ftp://files.example/story.txt",
        "good": good,
    }
    result = desk.add_links(list(links.values()))
    reasons = dict(zip(links, (o.error or "" for o in result.outcomes)))
    assert reasons["missing"].startswith(links["missing"]) and "not found (404" in reasons["missing"]
    assert "gone (410" in reasons["gone"] and "server error (503" in reasons["down"]
    assert "not an article page" in reasons["home"] or "too little article text" in reasons["home"]
    assert "too little article text" in reasons["paywall"] and "paywall" in reasons["paywall"]
    assert "not a web page or feed (content type image/jpeg)" in reasons["photo"]
    assert "redirect loop" in reasons["loop"] and "TLS" in reasons["tls"]
    assert "not an http:// or https:// address" in reasons["ftp"]
    assert reasons["good"] == "" and result.outcomes[-1].added is not None
    assert all("\n" not in reason for reason in reasons.values())
    assert indexed_titles(desk) == {ARTICLES[BEEPER]["title"]}


def test_update_gives_each_feed_its_line_and_a_failing_feed_never_stops_the_others(
    threaded_site: NewsSite, encoder, tmp_path: Path
) -> None:
    site = threaded_site
    desk = make_service(encoder, tmp_path, timeout_seconds=1.0)
    desk.ingestor.policy = type(desk.ingestor.policy)(max_entries_per_check=3, feed_workers=3)
    for article_id in (BEEPER, SPOTIFY, APPLE, KING):
        publish(site, article_id)
    names = ["good", "missing", "broken", "laughs", "loop", "slow", "firehose", "server"]
    for name in names:
        desk.add_feed(publish_feed(site, f"/{name}.xml", [BEEPER], title=name))
    publish_feed(site, "/good.xml", [BEEPER, SPOTIFY], title="good")
    del site.routes["/missing.xml"]
    site.serve(
        "/broken.xml",
        "<rss version='2.0'><channel><title>broken</title><item><title>cut off",
        content_type="application/rss+xml",
    )
    site.serve(
        "/laughs.xml",
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        "<rss version='2.0'><channel><title>&b;</title><item><title>&b;</title><link>/x</link></item></channel></rss>",
        content_type="application/rss+xml",
    )
    site.serve("/loop.xml", "", status=301, headers={"Location": "/loop.xml?again"})
    site.serve("/server.xml", "oops", status=500)
    release = threading.Event()

    def stall(request: Request) -> Response:
        release.wait(5)
        return Response("late", content_type="application/rss+xml")

    site.handle("/slow.xml", stall)
    firehose = [
        {
            "title": f"Item {n}",
            "link": site.url(f"/item/{n}"),
            "guid": f"item-{n}",
            "published": f"2023-11-{1 + n % 28:02d}T10:00:00+00:00",
            "summary": f"Item {n} of the firehose, a feed with far too many entries to take at once.",
        }
        for n in range(5000)
    ]
    site.serve_feed("/firehose.xml", rss_feed("firehose", site.base, firehose))

    try:
        result = desk.update()
    finally:
        release.set()
    checks = {check.feed.name: check for check in result.checks}
    assert set(checks) == set(names) and not result.all_failed
    assert checks["good"].status == "new" and [a.title for a in checks["good"].added] == [ARTICLES[SPOTIFY]["title"]]
    assert "not found (404" in failure(checks["missing"])
    assert "not a readable RSS/Atom feed" in failure(checks["broken"])
    assert "entity expansion" in failure(checks["laughs"])
    assert "redirect" in failure(checks["loop"])
    assert "timed out" in failure(checks["slow"])
    assert "server error (500" in failure(checks["server"])
    assert checks["firehose"].status == "new" and len(checks["firehose"].added) == 3
    assert checks["firehose"].left_for_later == 4997 and checks["firehose"].from_feed_text == 3
    assert {f.name: f.last_error for f in desk.feeds()}["missing"] == checks["missing"].error
    assert ARTICLES[SPOTIFY]["title"] in indexed_titles(desk)
    desk.close()


def test_feeds_cannot_be_followed_twice_and_pages_lead_to_their_feed(site: NewsSite, desk: IngestService) -> None:
    publish(site, BEEPER)
    feed = publish_feed(site, "/feed.xml", [BEEPER])
    home = site.serve(
        "/home",
        '<html><head><title>Tech Desk</title><link rel="alternate" type="application/rss+xml" href="/feed.xml"></head>'
        "<body><h1>Tech Desk</h1></body></html>",
    )
    followed = desk.add_feed(home)
    assert followed.check is not None and followed.check.feed.url == feed
    for again in (feed, feed + "?utm_source=newsletter", home):
        with pytest.raises(DuplicateFeedError, match="followed already"):
            desk.add_feed(again)
    site.serve("/plain", "<html><head><title>No feed here</title></head><body><p>Hi</p></body></html>")
    with pytest.raises(FeedFormatError, match="advertises no RSS or Atom feed"):
        desk.add_feed(site.url("/plain"))
    with pytest.raises(InvalidUrlError, match="not an http:// or https:// address"):
        desk.add_feed("gopher://feeds.example/news")
    assert len(desk.feeds()) == 1


def test_private_addresses_are_refused_by_default(site: NewsSite, encoder, tmp_path: Path) -> None:
    publish(site, BEEPER)
    feed = publish_feed(site, "/feed.xml", [BEEPER])
    guarded = make_service(encoder, tmp_path, allow_private=False)
    with pytest.raises(UnsafeAddressError, match="loopback address"):
        guarded.add_feed(feed)
    [outcome] = guarded.add_links([site.url(f"/news/{BEEPER}")]).outcomes
    assert outcome.error is not None and "refused to fetch" in outcome.error
    assert site.requests == [] and guarded.feeds() == []
    guarded.close()


def test_what_a_server_adds_is_answered_only_in_that_server(site: NewsSite, desk: IngestService) -> None:
    beeper = publish(site, BEEPER)
    shared_wire = publish(site, ASX, "/business/asx-open")
    copy = site.serve(
        "/markets/wall-street",
        article_page(
            ARTICLES[ASX], canonical=site.url("/markets/wall-street"), outlet="The Age", intro="Markets desk."
        ),
    )
    desk.add_links([shared_wire])  # the command line: shared
    first = desk.add_links([beeper], tenant="111").outcomes[0].added
    assert first is not None and first.tenant == "111"
    folded = desk.add_links([copy], tenant="111").outcomes[0]
    assert folded.duplicate is not None and not folded.duplicate.same_page, "a server's copy folds into a shared story"

    question = "What happened to Beeper Mini after Apple's attempt to shut it down?"
    assert desk.byline.ask(question, tenant="111").citations[0].outlet == "TechCrunch"
    other = desk.byline.ask(question, tenant="222")
    assert all(c.article_id != first.id for c in other.citations) and all(
        p.article_id != first.id for p in other.passages
    )
    assert first.id not in {a.id for a in desk.byline.sources("222")}
    assert desk.byline.status("222").articles == 1 and desk.byline.status("111").articles == 2
    assert desk.byline.status(None).articles == 2
    from bot.service import QuestionError

    with pytest.raises(QuestionError) as unknown_outlet:
        desk.byline.ask(question, outlet="TechCrunch", tenant="222")
    assert "TechCrunch" not in str(unknown_outlet.value).split("Indexed outlets:")[1]

    wire_question = "How did Wall Street close out September?"
    seen_by = {
        tenant: [a.outlet for c in desk.byline.ask(wire_question, tenant=tenant).citations for a in c.also_in]
        for tenant in ("111", "222")
    }
    assert seen_by == {"111": ["The Age"], "222": []}, "another server's copy is not even named"
    assert [a.outlet for a in desk.byline.sources("222")[0].also_in] == []

    separate = desk.add_links([beeper], tenant="222").outcomes[0]
    assert separate.added is not None and separate.added.id != first.id, "another server's article is no duplicate"
    with pytest.raises(ArticleNotFoundError):
        desk.remove(first.id, tenant="222")


def test_removed_articles_stay_removed_and_feeds_can_be_purged(site: NewsSite, encoder, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", {SEED_FILE: seed_text()})
    desk = make_service(encoder, tmp_path, corpus=corpus)
    for article_id in (BEEPER, SPOTIFY, APPLE):
        publish(site, article_id)
    feed = publish_feed(site, "/feed.xml", [BEEPER, SPOTIFY])
    desk.add_feed(feed)
    removed = desk.remove(site.url(f"/news/{BEEPER}") + "?utm_source=x")
    assert [s.article.title for s in removed.removed] == [ARTICLES[BEEPER]["title"]]
    assert ARTICLES[BEEPER]["title"] not in indexed_titles(desk)

    publish_feed(site, "/feed.xml", [BEEPER, SPOTIFY, APPLE])
    desk.update()
    assert ARTICLES[BEEPER]["title"] not in indexed_titles(desk), "the feed does not bring it back"
    assert ARTICLES[APPLE]["title"] in indexed_titles(desk)
    assert desk.add_links([site.url(f"/news/{BEEPER}")]).outcomes[0].added is not None, "adding it again is explicit"

    with pytest.raises(CorpusArticleError, match=f"corpus folder \\(file {SEED_FILE}\\)"):
        desk.remove(SEED_FILE.removesuffix(".txt"))
    with pytest.raises(ArticleNotFoundError):
        desk.remove("web-0000000000000000")

    kept = desk.remove_feed(feed)
    assert kept.purged == 0 and desk.feeds() == [] and ARTICLES[APPLE]["title"] in indexed_titles(desk)
    desk.add_feed(feed)
    purged = desk.remove_feed(feed, purge=True)
    assert purged.purged == 2 and ARTICLES[APPLE]["title"] not in indexed_titles(desk)
    assert ARTICLES[BEEPER]["title"] in indexed_titles(desk), "the explicitly added link was not the feed's"
    desk.close()


def test_a_library_without_a_corpus_folder_is_enough(site: NewsSite, desk: IngestService, tmp_path: Path) -> None:
    desk.add_links([publish(site, HYDROGEL)])
    shutil.rmtree(desk.byline.corpus_path)
    outcome = desk.byline.reindex()
    assert outcome.report.articles == 1 and outcome.from_library == 1
    from bot.service import Byline
    from bot.settings import AnswerSettings, IndexSettings

    nothing = Byline(
        IndexSettings(corpus_path=tmp_path / "nowhere", index_path=tmp_path / "other" / "index"),
        AnswerSettings(),
        desk.byline.encoder,
    )
    with pytest.raises(EmptyCorpusError, match="does not exist"):
        nothing.reindex()


def test_a_corpus_file_added_later_takes_over_the_same_story(site: NewsSite, desk: IngestService) -> None:
    url = publish(site, HYDROGEL)
    desk.add_links([url])
    record = ARTICLES[HYDROGEL]
    write_corpus(
        desk.byline.corpus_path,
        {
            "hydrogel.md": f"---\ntitle: {json.dumps(record['title'])}\noutlet: Science Weekly\ndate: 2023-11-03\n---\n\n{record['body']}\n"
        },
    )
    outcome = desk.byline.reindex()
    [article] = desk.byline.sources()
    assert outcome.folded == 1 and article.outlet == "Science Weekly"
    assert [(a.outlet, a.url) for a in article.also_in] == [("Science News For Students", url)]


def test_a_story_folded_into_an_unchanged_corpus_file_stays_folded(site: NewsSite, desk: IngestService) -> None:
    url = publish(site, HYDROGEL)
    desk.add_links([url])
    record = ARTICLES[HYDROGEL]
    story = corpus_story(desk, "hydrogel.md", record["title"], record["body"])
    then = time.time() - 3600  # long unchanged: later reindexes take its article from its record
    os.utime(story, (then, then))
    assert desk.byline.reindex().folded == 1
    other = ARTICLES[KING]
    os.utime(corpus_story(desk, "king.md", other["title"], other["body"]), (then, then))

    outcome = desk.byline.reindex()

    assert outcome.files_read == 1, "hydrogel.md is not read again"
    assert outcome.folded == 1 and outcome.report.changed == [] and len(outcome.report.added) == 1
    [article] = [a for a in desk.byline.sources() if a.id == "hydrogel"]
    assert article.outlet == "Science Weekly" and article.paragraphs == paragraphs_of(record)
    assert [(a.outlet, a.url) for a in article.also_in] == [("Science News For Students", url)]


def corpus_story(desk: IngestService, name: str, title: str, body: str) -> Path:
    text = f"---\ntitle: {json.dumps(title)}\noutlet: Science Weekly\ndate: 2023-11-03\n---\n\n{body}\n"
    write_corpus(desk.byline.corpus_path, {name: text})
    return desk.byline.corpus_path / name


def test_uploaded_files_are_read_like_the_corpus_folder(desk: IngestService) -> None:
    record = ARTICLES[KING]
    text = f"---\ntitle: {json.dumps(record['title'])}\noutlet: Fortune\ndate: 2023-10-13\n---\n\n{record['body']}\n"
    first = desk.add_upload("king.md", text.encode(), tenant="111")
    [outcome] = first.outcomes
    assert outcome.added is not None and outcome.added.id.startswith("upload-") and outcome.added.tenant == "111"
    again = desk.add_upload("copy-of-king.md", text.encode(), tenant="111")
    assert again.outcomes[0].duplicate is not None and again.index is None
    from corpus.ingest import UploadError

    for name, data, message in (
        ("photo.png", b"\x89PNG", "unsupported file type"),
        ("blank.md", b"   \n", "empty file"),
        ("binary.txt", b"abc\x00def", "binary"),
    ):
        with pytest.raises(UploadError, match=message):
            desk.add_upload(name, data, tenant="111")
    assert [a.title for a in desk.byline.sources("111")] == [record["title"]]
    assert desk.byline.sources("222") == []
