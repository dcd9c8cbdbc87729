"""What a library of N fetched articles costs every reindex (gathering the articles) and every add (the
duplicate check's refresh), for one or more checkouts of Byline, each in a fresh process, the first being
the baseline.

    python benchmarks/library_scale.py --work /tmp/libscale-work --articles 8621 \\
        --code /path/to/baseline/checkout --code .

At archive scale the library IS the archive (a newsroom's feeds): 8,621 articles of about 800 words make an
index of 100k chunks, 86,207 one of 1M. The library is written once into `--work` (library.sqlite, by the
baseline checkout, through its own SQLite schema; an empty corpus folder beside it), articles of distinct
random text (benchmarks/add_link.py's words), and reused by later runs with the same N. For each checkout,
a first process uses the library once (a checkout that keeps per-article records writes them then, once
per file: reported, not compared), then a fresh process times
- gather_articles with the library (what each reindex runs before the index build): its first call in the
  process, its second, and a third after one more article was stored (what adding one link costs);
- the duplicate-check refresh each add runs first (Ingestor._refresh): first, second, and after one more
  article was stored by another Library on the same file (the CLI beside the bot).
The article stored is removed again afterwards, so each checkout meets the same library. No model or index.
"""

from __future__ import annotations

import argparse
import inspect
import os
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from add_link import WORDS
from checkouts import run_in_checkout

ADDED_ID = "library-scale-one-more"


def paragraphs(seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 22))).capitalize() + "." for _ in range(4))
        for _ in range(12)
    ]


def write_library(work_folder: str, articles: int) -> dict:
    """Run in the baseline's process: a library of `articles` fetched articles, written as that code writes
    its rows (one transaction per thousand articles)."""
    from corpus.dedup import signature_of
    from corpus.library import Library
    from corpus.models import Article

    work = Path(work_folder)
    (work / "corpus").mkdir(parents=True, exist_ok=True)
    library = Library(work / "library.sqlite")
    library.has_articles()  # creates the file and its schema
    started = time.perf_counter()
    for first in range(0, articles, 1000):
        rows = []
        for number in range(first, min(first + 1000, articles)):
            article = Article(
                id=f"lib-{number}",
                title=f"Story {number}",
                outlet="Benchmark Gazette",
                url=f"https://gazette.example/{number}",
                paragraphs=paragraphs(number),
            )
            added = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=number)).isoformat()
            rows.append(
                (
                    article.id,
                    "",
                    f"gazette.example/{number}",
                    article.model_dump_json(),
                    signature_of(article.body),
                    added,
                )
            )
        with library._connect(write=True) as db:
            db.executemany(
                "INSERT INTO articles (id, tenant, url_key, origin, feed_key, data, signature, added_at) "
                "VALUES (?, ?, ?, 'link', NULL, ?, ?, ?)",
                rows,
            )
    return {"seconds": time.perf_counter() - started}


def first_use(work_folder: str) -> dict:
    """Run once per checkout before the measured process: what using the file the first time costs."""
    from corpus.gather import gather_articles
    from corpus.library import Library

    work = Path(work_folder)
    started = time.perf_counter()
    gathered = gather_articles(work / "corpus", Library(work / "library.sqlite"))
    return {"seconds": time.perf_counter() - started, "articles": len(gathered.articles)}


def measured(work_folder: str) -> dict:
    """Run in the measured process (this checkout's code first on sys.path)."""
    from bot.settings import FetchSettings
    from corpus.corpus_stories import CorpusStories
    from corpus.dedup import signature_of
    from corpus.fetch import Fetcher
    from corpus.gather import gather_articles, load_corpus_articles
    from corpus.ingest import Ingestor, IngestPolicy
    from corpus.library import Library
    from corpus.models import Article

    work = Path(work_folder)
    corpus, library = work / "corpus", Library(work / "library.sqlite")
    kept: dict = {"stories": CorpusStories()}  # kept between calls as bot/service.py's Byline keeps them
    if "folds" in inspect.signature(gather_articles).parameters:
        from corpus.library_folds import LibraryFolds

        kept["folds"] = LibraryFolds()

    def gather() -> tuple[float, int]:
        started = time.perf_counter()
        gathered = gather_articles(corpus, library, **kept)
        return time.perf_counter() - started, len(gathered.articles)

    fetcher = Fetcher(FetchSettings().policy())
    ingestor = Ingestor(library, fetcher, IngestPolicy(), lambda: load_corpus_articles(corpus), kept["stories"])

    def refresh() -> float:
        started = time.perf_counter()
        ingestor._refresh()
        return time.perf_counter() - started

    def store_one() -> None:
        article = Article(
            id=ADDED_ID, title="One more", url="https://gazette.example/one-more", paragraphs=paragraphs(-1)
        )
        other = Library(library.path)  # as another process (the CLI beside the bot) would
        other.store(article, "link", "gazette.example/one-more", signature_of(article.body))

    found: dict = {}
    try:
        (first, count), (second, _) = gather(), gather()
        store_one()
        third, after = gather()
        found["gather"] = [first, second, third]
        found["articles"] = [count, after]
        library.remove_articles([ADDED_ID], suppress=False)
        found["refresh"] = [refresh(), refresh()]
        store_one()
        found["refresh"].append(refresh())
    finally:
        library.remove_articles([ADDED_ID], suppress=False)
        fetcher.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--articles", type=int, default=8621)
    parser.add_argument(
        "--code", type=Path, action="append", required=True, help="a checkout; the first is the baseline"
    )
    args = parser.parse_args()
    work = args.work.resolve()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    library_file = work / "library.sqlite"
    if not _has_articles(library_file, args.articles):
        if library_file.exists():
            raise SystemExit(f"{library_file} holds another number of articles: use another --work folder.")
        written = run_in_checkout(
            args.code[0].resolve(), "library_scale", "write_library", str(work), args.articles, prepare=False
        )
        print(f"wrote {args.articles:,} articles in {written['seconds']:.0f} s")
    print(f"library: {args.articles:,} articles, {library_file.stat().st_size / 1e6:,.0f} MB")
    baseline: dict | None = None
    for code in args.code:
        code = code.resolve()
        once = run_in_checkout(code, "library_scale", "first_use", str(work), prepare=False)
        found = run_in_checkout(code, "library_scale", "measured", str(work), prepare=False)
        print(f"\n{code}: first use of the file {once['seconds']:.2f} s ({once['articles']:,} articles)")
        for name, label in (("gather", "gather (reindex)"), ("refresh", "duplicate-check refresh (add)")):
            first, second, after = found[name]
            line = f"  {label}: first {first:.3f} s, second {second:.3f} s, after one more stored {after:.3f} s"
            if baseline is not None:
                ratios = [new / old for new, old in zip(found[name], baseline[name], strict=True)]
                line += " | against the baseline " + ", ".join(f"{r:.3f}x" for r in ratios)
            print(line)
        baseline = baseline or found
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def _has_articles(path: Path, articles: int) -> bool:
    if not path.exists():
        return False
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT count(*) FROM articles").fetchone()[0] == articles
    finally:
        db.close()


if __name__ == "__main__":
    main()
