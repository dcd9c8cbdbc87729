"""Sentence-aware chunking bounded by the model's own token count, with character offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pysbd
from tokenizers import Tokenizer

from corpus.models import Article

_WORD_BOUNDARY = re.compile(r"\s+")
# pysbd's cost per character grows with the length of the text it is given (measured: about
# 15 us/char at 5,000 characters, 80 us/char at 40,000, hours for megabytes), so a paragraph
# longer than this is first cut into pieces of at most this many characters, at a sentence end
# if there is one in the second half of the piece, else at a space, else anywhere.
MAX_SEGMENT_CHARS = 5_000
_SENTENCE_END = re.compile(r"[.!?]['\"\u201d\u2019)\]]*\s+|[\u3002\uff01\uff1f]\s*")
# A chunk never spans more characters than this, even when its text is few tokens (a run of
# letters with no spaces is one unknown token however long); ordinary 254-token chunks are far below.
MAX_CHUNK_CHARS = 8_000


@dataclass(frozen=True)
class ChunkerSettings:
    """How articles are cut: at most `max_tokens` model tokens per chunk, `overlap_tokens` carried over."""

    max_tokens: int = 254
    overlap_tokens: int = 48


@dataclass(frozen=True)
class Chunk:
    """A verbatim slice `body[start:end]` of one article; `sentences` are its sentences' (start, end)
    offsets into `text` (the article's pysbd sentences, long ones cut at the token window), when known."""

    article_id: str
    index: int
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    tokens: int


class Chunker:
    """Packs whole sentences into chunks of at most `max_tokens` tokens, splitting only over-long sentences."""

    def __init__(self, tokenizer: Tokenizer, settings: ChunkerSettings) -> None:
        if settings.overlap_tokens >= settings.max_tokens:
            raise ValueError("overlap_tokens must be smaller than max_tokens")
        self._tokenizer = tokenizer
        self.settings = settings

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Token counts without special tokens and without any truncation."""
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]

    def chunk(self, article: Article) -> list[Chunk]:
        body = article.body
        spans = self._sentence_spans(body)
        groups = self._pack(spans)
        chunks = []
        for i, group in enumerate(groups):
            start, end = group[0].start, group[-1].end
            sentences = tuple((span.start - start, span.end - start) for span in group)
            chunks.append(Chunk(article.id, i, start, end, body[start:end], sentences))
        return chunks

    def _sentence_spans(self, body: str) -> list[_Span]:
        raw = [(s, e) for s, e in sentence_spans(body) if body[s:e].strip()]
        counts = self.count_tokens([body[s:e] for s, e in raw])
        spans: list[_Span] = []
        for (start, end), tokens in zip(raw, counts):
            if tokens <= self.settings.max_tokens:
                spans.append(_Span(start, end, tokens))
            else:
                spans.extend(self._split_long(body, start, end))
        return spans

    def _split_long(self, body: str, start: int, end: int) -> list[_Span]:
        """Cut a sentence longer than the window at word boundaries, by its token offsets."""
        encoding = self._tokenizer.encode(body[start:end], add_special_tokens=False)
        offsets = encoding.offsets
        limit = self.settings.max_tokens
        pieces: list[_Span] = []
        first = 0
        while first < len(offsets):
            last = min(first + limit, len(offsets)) - 1
            # Back off to a token that starts a word so no word is cut in two.
            while last + 1 < len(offsets) and last > first and not _starts_word(body, start, offsets[last + 1][0]):
                last -= 1
            pieces.append(_Span(start + offsets[first][0], start + offsets[last][1], last - first + 1))
            first = last + 1
        return pieces

    def _pack(self, spans: list[_Span]) -> list[list[_Span]]:
        limit, overlap = self.settings.max_tokens, self.settings.overlap_tokens
        groups: list[list[_Span]] = []
        current: list[_Span] = []
        for span in spans:
            if current and (_total(current) + span.tokens > limit or span.end - current[0].start > MAX_CHUNK_CHARS):
                groups.append(current)
                current = _tail_within(current, overlap, limit - span.tokens)
                while current and span.end - current[0].start > MAX_CHUNK_CHARS:
                    current = current[1:]
            current = current + [span]
        if current:
            groups.append(current)
        return groups


def _total(spans: list[_Span]) -> int:
    return sum(s.tokens for s in spans)


def _tail_within(spans: list[_Span], overlap: int, room: int) -> list[_Span]:
    """The last sentences of a chunk that fit in the overlap budget (and beside the next sentence)."""
    tail: list[_Span] = []
    for span in reversed(spans):
        if _total(tail) + span.tokens > min(overlap, room):
            break
        tail.insert(0, span)
    return tail


def _starts_word(body: str, base: int, offset: int) -> bool:
    position = base + offset
    return position == 0 or body[position - 1].isspace()


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def sentence_spans(body: str) -> list[tuple[int, int]]:
    """Sentence spans of the body, paragraph by paragraph, trimmed of surrounding whitespace.

    Paragraphs longer than MAX_SEGMENT_CHARS are cut into bounded pieces first, so the cost per
    character stays bounded however long a paragraph is.
    """
    spans: list[tuple[int, int]] = []
    position = 0
    for paragraph in body.split("\n\n"):
        for piece_start, piece_end in bounded_pieces(paragraph):
            for piece in _segmenter().segment(paragraph[piece_start:piece_end]):
                start = position + piece_start + piece.start
                end = position + piece_start + piece.end
                text = body[start:end]
                start += len(text) - len(text.lstrip())
                end -= len(text) - len(text.rstrip())
                if end > start:
                    spans.append((start, end))
        position += len(paragraph) + 2
    return spans


def bounded_pieces(text: str, limit: int = MAX_SEGMENT_CHARS) -> list[tuple[int, int]]:
    """(start, end) pieces covering text, each at most `limit` characters, cut where a sentence
    ends if one does in the second half of the piece, else after a space, else at the limit."""
    pieces: list[tuple[int, int]] = []
    start = 0
    while len(text) - start > limit:
        end = _cut_point(text, start + limit // 2, start + limit) or start + limit
        pieces.append((start, end))
        start = end
    pieces.append((start, len(text)))
    return pieces


def _cut_point(text: str, earliest: int, latest: int) -> int | None:
    """The last sentence end (else space) ending in text[earliest:latest], as the offset after it."""
    for pattern in (_SENTENCE_END, _WORD_BOUNDARY):
        last = None
        for last in pattern.finditer(text, earliest, latest):  # noqa: B007 - only the last match is wanted
            pass
        if last is not None:
            return last.end()
    return None
