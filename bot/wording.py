"""Counts in words, for the CLI and Discord: "1 article", "2 articles", "3/1,204 articles"."""

from __future__ import annotations

from embeddings.indexer import BuildProgress, BuildReport


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """`number` with `noun`, singular for exactly one, thousands separated: "1 chunk", "1,204 chunks"."""
    word = noun if number == 1 else (plural or f"{noun}s")
    return f"{number:,} {word}"


def progress(done: int, total: int, noun: str) -> str:
    """How far through `total` things: "0/1 article", "3/12 articles"."""
    return f"{done:,}/{counted(total, noun)}"


def report_line(report: BuildReport) -> str:
    """What a build did, in one line: "3 articles, 9 chunks: 1 added, … 2 chunks embedded in 1.2 s"."""
    return (
        f"{counted(report.articles, 'article')}, {counted(report.chunks, 'chunk')}: {len(report.added):,} added, "
        f"{len(report.changed):,} changed, {len(report.removed):,} removed, {report.unchanged:,} unchanged; "
        f"{counted(report.chunks_embedded, 'chunk')} embedded in {report.seconds:.1f} s"
    )


def build_progress_line(build: BuildProgress) -> str:
    """Where a build is, in one line: what was read, chunked and embedded, how fast, and how long is left."""
    if build.stage == "reading":
        return f"reading the corpus: {counted(build.articles_read, 'article')} read"
    parts = [f"{progress(build.articles_done, build.articles_total, 'article')} done"]
    if build.articles_to_chunk:
        parts.append(f"{build.articles_chunked:,}/{build.articles_to_chunk:,} chunked")
    parts.append(f"{progress(build.chunks_done, build.chunks_total, 'chunk')} embedded")
    rates = f"{build.articles_per_second:.1f} articles/s, {build.chunks_per_second:.1f} chunks/s"
    eta = build.eta_seconds
    if build.stage == "writing":
        return ", ".join(parts) + f"; {rates}; writing the index"
    return ", ".join(parts) + f"; {rates}" + (f"; about {_duration(eta)} left" if eta is not None else "")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
