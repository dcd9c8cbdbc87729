"""Speed and scale of the index (issue 8): a synthetic corpus of N chunks, embedded with a model given by
BYLINE_MODEL (e.g. the tiny random model of benchmarks/tiny_model.py), through the real service.

    python benchmarks/tiny_model.py /tmp/tiny
    BYLINE_MODEL=/tmp/tiny python benchmarks/scale.py --chunks 100000 [--work /tmp/scale] [--questions 200]

The corpus is the 609 MultiHop-RAG articles copied until it holds about N chunks, each copy a new
article (id, title and a copy number in every paragraph, so no chunk text repeats). Prints, each with
the figure it is measured against in the same run:
- the build from scratch: seconds, the share spent in the model (the rest is Byline's own work);
- opening the index (the service's first search) and the resident memory of the serving process;
- `ask` (search and cited answer, question embedding included) p50/p99 over MultiHop-RAG dev
  questions, against embedding the question alone;
- adding one article (a new file, `reindex` through the service) and a reindex with nothing changed.
The work folder keeps the corpus and index, so a second run skips the build (--rebuild forces it).
The resident memory printed here is this process's, which may have built the index first: for a fresh
serving process (anonymous and file-backed memory apart) and adding one article, measured against another
checkout of Byline on the same index, see benchmarks/serving_cost.py.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import EVAL  # noqa: E402
from checkouts import ONE_MORE_FILE, write_one_more_article  # noqa: E402

from bot.service import Byline  # noqa: E402
from bot.settings import AnswerSettings, IndexSettings, load_section  # noqa: E402
from embeddings.indexer import BuildProgress  # noqa: E402


def synthetic_corpus(folder: Path, chunks: int, source: Path) -> int:
    """Write copies of the source articles (JSONL, one file per 500 articles) until about `chunks` chunks."""
    articles = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    per_article = 11.6  # chunks per MultiHop-RAG article at the default chunking
    wanted = max(1, round(chunks / per_article))
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    batch: list[str] = []
    while written < wanted:
        copy, article = divmod(written, len(articles))
        original = articles[article]
        body = "\n\n".join(f"{p} (copy {copy})" for p in original["body"].split("\n\n") if p.strip())
        record = {**original, "id": f"{original.get('id', article)}-{copy}", "title": f"{original['title']} ({copy})"}
        record["body"] = body
        batch.append(json.dumps(record, ensure_ascii=False))
        written += 1
        if len(batch) == 500 or written == wanted:
            (folder / f"part-{written:07d}.jsonl").write_text("\n".join(batch) + "\n", encoding="utf-8")
            batch = []
    return written


def progress_lines(every: float) -> Callable[[BuildProgress], None]:
    """A build progress callback printing one line at most every `every` seconds (a long build run with its
    output to a file shows where it is, and its memory)."""
    last = [0.0]

    def show(progress: BuildProgress) -> None:
        if progress.elapsed - last[0] < every:
            return
        last[0] = progress.elapsed
        print(
            f"  {progress.elapsed:,.0f} s {progress.stage}: articles chunked {progress.articles_chunked:,} of "
            f"{progress.articles_to_chunk:,}, chunks {progress.chunks_done:,} of about {progress.chunks_total:,} "
            f"({progress.chunks_embedded:,} through the model); resident memory {rss_mb():,.0f} MB",
            flush=True,
        )

    return show


def rss_mb() -> float:
    """Resident memory of this process now, in MB (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(share * len(ordered) + 0.999999) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/byline-scale"))
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    work = args.work / str(args.chunks)
    corpus, index = work / "corpus", work / "index"
    if args.rebuild and work.exists():
        shutil.rmtree(work)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    if not corpus.exists():
        count = synthetic_corpus(corpus, args.chunks, EVAL / "articles.jsonl")
        print(f"corpus: {count:,} articles in {corpus}")
    settings = load_section(IndexSettings, corpus_path=corpus, index_path=index)
    print(f"model: {settings.model}; vector store: {settings.vector_store}")

    if not (index / "CURRENT").exists():
        builder = Byline(settings, AnswerSettings(), with_library=False)
        builder.encoder.encode(["warm up"])
        started = time.perf_counter()
        outcome = builder.reindex(progress_lines(every=60.0))
        seconds = time.perf_counter() - started
        report = outcome.report
        print(
            f"build from scratch: {seconds:.1f} s for {report.chunks:,} chunks of {report.articles:,} articles "
            f"({report.chunks / seconds:.0f} chunks/s); in the model {report.embedding_seconds:.1f} s, "
            f"everything else (reading, chunking, BM25, writing) {seconds - report.embedding_seconds:.1f} s "
            f"= {1 - report.embedding_seconds / seconds:.1%} of the build"
        )
        builder.close()
        del builder

    byline = Byline(settings, AnswerSettings(), with_library=False)
    byline.encoder.encode(["warm up"])
    before = rss_mb()
    started = time.perf_counter()
    searcher = byline.searcher()
    opened = time.perf_counter() - started
    print(
        f"open: {opened:.2f} s for {searcher.snapshot.manifest.chunks:,} chunks in "
        f"{len(searcher.snapshot.segments)} segment(s) ({', '.join(s['search'] for s in searcher.snapshot.manifest.segments)})"
    )
    questions = [json.loads(line)["question"] for line in (EVAL / "dev-questions.jsonl").read_text().splitlines()]
    questions = questions[: args.questions]
    embed, ask = [], []
    for question in questions:
        started = time.perf_counter()
        byline.encoder.encode([question])
        embed.append(time.perf_counter() - started)
        started = time.perf_counter()
        byline.ask(question)
        ask.append(time.perf_counter() - started)
    p50, p99 = percentile(ask, 0.5) * 1000, percentile(ask, 0.99) * 1000
    e50 = statistics.median(embed) * 1000
    print(
        f"ask over {len(questions)} questions: p50 {p50:.1f} ms ({p50 / e50:.1f}x embedding the question alone, "
        f"{e50:.1f} ms), p99 {p99:.1f} ms"
    )
    print(f"serving process resident memory: {rss_mb():.0f} MB (model loaded: {before:.0f} MB before the index)")

    write_one_more_article(corpus)
    started = time.perf_counter()
    added = byline.reindex()
    add_seconds = time.perf_counter() - started
    print(
        f"add one article: {add_seconds:.2f} s ({len(added.report.added)} added, "
        f"{added.report.chunks_embedded} chunk embedded, {added.report.segments} segment(s))"
    )
    started = time.perf_counter()
    same = byline.reindex()
    noop = time.perf_counter() - started
    print(f"reindex with nothing changed: {noop:.2f} s ({same.report.unchanged:,} unchanged)")
    (corpus / ONE_MORE_FILE).unlink()
    byline.reindex()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
