"""Ingest speed, as ratios against baselines measured in the same run.

    python benchmarks/ingest.py [--articles FILE.jsonl] [--count N]

Serves N article pages built from the articles (default: the first 60 MultiHop-RAG articles in
../shared) from a local HTTP server on 127.0.0.1 and measures, each against the bare trafilatura
extraction of the same pages (the baseline: the work that cannot be avoided):
- fetching and extracting them through Byline's safe fetcher (robots.txt, address checks, pacing off);
- the duplicate check at ingest (MinHash signature + LSH query against every article of the file);
- the extra time a rebuild spends gathering the library besides the corpus folder (signatures cached).
Only loopback traffic; nothing is embedded.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from pytest_httpserver import HTTPServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus.dedup import NearDuplicates, signature_of  # noqa: E402
from corpus.fetch import Fetcher, FetchPolicy  # noqa: E402
from corpus.gather import gather_articles  # noqa: E402
from corpus.library import Library  # noqa: E402
from corpus.pages import page_article, page_text  # noqa: E402
from corpus.readers.html import extract_page  # noqa: E402
from corpus.urls import url_key  # noqa: E402
from tests.ingest.news_site import NewsSite, article_page  # noqa: E402

DEFAULT_ARTICLES = Path(__file__).resolve().parents[1].parent / "shared/eval/multihop-rag/articles.jsonl"


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=Path, default=DEFAULT_ARTICLES)
    parser.add_argument("--count", type=int, default=60)
    args = parser.parse_args()
    records = [json.loads(line) for line in args.articles.read_text(encoding="utf-8").splitlines() if line.strip()]
    sample = records[: args.count]

    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        site = NewsSite(server)
        urls = []
        for record in sample:
            path = f"/news/{record['id']}"
            urls.append(site.serve(path, article_page(record, canonical=site.url(path))))
        pages = [site.routes[f"/news/{r['id']}"].body for r in sample]

        _, baseline = timed(lambda: [extract_page(page, url) for page, url in zip(pages, urls)])
        fetcher = Fetcher(FetchPolicy("Byline-benchmark/0.1", allow_private=True, host_interval_seconds=0))
        articles, fetched = timed(lambda: [page_article(page_text(fetcher.get(u), 400), u, "") for u in urls])
        fetcher.close()
    finally:
        server.stop()

    corpus_signatures, sign_all = timed(lambda: [(r["id"], signature_of(r["body"])) for r in records])
    index = NearDuplicates()
    _, build = timed(index.add_all, corpus_signatures)
    _, check = timed(lambda: [index.closest(signature_of(a.body)) for a in articles])

    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus.jsonl"
        corpus.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
        library = Library(Path(folder) / "library.sqlite")
        for article in articles:
            library.store(article, "link", url_key(article.url), signature_of(article.body))
        _, folder_only = timed(gather_articles, corpus, None)
        _, first_gather = timed(gather_articles, corpus, library)
        _, cached_gather = timed(gather_articles, corpus, library)

    n = len(sample)
    print(f"{n} pages, {len(records)} articles to compare against")
    print(f"baseline: trafilatura extraction {baseline:.2f} s ({baseline / n * 1000:.1f} ms/page)")
    print(f"fetch + extract through the safe fetcher: {fetched:.2f} s = {fetched / baseline:.2f}x the baseline")
    print(
        f"duplicate check of {n} pages against {len(records)} articles: {check:.3f} s = {check / baseline:.3f}x "
        f"the baseline (signing all {len(records)}: {sign_all:.2f} s once, LSH build {build:.3f} s)"
    )
    print(
        f"rebuild gathering: folder alone {folder_only:.2f} s; folder + library {cached_gather:.2f} s with cached "
        f"signatures = {cached_gather / folder_only:.2f}x ({first_gather:.2f} s the first time)"
    )


if __name__ == "__main__":
    main()
