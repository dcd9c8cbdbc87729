"""The duplicate check at ingest takes the corpus folder's articles from their per-file records
(corpus/readers/recorded.py) instead of reading every corpus file on every add: a corpus article's copies
are still caught, also after its file changed, and an add reads no corpus file unchanged since recorded."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from bot.ingest import IngestService
from embeddings.encoder import Encoder
from tests.conftest import write_corpus
from tests.ingest.conftest import make_service
from tests.ingest.news_site import NewsSite, article_page, load_articles

ARTICLES = load_articles()
HYDROGEL, KING, APPLE, BEEPER = "mhrag-0285", "mhrag-0412", "mhrag-0287", "mhrag-0402"
LONG_AGO_NS = (time.time_ns() // 10**9 - 3600) * 10**9  # well before any read: records of such files are trusted


def corpus_file(desk: IngestService, name: str, article_id: str, url: str, mtime_ns: int = LONG_AGO_NS) -> Path:
    """A Markdown corpus file holding the article at `url`, last modified at `mtime_ns`."""
    record = ARTICLES[article_id]
    text = (
        f"---\ntitle: {json.dumps(record['title'])}\noutlet: Science Weekly\ndate: 2023-11-03\n"
        f"url: {url}\n---\n\n{record['body']}\n"
    )
    path = write_corpus(desk.byline.corpus_path, {name: text}) / name
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def publish(site: NewsSite, article_id: str, path: str, outlet: str | None = None, intro: str | None = None) -> str:
    page = article_page(ARTICLES[article_id], canonical=site.url(path), outlet=outlet, intro=intro)
    return site.serve(path, page)


def wire_copy(site: NewsSite, article_id: str, path: str) -> str:
    """Another outlet's page running the article's text with an intro line of its own."""
    return publish(site, article_id, path, outlet="The Wire Desk", intro="From our partners, with wire copy.")


def test_a_corpus_articles_copies_are_caught_once_its_file_is_recorded(site: NewsSite, desk: IngestService) -> None:
    corpus_file(desk, "hydrogel.md", HYDROGEL, site.url("/science/hydrogel"))
    assert desk.byline.reindex().files_read == 1
    [corpus_article] = desk.byline.sources()
    publish(site, HYDROGEL, "/science/hydrogel")
    copy = wire_copy(site, HYDROGEL, "/wire/hydrogel")

    again = desk.add_links([site.url("/science/hydrogel?utm_source=rss"), site.url("/science/hydrogel")], tenant="111")
    copied = desk.add_links([copy], tenant="111")

    assert [o.duplicate.kept_id if o.duplicate else None for o in again.outcomes] == [corpus_article.id] * 2
    assert all(o.duplicate is not None and o.duplicate.same_page for o in again.outcomes)
    assert site.hits("/science/hydrogel") == 0, "a corpus article's address is known without fetching it"
    [outcome] = copied.outcomes
    assert outcome.duplicate is not None and not outcome.duplicate.same_page
    assert outcome.duplicate.kept_id == corpus_article.id and outcome.duplicate.kept_title == corpus_article.title
    [seen_by_111] = desk.byline.sources("111")
    [seen_by_222] = desk.byline.sources("222")
    assert [(a.outlet, a.url) for a in seen_by_111.also_in] == [("The Wire Desk", copy)]
    assert seen_by_222.also_in == [], "what one server adds is not shown to another"


def test_a_corpus_file_changed_since_it_was_recorded_is_checked_as_it_is_now(
    site: NewsSite, desk: IngestService
) -> None:
    corpus_file(desk, "story.md", HYDROGEL, site.url("/science/hydrogel"))
    first = desk.add_links([publish(site, BEEPER, "/tech/beeper")])  # records the corpus file, checked against it
    assert first.added and first.index is not None and first.index.files_read == 0
    corpus_file(desk, "story.md", KING, site.url("/sport/king"), mtime_ns=LONG_AGO_NS + 10**9)
    hydrogel = publish(site, HYDROGEL, "/science/hydrogel")
    king_copy = wire_copy(site, KING, "/wire/king")

    same_address = desk.add_links([site.url("/sport/king?utm_medium=social")])
    near_copy = desk.add_links([king_copy])
    no_longer_in_corpus = desk.add_links([hydrogel])

    [king] = [a for a in desk.byline.sources() if a.title == ARTICLES[KING]["title"]]
    [outcome] = same_address.outcomes
    assert outcome.duplicate is not None and outcome.duplicate.same_page and outcome.duplicate.kept_id == king.id
    [outcome] = near_copy.outcomes
    assert outcome.duplicate is not None and not outcome.duplicate.same_page and outcome.duplicate.kept_id == king.id
    [outcome] = no_longer_in_corpus.outcomes
    assert outcome.added is not None, "the corpus file no longer holds this story"
    assert [(a.outlet, a.url) for a in king.also_in] == [("The Wire Desk", king_copy)]


def test_an_add_reads_no_corpus_file_unchanged_since_it_was_recorded(
    site: NewsSite, desk: IngestService, encoder: Encoder, tmp_path: Path
) -> None:
    story = corpus_file(desk, "hydrogel.md", HYDROGEL, site.url("/science/hydrogel-a"))
    assert desk.add_links([publish(site, BEEPER, "/tech/beeper")]).added  # records the file and its signature
    [corpus_article] = [a for a in desk.byline.sources() if a.title == ARTICLES[HYDROGEL]["title"]]
    # Changed behind the records' back (same size, same modification time): only reading it again would
    # find that its article moved to another address.
    before = os.stat(story)
    story.write_text(story.read_text(encoding="utf-8").replace("/hydrogel-a", "/hydrogel-b"), encoding="utf-8")
    os.utime(story, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (os.stat(story).st_size, os.stat(story).st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    publish(site, APPLE, "/science/hydrogel-a")  # if the check missed it, this page would be fetched and kept
    restarted = make_service(encoder, tmp_path)  # a new process: nothing known in memory, only what is recorded

    try:
        [outcome] = restarted.add_links([site.url("/science/hydrogel-a")]).outcomes
    finally:
        restarted.close()

    assert outcome.duplicate is not None and outcome.duplicate.kept_id == corpus_article.id, (
        "the corpus article came from its file's record: the file was not read again"
    )
    assert site.hits("/science/hydrogel-a") == 0


def test_a_started_service_has_compared_the_corpus_folder_before_the_first_add(
    site: NewsSite, desk: IngestService, encoder: Encoder, tmp_path: Path
) -> None:
    corpus_file(desk, "hydrogel.md", HYDROGEL, site.url("/science/hydrogel-a"))
    desk.byline.reindex()
    [corpus_article] = desk.byline.sources()
    restarted = make_service(encoder, tmp_path)
    try:
        assert len(restarted.byline.corpus_stories) == 0
        restarted.byline.warm_up()  # what the bot runs before it reports ready
        story = restarted.byline.corpus_stories.story(corpus_article.id)
        assert story is not None and story.title == ARTICLES[HYDROGEL]["title"]
    finally:
        restarted.close()

    desk.byline.corpus_path.rename(tmp_path / "moved-away")
    without_folder = make_service(encoder, tmp_path, corpus=tmp_path / "corpus")
    try:
        without_folder.byline.warm_up()  # the index still serves; a missing corpus folder holds no articles
        assert len(without_folder.byline.corpus_stories) == 0
        assert without_folder.byline.ask("What is the hydrogel made of?").citations
    finally:
        without_folder.close()
