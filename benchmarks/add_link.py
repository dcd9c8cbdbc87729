"""Adding one link at archive scale (issue 8 target 2), end to end, for one or more checkouts of Byline on
the same work folder, each in a fresh process, the first being the baseline.

    BYLINE_MODEL=/tmp/tiny python benchmarks/add_link.py --work /tmp/addscale-work \\
        --code /path/to/baseline/checkout --code .

`--work` is a COPY of a folder made by benchmarks/scale.py (corpus/ and index/; the library is created
beside them): the adds are kept in the library and then removed again, and the records written there
change. For each checkout, a fresh process opens the service (library on), warms it up, serves article
pages from an HTTP server on 127.0.0.1 (http.server, in a thread) and adds one page at a time through the
ingest service the bot and the command line use (fetch, extract, duplicate check, store, reindex); each
added article is removed again (not timed) so every add meets the same index. The first add of a process
may record things once (corpus files, signatures), so the median of the later adds is the figure; the
time spent in `reindex` is given beside it, the rest being fetching, extracting and the duplicate check.
"""

from __future__ import annotations

import argparse
import html
import os
import random
import statistics
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from checkouts import run_in_checkout

WORDS = (
    "council harbour budget minister election court ruling company shares market inflation rates bank "
    "storm flood river bridge school teachers hospital nurses strike union talks agreement police report "
    "investigation museum festival railway station airport airline fuel prices energy wind solar farm "
    "drought water supply mayor city plan housing rents tenants landlords science study university "
    "researchers vaccine trial football club stadium coach season league title"
).split()


def article_page(number: int, nonce: str) -> tuple[str, str]:
    """A news page with about a dozen paragraphs of text no other page (or corpus article) shares."""
    rng = random.Random(f"{nonce}-{number}")
    title = f"Benchmark story {number}: " + " ".join(rng.choice(WORDS) for _ in range(6))
    paragraphs = []
    for _ in range(12):
        sentences = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 22))).capitalize() + "." for _ in range(4)
        ]
        paragraphs.append(" ".join(sentences))
    text = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} | Benchmark Gazette</title>
<meta property="og:title" content="{html.escape(title)}"><meta property="og:site_name" content="Benchmark Gazette">
<meta property="article:published_time" content="2023-12-20T10:00:00+00:00"></head>
<body><header><nav><a href="/">Home</a> <a href="/news">News</a></nav></header>
<main><article><h1>{html.escape(title)}</h1><p class="byline">By A. Reporter</p>
{text}
</article></main><footer>Benchmark Gazette</footer></body></html>"""
    return title, page


class Site:
    """Article pages on 127.0.0.1, served by http.server in a thread."""

    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = pages

        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                page = outer.pages.get(self.path)
                body = (page or "not found").encode()
                self.send_response(200 if page else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def timed_calls(owner: Any, name: str) -> list[float]:
    """Wrap owner.name so each call's seconds are appended to the returned list."""
    seconds: list[float] = []
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - started)

    setattr(owner, name, wrapper)
    return seconds


def rss_mb() -> float:
    """Resident memory of this process now, in MB (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def add_links(work_folder: str, adds: int) -> dict:
    """Run in the measured process (this checkout's code first on sys.path)."""
    work = Path(work_folder)
    from bot.ingest import IngestService
    from bot.service import Byline
    from bot.settings import AnswerSettings, FeedsSettings, FetchSettings, IndexSettings, load_section

    settings = load_section(IndexSettings, corpus_path=work / "corpus", index_path=work / "index")
    byline = Byline(settings, AnswerSettings())
    started = time.perf_counter()
    byline.warm_up()
    warm = time.perf_counter() - started
    service = IngestService(byline, FetchSettings(allow_private=True, host_interval_seconds=0.0), FeedsSettings())
    nonce = str(time.time_ns())
    site = Site({f"/news/{nonce}/{number}": article_page(number, nonce)[1] for number in range(adds)})
    reindex_seconds = timed_calls(byline, "reindex")
    rss_before = rss_mb()
    add_seconds, in_reindex = [], []
    try:
        for number in range(adds):
            url = site.url(f"/news/{nonce}/{number}")
            reindex_seconds.clear()
            started = time.perf_counter()
            result = service.add_links([url])
            add_seconds.append(time.perf_counter() - started)
            in_reindex.append(sum(reindex_seconds))
            added = result.added
            assert len(added) == 1 and result.index is not None, result.outcomes
            assert added[0].id in result.index.report.added, result.index.report
            service.remove(added[0].id)
    finally:
        site.close()
        service.close()
    return {
        "warm_up": warm,
        "adds": add_seconds,
        "in_reindex": in_reindex,
        "runtime": byline.encoder.runtime.value,
        "rss": [rss_before, rss_mb()],
    }


def measure(code: Path, work: Path, adds: int) -> dict:
    return run_in_checkout(code, "add_link", "add_links", str(work), adds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument(
        "--code", type=Path, action="append", required=True, help="a checkout; the first is the baseline"
    )
    parser.add_argument("--adds", type=int, default=6)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    baseline: float | None = None
    for code in args.code:
        found = measure(code.resolve(), args.work, args.adds)
        later = found["adds"][1:] or found["adds"]
        later_reindex = found["in_reindex"][1:] or found["in_reindex"]
        add, reindex = statistics.median(later), statistics.median(later_reindex)
        print(f"\n{code}: runtime {found['runtime']}; warm-up {found['warm_up']:.1f} s")
        print(f"  resident memory: {found['rss'][0]:.0f} MB after warm-up, {found['rss'][1]:.0f} MB after the adds")
        print(f"  add one link: {', '.join(f'{s:.2f}' for s in found['adds'])} s")
        print(
            f"  first {found['adds'][0]:.2f} s (reindex {found['in_reindex'][0]:.2f} s); median of the later "
            f"{add:.2f} s (reindex {reindex:.2f} s, fetch + extract + duplicate check + store {add - reindex:.2f} s)"
        )
        if baseline is None:
            baseline = add
        else:
            print(f"  against the baseline: add one link {add / baseline:.2f}x ({baseline:.2f} s -> {add:.2f} s)")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
