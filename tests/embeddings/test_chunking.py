"""Chunks stay within the model's window, are sentence-aligned, overlap, and quote the body verbatim."""

from __future__ import annotations

import pytest

from corpus.models import Article
from corpus.readers.scraped import parse_scraped
from embeddings.chunking import Chunker, ChunkerSettings, sentence_spans
from embeddings.encoder import Encoder
from tests.conftest import seed_text


@pytest.fixture(scope="module")
def seed_article() -> Article:
    return parse_scraped(seed_text(), "seed")


def long_article() -> Article:
    sentences = [
        f"Sentence number {i} reports that the council met on day {i} to discuss budget item {i * 7}."
        for i in range(120)
    ]
    paragraphs = [" ".join(sentences[i : i + 6]) for i in range(0, 120, 6)]
    return Article(id="long", paragraphs=paragraphs)


def test_chunks_fit_the_window_counted_by_the_model_tokenizer(encoder: Encoder) -> None:
    chunker = Chunker(encoder.tokenizer, ChunkerSettings(max_tokens=encoder.max_tokens, overlap_tokens=32))
    chunks = chunker.chunk(long_article())
    counts = chunker.count_tokens([c.text for c in chunks])
    assert len(chunks) > 5
    assert max(counts) <= encoder.max_tokens == 254
    # Packed close to the window, not cut at the tokenizer file's 128-token truncation.
    assert max(counts) > 200


def test_chunks_are_verbatim_slices_with_offsets(encoder: Encoder, seed_article: Article) -> None:
    chunker = Chunker(encoder.tokenizer, ChunkerSettings(max_tokens=120, overlap_tokens=30))
    chunks = chunker.chunk(seed_article)
    body = seed_article.body
    assert len(chunks) >= 6
    for chunk in chunks:
        assert body[chunk.start : chunk.end] == chunk.text
    assert "Baqeri also proposed joint drills with Iraq" in "".join(c.text for c in chunks)
    assert chunks[0].start == 0 and chunks[-1].end == len(body)


def test_chunks_end_on_sentence_boundaries_and_overlap(encoder: Encoder, seed_article: Article) -> None:
    chunker = Chunker(encoder.tokenizer, ChunkerSettings(max_tokens=120, overlap_tokens=60))
    chunks = chunker.chunk(seed_article)
    ends = {seed_article.body.find(seed_article.body[s:e]) + (e - s) for s, e in sentence_spans(seed_article.body)}
    assert all(c.end in ends for c in chunks)
    overlapping = [a for a, b in zip(chunks, chunks[1:]) if b.start < a.end]
    assert overlapping, "consecutive chunks should share a sentence"


def test_a_sentence_longer_than_the_window_is_split_at_word_boundaries(encoder: Encoder) -> None:
    words = " ".join(f"word{i}" for i in range(600))
    article = Article(id="run-on", paragraphs=[words + "."])
    chunker = Chunker(encoder.tokenizer, ChunkerSettings(max_tokens=100, overlap_tokens=0))
    chunks = chunker.chunk(article)
    assert len(chunks) >= 6
    assert max(chunker.count_tokens([c.text for c in chunks])) <= 100
    for chunk in chunks:
        assert chunk.text.split()[0].startswith("word") and article.body[chunk.start : chunk.end] == chunk.text
    covered = " ".join(c.text for c in chunks).split()
    assert covered == article.body.split()


def test_overlap_must_be_smaller_than_chunk(encoder: Encoder) -> None:
    with pytest.raises(ValueError, match="overlap"):
        Chunker(encoder.tokenizer, ChunkerSettings(max_tokens=50, overlap_tokens=50))
