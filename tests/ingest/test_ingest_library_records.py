"""At archive scale the library is read by difference: a reindex reads whole only the stored articles it must
chunk, and an add reads the stories of the stored articles new since the last one (whichever process
stored them), while the duplicate check still sees every stored article."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from bot.ingest import IngestService
from bot.service import Byline
from bot.settings import AnswerSettings, FeedsSettings, IndexSettings
from corpus.dedup import signature_of
from corpus.library import Library, StoredArticle, StoryRecord
from corpus.models import Article
from corpus.urls import url_key
from embeddings.encoder import Encoder
from tests.conftest import write_corpus
from tests.ingest.conftest import local_fetch_settings, make_service
from tests.ingest.news_site import NewsSite, article_page, load_articles

ARTICLES = load_articles()
BEEPER, SPOTIFY, APPLE, ASX = "mhrag-0402", "mhrag-0461", "mhrag-0287", "mhrag-0087"


class CountingLibrary(Library):
    """The library, noting which stored articles are read whole and whose stories are read."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.read_whole: list[str] = []
        self.stories_read: list[str] = []

    def article(self, article_id: str) -> StoredArticle | None:
        self.read_whole.append(article_id)
        return super().article(article_id)

    def articles(self) -> list[StoredArticle]:
        self.read_whole.append("every stored article")
        return super().articles()

    def stories(self, ids: Collection[str] | None = None) -> list[StoryRecord]:
        self.stories_read.extend(["every stored article"] if ids is None else ids)
        return super().stories(ids)


def counting_byline(encoder: Encoder, root: Path) -> Byline:
    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    byline = Byline(IndexSettings(corpus_path=corpus, index_path=root / "index"), AnswerSettings(), encoder)
    byline.library = CountingLibrary(byline.index_settings.library_file)
    return byline


def stored_article(n: int, record: dict) -> Article:
    return Article(
        id=f"lib-{n}",
        title=record["title"],
        outlet="The Courier",
        url=f"https://courier.example/{n}",
        paragraphs=[record["body"]],
    )


def test_a_reindex_reads_whole_only_the_stored_articles_new_since(encoder: Encoder, tmp_path: Path) -> None:
    byline = counting_byline(encoder, tmp_path)
    library = byline.library
    assert isinstance(library, CountingLibrary)
    corpus_record = ARTICLES[ASX]
    write_corpus(
        byline.corpus_path,
        {"asx.md": f"---\ntitle: {corpus_record['title']}\noutlet: Gazette\n---\n\n{corpus_record['body']}\n"},
    )
    first = [stored_article(n, ARTICLES[key]) for n, key in enumerate([BEEPER, SPOTIFY], start=1)]
    for article in first:
        library.store(article, "link", url_key(article.url), signature_of(article.body))
    assert byline.reindex().from_library == 2
    assert sorted(library.read_whole) == ["lib-1", "lib-2"], "what is chunked is read whole once"
    library.read_whole.clear()

    added = stored_article(3, ARTICLES[APPLE])
    copy = stored_article(4, ARTICLES[ASX])  # the corpus article's story: folded in, never chunked
    for article in (added, copy):
        library.store(article, "feed", url_key(article.url), signature_of(article.body))
    outcome = byline.reindex()

    assert (outcome.from_library, outcome.folded) == (3, 1)
    assert library.read_whole == ["lib-3"]
    assert outcome.report.added == ["lib-3"] and outcome.report.changed == ["asx"]  # asx gained an also_in
    [asx] = [a for a in byline.sources() if a.title == corpus_record["title"]]
    assert [entry.url for entry in asx.also_in] == ["https://courier.example/4"]


def publish(site: NewsSite, article_id: str, path: str, outlet: str | None = None, intro: str | None = None) -> str:
    page = article_page(ARTICLES[article_id], canonical=site.url(path), outlet=outlet, intro=intro)
    return site.serve(path, page)


def wire_copy(site: NewsSite, article_id: str, path: str) -> str:
    return publish(site, article_id, path, outlet="The Wire Desk", intro="From our partners, with wire copy.")


def test_an_add_sees_what_another_process_stored_and_reads_only_that(
    site: NewsSite, encoder: Encoder, tmp_path: Path
) -> None:
    bot = IngestService(counting_byline(encoder, tmp_path), local_fetch_settings(), FeedsSettings(workers=2))
    cli = make_service(encoder, tmp_path)  # the same library file, in another Library and Ingestor
    library = bot.byline.library
    assert isinstance(library, CountingLibrary)
    try:
        [beeper] = bot.add_links([publish(site, BEEPER, "/news/beeper")]).added
        [spotify] = cli.add_links([publish(site, SPOTIFY, "/news/spotify")]).added
        library.stories_read.clear()

        same_page = bot.add_links([site.url("/news/spotify?utm_source=feed")]).outcomes
        near_copy = bot.add_links([wire_copy(site, SPOTIFY, "/wire/spotify")]).outcomes

        assert [(o.duplicate.kept_id, o.duplicate.same_page) for o in same_page if o.duplicate] == [(spotify.id, True)]
        assert [(o.duplicate.kept_id, o.duplicate.same_page) for o in near_copy if o.duplicate] == [(spotify.id, False)]
        assert library.stories_read == [spotify.id], "only the article stored since is read, once"

        cli.remove(spotify.id)
        library.stories_read.clear()
        [kept] = bot.add_links([wire_copy(site, SPOTIFY, "/wire/spotify-again")]).added
        assert kept.outlet == "The Wire Desk", "a story removed elsewhere is no longer a duplicate"
        assert library.stories_read == [] and beeper.id in library.content_hashes()
    finally:
        bot.close()
        cli.close()


def test_a_started_service_has_compared_the_stored_articles_before_the_first_add(
    site: NewsSite, encoder: Encoder, tmp_path: Path
) -> None:
    first = make_service(encoder, tmp_path)
    try:
        [spotify] = first.add_links([publish(site, SPOTIFY, "/news/spotify")]).added
    finally:
        first.close()
    restarted = IngestService(counting_byline(encoder, tmp_path), local_fetch_settings(), FeedsSettings(workers=2))
    library = restarted.byline.library
    assert isinstance(library, CountingLibrary)
    try:
        restarted.byline.warm_up()  # what the bot runs before it reports ready, then:
        restarted.warm_up()
        assert library.stories_read == [spotify.id]
        library.stories_read.clear()

        [beeper] = restarted.add_links([publish(site, BEEPER, "/news/beeper")]).added
        decided = restarted.byline.library_folds.decided_last
        [outcome] = restarted.add_links([wire_copy(site, SPOTIFY, "/wire/spotify")]).outcomes
    finally:
        restarted.close()

    assert decided == 1, "the first reindex after the start compares only the new article with the corpus"
    assert outcome.duplicate is not None and outcome.duplicate.kept_id == spotify.id
    assert library.stories_read == [], "the first adds after the start read no stored article's story again"
    assert beeper.id in library.read_whole
