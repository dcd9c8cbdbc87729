"""The library's lean article records: a reindex folds the library in by difference and still gives what a
full fold gives; a library file written before records existed is brought up to date with nothing lost."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from corpus.corpus_stories import CorpusStories
from corpus.dedup import signature_of
from corpus.gather import Gathered, gather_articles
from corpus.library import Library, LibraryArticleGoneError
from corpus.library_folds import LibraryFolds
from corpus.models import AlsoIn, Article
from corpus.readers.recorded import CorpusFileRecords, KnownArticle, whole
from corpus.urls import url_key

OLD_SCHEMA = (Path(__file__).parent / "fixtures" / "library_schema_before_records.sql").read_text(encoding="utf-8")
WORDS = (
    "harbour council budget river school union court price storm market bridge rail vote doctor farm "
    "energy water police museum election festival ferry airport tariff housing league coach strike drought "
    "mayor clinic library tunnel reef vaccine grid solar wind export wheat wool port crew shipyard"
).split()


def story(seed: int) -> list[str]:
    """Paragraphs of random words: texts of different seeds share (almost) no 5-word sequence."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(40)).capitalize() + "." for _ in range(4)]


def library_article(n: int, paragraphs: list[str] | None = None, url: str | None = None, tenant: str = "") -> Article:
    return Article(
        id=f"lib-{n}",
        title=f"Library story {n}",
        outlet="The Courier",
        url=url or f"https://courier.example/{n}",
        published=datetime(2024, 3, 1 + n % 27, 9, 30, tzinfo=UTC),
        paragraphs=paragraphs or story(n),
        tenant=tenant,
    )


def keep(library: Library, article: Article) -> None:
    assert library.store(article, "link", url_key(article.url), signature_of(article.body))


def corpus_file(corpus: Path, name: str, article_id: str, paragraphs: list[str], url: str) -> None:
    record = {"id": article_id, "title": f"Corpus {article_id}", "source": "Gazette", "url": url}
    record["body"] = "\n\n".join(paragraphs)
    (corpus / name).write_text(json.dumps(record) + "\n", encoding="utf-8")


def view(gathered: Gathered) -> tuple:
    """Everything a gather decides: each article (whole, with its also_in), the counts, what was skipped."""
    articles = [(a.id, a.content_hash, whole(a)) for a in gathered.articles]
    skipped = [(str(s.path), s.reason) for s in gathered.skipped]
    return articles, gathered.from_library, gathered.folded, skipped


def test_a_gather_that_keeps_its_folds_gives_what_a_fresh_gather_gives(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    library = Library(tmp_path / "library.sqlite")
    records = CorpusFileRecords(tmp_path / "records.json")
    stories, folds = CorpusStories(), LibraryFolds()
    corpus_file(corpus, "c1.jsonl", "c1", story(101), "https://gazette.example/c1")
    corpus_file(corpus, "c2.jsonl", "c2", story(102), "https://gazette.example/c2")
    for n in range(1, 5):
        keep(library, library_article(n))
    keep(library, library_article(5, url="https://gazette.example/c1"))  # c1's address: folded into c1
    keep(library, library_article(6, paragraphs=[*story(102), "Reporting by the wire desk."]))  # c2's text
    library.add_also_in("lib-1", "elsewhere.example/1", AlsoIn(outlet="Elsewhere", url="https://elsewhere.example/1"))

    def both() -> tuple[tuple, tuple]:
        kept = gather_articles(corpus, library, records=records, stories=stories, folds=folds)
        fresh = gather_articles(corpus, library)
        return view(kept), view(fresh)

    kept, fresh = both()
    assert kept == fresh
    assert (fresh[1], fresh[2]) == (4, 2)
    found = {article_id: article for article_id, _, article in fresh[0]}
    assert [(e.outlet, e.url) for e in found["c2"].also_in] == [("The Courier", "https://courier.example/6")]
    assert [e.outlet for e in found["lib-1"].also_in] == ["Elsewhere"] and found["c1"].also_in == []
    gathered = gather_articles(corpus, library, records=records, stories=stories, folds=folds)
    assert {a.id for a in gathered.articles if isinstance(a, KnownArticle)} >= {"lib-2", "lib-3", "lib-4"}

    keep(library, library_article(7))
    keep(library, library_article(8, paragraphs=[*story(101), "Additional reporting by staff."]))  # c1's text
    library.remove_articles(["lib-2"])
    keep(Library(library.path), library_article(9))  # another process adds one
    kept, fresh = both()
    assert kept == fresh and (fresh[1], fresh[2]) == (5, 3)
    assert folds.decided_last == 3, "only the articles added since are compared with the corpus again"

    corpus_file(corpus, "c3.jsonl", "c3", story(3), "https://gazette.example/c3")  # tells lib-3's story
    corpus_file(corpus, "c4.jsonl", "c4", story(404), "https://courier.example/4")  # at lib-4's address
    (corpus / "c1.jsonl").unlink()  # lib-5 and lib-8 are theirs again
    kept, fresh = both()
    assert kept == fresh and (fresh[1], fresh[2]) == (5, 3)
    ids = [article_id for article_id, _, _ in fresh[0]]
    assert {"lib-5", "lib-8"} <= set(ids) and not {"lib-3", "lib-4"} & set(ids)

    keep(library, library_article(10, paragraphs=story(404)))  # c4's text, at an address of its own
    kept, fresh = both()
    assert kept == fresh and (fresh[1], fresh[2]) == (5, 4)


def test_an_article_removed_before_it_is_read_whole_says_so(tmp_path: Path) -> None:
    library = Library(tmp_path / "library.sqlite")
    keep(library, library_article(1))
    gathered = gather_articles(tmp_path / "corpus", library)
    [known] = gathered.articles
    library.remove_articles(["lib-1"])
    with pytest.raises(LibraryArticleGoneError, match="lib-1"):
        whole(known)


def old_library(path: Path, articles: list[Article]) -> None:
    """A library file as Byline wrote it before article records existed."""
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.executemany(
        "INSERT INTO articles (id, tenant, url_key, origin, feed_key, data, signature, added_at) "
        "VALUES (?, ?, ?, 'link', NULL, ?, ?, ?)",
        [
            (
                a.id,
                a.tenant,
                url_key(a.url),
                a.model_dump_json(),
                signature_of(a.body),
                (datetime(2024, 1, 1) + timedelta(seconds=i)).isoformat(),
            )
            for i, a in enumerate(articles)
        ],
    )
    also = AlsoIn(outlet="Elsewhere", url="https://elsewhere.example/1", tenant="7")
    db.execute(
        "INSERT INTO also_in VALUES ('lib-1', '7', 'elsewhere.example/1', ?, '2024-01-02T00:00:00')",
        (also.model_dump_json(),),
    )
    db.commit()
    db.close()


def test_a_library_written_before_records_existed_gets_them_once_with_nothing_lost(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite"
    articles = [library_article(n, tenant="7" if n == 3 else "") for n in range(1, 1204)]
    old_library(path, articles)
    library = Library(path)

    records = library.records()

    assert [r.id for r in records] == [a.id for a in articles]
    by_id = {a.id: a for a in articles}
    for record in records:
        article = by_id[record.id]
        assert (record.content_hash, record.size, record.title, record.url, record.tenant) == (
            article.content_hash,
            article.size,
            article.title,
            article.url,
            article.tenant,
        )
        assert record.also_in() == AlsoIn(
            outlet=article.outlet,
            url=article.url,
            title=article.title,
            published=article.published,
            tenant=article.tenant,
        )
    assert library.signatures_of(["lib-2"]) == {"lib-2": signature_of(by_id["lib-2"].body)}
    assert [stored.article for stored in library.articles()] == articles
    gathered = gather_articles(tmp_path / "corpus", library)
    assert [a.id for a in gathered.articles] == [a.id for a in articles]
    assert whole(gathered.articles[0]).also_in == [
        AlsoIn(outlet="Elsewhere", url="https://elsewhere.example/1", tenant="7")
    ]
    assert [whole(a) for a in gathered.articles[1:]] == articles[1:]

    # An older Byline sharing the file stores an article without a record; the next read gives it one.
    late = library_article(5000)
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO articles (id, tenant, url_key, origin, feed_key, data, signature, added_at) "
        "VALUES (?, '', ?, 'feed', NULL, ?, NULL, '2025-01-01T00:00:00')",
        (late.id, url_key(late.url), late.model_dump_json()),
    )
    db.commit()
    db.close()
    assert library.content_hashes()[late.id] == late.content_hash
    library.remove_articles(["lib-1", late.id])
    assert len(library.records()) == len(articles) - 1 and "lib-1" not in library.content_hashes()

    db = sqlite3.connect(path)  # foreign keys off: the record stays behind, then goes at the next read
    db.execute("DELETE FROM articles WHERE id = 'lib-2'")
    db.commit()
    db.close()
    assert "lib-2" not in {record.id for record in library.records()}


def test_records_made_in_another_format_are_made_again(tmp_path: Path) -> None:
    library = Library(tmp_path / "library.sqlite")
    articles = [library_article(n) for n in range(1, 4)]
    for article in articles:
        keep(library, article)
    db = sqlite3.connect(library.path)  # as a Byline whose records held other values would have left them
    db.execute("UPDATE article_records SET content_hash = 'stale', size = 0")
    db.execute("UPDATE meta SET value = 'older' WHERE key = 'record_format'")
    db.commit()
    db.close()

    assert [(r.id, r.content_hash, r.size) for r in Library(library.path).records()] == [
        (a.id, a.content_hash, a.size) for a in articles
    ]
