"""Counts in words, for the CLI and Discord: "1 article", "2 articles", "3/1,204 articles"."""

from __future__ import annotations


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """`number` with `noun`, singular for exactly one, thousands separated: "1 chunk", "1,204 chunks"."""
    word = noun if number == 1 else (plural or f"{noun}s")
    return f"{number:,} {word}"


def progress(done: int, total: int, noun: str) -> str:
    """How far through `total` things: "0/1 article", "3/12 articles"."""
    return f"{done:,}/{counted(total, noun)}"
