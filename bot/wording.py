"""Counts in words, for the CLI and Discord: "1 article", "2 articles", "3/1,204 articles"."""

from __future__ import annotations

from embeddings.indexer import BuildReport


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
