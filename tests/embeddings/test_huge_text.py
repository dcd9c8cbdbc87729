"""Huge paragraphs: pysbd only ever sees bounded pieces (its cost per character grows with the
length it is given), sentences and chunks stay verbatim and bounded, nothing is dropped."""

from __future__ import annotations

import re

import pysbd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.models import Article
from embeddings import chunking
from embeddings.chunking import MAX_CHUNK_CHARS, MAX_SEGMENT_CHARS, Chunker, ChunkerSettings, bounded_pieces
from embeddings.encoder import Encoder
from tests.conftest import seed_text

PROSE = " ".join(seed_text().split())


def repeated(text: str, size: int) -> str:
    return (text * (size // len(text) + 1))[:size]


HUGE_PARAGRAPHS = {
    "prose": repeated(PROSE + " ", 60_000),
    "words without punctuation": repeated("council budget harbour ", 60_000),
    "no whitespace at all": "a" * 60_000,
    "Chinese, no spaces": repeated("港口工人周六复工。罢工持续了五天！", 30_000),
}


class RecordingSegmenter:
    """The real pysbd segmenter, remembering the length of every text it was given."""

    def __init__(self) -> None:
        self.segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
        self.lengths: list[int] = []

    def segment(self, text: str) -> list:
        self.lengths.append(len(text))
        return self.segmenter.segment(text)


@pytest.mark.parametrize("kind", HUGE_PARAGRAPHS)
def test_pysbd_only_sees_bounded_pieces_and_every_character_is_kept(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = RecordingSegmenter()
    monkeypatch.setattr(chunking, "_segmenter", lambda: recorder)
    body = "A short first paragraph.\n\n" + HUGE_PARAGRAPHS[kind] + "\n\nA short last paragraph."

    spans = chunking.sentence_spans(body)

    assert max(recorder.lengths) <= MAX_SEGMENT_CHARS
    assert spans == sorted(spans) and all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))
    assert re.sub(r"\s", "", "".join(body[start:end] for start, end in spans)) == re.sub(r"\s", "", body)


def test_huge_paragraphs_are_cut_at_sentence_ends_when_there_are_any() -> None:
    text = HUGE_PARAGRAPHS["prose"]

    pieces = bounded_pieces(text)

    assert len(pieces) > 60_000 // MAX_SEGMENT_CHARS
    for start, end in pieces[:-1]:
        assert text[start:end].rstrip().endswith((".", "”", '"', ")")), text[end - 40 : end]


@given(
    text=st.text(st.sampled_from("ab .!?\n。"), max_size=400),
    limit=st.integers(min_value=2, max_value=60),
)
@settings(max_examples=300, deadline=None)
def test_bounded_pieces_cover_the_text_exactly_within_the_limit(text: str, limit: int) -> None:
    pieces = bounded_pieces(text, limit)

    assert pieces[0][0] == 0 and pieces[-1][1] == len(text)
    assert all(end == next_start for (_, end), (next_start, _) in zip(pieces, pieces[1:]))
    assert all(0 < end - start <= limit for start, end in pieces if text)


@pytest.mark.parametrize("kind", HUGE_PARAGRAPHS)
def test_chunks_of_a_huge_paragraph_stay_within_tokens_and_characters(encoder: Encoder, kind: str) -> None:
    article = Article(id="huge", paragraphs=[HUGE_PARAGRAPHS[kind]])
    chunker = Chunker(encoder.tokenizer, ChunkerSettings())

    chunks = chunker.chunk(article)

    assert max(chunker.count_tokens([chunk.text for chunk in chunks])) <= ChunkerSettings().max_tokens
    assert max(len(chunk.text) for chunk in chunks) <= MAX_CHUNK_CHARS
    for chunk in chunks:
        assert article.body[chunk.start : chunk.end] == chunk.text
    assert chunks[0].start == 0 and chunks[-1].end == len(article.body)
    for earlier, later in zip(chunks, chunks[1:]):
        assert not article.body[earlier.end : later.start].strip(), "no text falls between two chunks"
