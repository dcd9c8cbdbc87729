"""Where the answer composer gets each retrieved chunk's sentences and their vectors.

The composer never decides how sentence vectors are made: a `SentenceSource` hands them over.
`EncodedSentences` splits and embeds at question time (the reference); `StoredSentences` reads the
sentence vectors the index computed at build time from each chunk's own forward pass (float16,
memory-mapped), so a question costs no model time beyond embedding the question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from embeddings.chunking import sentence_spans
from embeddings.encoder import Encoder
from embeddings.search import SearchResult
from embeddings.store import IndexSnapshot


@dataclass(frozen=True)
class ChunkSentences:
    """The sentences of one retrieved chunk: (start, end) offsets into `chunk.text`, and one unit
    vector per sentence, in the same order (shape (len(spans), dimension), float32); `in_context`: the
    vectors were pooled from the chunk's own forward pass, so each carries some of its neighbours' meaning."""

    spans: list[tuple[int, int]]
    vectors: np.ndarray
    in_context: bool = False


class SentenceSource(Protocol):
    def sentences(self, results: Sequence[SearchResult]) -> list[ChunkSentences]:
        """One ChunkSentences per result, in the order given."""
        ...


class EncodedSentences:
    """Splits each chunk into sentences (pysbd) and embeds them now, all in one batch."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    def sentences(self, results: Sequence[SearchResult]) -> list[ChunkSentences]:
        spans = [sentence_spans(result.chunk.text) for result in results]
        texts = [result.chunk.text[start:end] for result, mine in zip(results, spans) for start, end in mine]
        vectors = self.encoder.encode(texts)
        out: list[ChunkSentences] = []
        first = 0
        for mine in spans:
            out.append(ChunkSentences(mine, vectors[first : first + len(mine)]))
            first += len(mine)
        return out


class StoredSentences:
    """The sentences and vectors an index generation stores for each of its chunks."""

    def __init__(self, snapshot: IndexSnapshot) -> None:
        self.snapshot = snapshot

    def sentences(self, results: Sequence[SearchResult]) -> list[ChunkSentences]:
        out: list[ChunkSentences] = []
        for result in results:
            segment, local = self.snapshot.locate(result.row)
            spans, vectors = segment.sentences(local)
            out.append(ChunkSentences([(int(a), int(b)) for a, b in spans], vectors, in_context=True))
        return out
