"""BM25 over the chunks of one index segment, with bm25s: its tokenizer (English stop words, Snowball
stemmer), its index format (saved with the segment, loaded memory-mapped) and its query scoring.

The term weights themselves are computed here, vectorised, from each chunk's cached token ids: bm25s
builds them in a Python loop per document (7 s for 100,000 chunks, measured), and a segment added to an
index must be weighted with the statistics of the segment it joins (document count, average length,
document frequencies), so that its scores and the base's are one ranking. The weights are bm25s's
Lucene variant exactly (a test compares them with bm25s's own index).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from corpus.models import Article
from embeddings.chunking import Chunk
from embeddings.files import NPY_READS, fsync_tree, load_npy, write_file, write_npy

K1 = 1.5
B = 0.75
PAIR_BLOCK = 8_192  # chunks whose distinct tokens are counted at once (about 45 MB of work at 250 tokens a chunk)
WEIGHT_BLOCK = 1 << 20  # (chunk, token) pairs weighed at once


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def lexical_header(article: Article) -> str:
    """The "title · outlet · author · date" line indexed for BM25 with every chunk of an article."""
    day = article.published.strftime("%B %-d, %Y") if article.published else ""
    return " · ".join(part for part in (article.title, article.outlet, article.author, day) if part)


def lexical_text(article: Article, text: str) -> str:
    """What BM25 indexes for one chunk of `article`: its header line, then the chunk's text."""
    return f"{lexical_header(article)}\n{text}"


def ragged(first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the concatenated ranges first[i]:last[i], and the offsets of each range in them."""
    lengths = (np.asarray(last) - np.asarray(first)).astype(np.int64)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    positions = np.repeat(np.asarray(first) - offsets[:-1], lengths) + np.arange(offsets[-1])
    return positions.astype(np.int64), offsets


HEADER = -1  # the sentence number of a chunk's header tokens


@dataclass(frozen=True)
class ChunkTokens:
    """One chunk's BM25 tokens in order (its header line's, then its text's) and each token's sentence."""

    words: list[str]
    sentences: list[int]


def chunk_tokens(article: Article, chunks: list[Chunk]) -> list[ChunkTokens]:
    """The BM25 tokens of each chunk of `article`: those of `lexical_text`, tokenized sentence by sentence
    (the text cut where each of its sentences starts, so every word is in exactly one piece)."""
    pieces = [_sentence_pieces(chunk) for chunk in chunks]
    tokenized = lexical_tokens([lexical_header(article), *(piece for mine in pieces for piece in mine)])
    header, rest = tokenized[0], iter(tokenized[1:])
    found = []
    for mine in pieces:
        words, sentences = list(header), [HEADER] * len(header)
        for number in range(len(mine)):
            piece = next(rest)
            words += piece
            sentences += [number] * len(piece)
        found.append(ChunkTokens(words, sentences))
    return found


def _sentence_pieces(chunk: Chunk) -> list[str]:
    starts = sorted({min(max(start, 0), len(chunk.text)) for start, _ in chunk.sentences} | {0})
    bounds = [*starts, len(chunk.text)]
    return [chunk.text[a:b] for a, b in zip(bounds, bounds[1:]) if b > a] or [""]


def lexical_tokens(texts: list[str]) -> list[list[str]]:
    """Each text's stemmed content words, as BM25 indexes and queries them."""
    if not texts:
        return []
    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


@dataclass
class TokenTable:
    """Token ids of many chunks, flat: chunk i's are `flat[offsets[i]:offsets[i + 1]]`, ids into `vocabulary`;
    `sentences[j]` is the number of token j's sentence in its chunk (`HEADER`: the header line's tokens)."""

    vocabulary: list[str]
    flat: np.ndarray
    offsets: np.ndarray
    sentences: np.ndarray  # int16, beside `flat`

    @classmethod
    def of(cls, tokens: list[ChunkTokens]) -> TokenTable:
        builder = TokenTableBuilder()
        builder.add(tokens)
        return builder.table()

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def take(self, rows: np.ndarray) -> TokenTable:
        """The token ids of these chunks (same vocabulary)."""
        positions, offsets = ragged(self.offsets[rows], self.offsets[rows + 1])
        flat = np.asarray(self.flat[positions], dtype=np.int32)
        return TokenTable(self.vocabulary, flat, offsets, np.asarray(self.sentences[positions], dtype=np.int16))

    @classmethod
    def concatenate(cls, tables: list[TokenTable]) -> TokenTable:
        """One table of all these chunks, over the union of the vocabularies."""
        vocabulary: dict[str, int] = {}
        flats, lengths = [], []
        for table in tables:
            mapping = np.array([vocabulary.setdefault(t, len(vocabulary)) for t in table.vocabulary], dtype=np.int32)
            flats.append(mapping[np.asarray(table.flat)] if len(table.flat) else np.zeros(0, dtype=np.int32))
            lengths.append(np.diff(table.offsets))
        offsets = np.zeros(sum(len(x) for x in lengths) + 1, dtype=np.int64)
        if lengths:
            np.cumsum(np.concatenate(lengths), out=offsets[1:])
        flat = np.concatenate(flats) if flats else np.zeros(0, dtype=np.int32)
        sentences = np.concatenate([np.asarray(t.sentences) for t in tables]) if tables else np.zeros(0, np.int16)
        return cls(list(vocabulary), flat.astype(np.int32), offsets, sentences.astype(np.int16, copy=False))

    def save(self, folder: Path) -> None:
        write_npy(folder / "tokens.npy", self.flat)
        write_npy(folder / "token_offsets.npy", self.offsets)
        write_npy(folder / "token_sentences.npy", self.sentences)
        write_file(folder / "vocabulary.json", json.dumps(self.vocabulary, ensure_ascii=False).encode("utf-8"))

    @classmethod
    def open(cls, folder: Path) -> TokenTable:
        vocabulary = json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
        return cls(vocabulary, *SentenceTokens.open(folder).arrays())

    def average_sentence_length(self) -> float:
        """Tokens per sentence, over the sentences (runs of one sentence number) that have tokens."""
        return _average_sentence_length(np.asarray(self.sentences))


class TokenTableBuilder:
    """A TokenTable built chunk by chunk as chunks stream in, each chunk's tokens kept as int32 ids: a
    million chunks' tokens held as Python strings until the end cost about 7 GB."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self._ids: list[np.ndarray] = []
        self._sentences: list[np.ndarray] = []
        self._lengths: list[int] = []

    def add(self, tokens: list[ChunkTokens]) -> None:
        """Append these chunks' tokens (in order)."""
        index = self._index
        ids = [index.setdefault(token, len(index)) for chunk in tokens for token in chunk.words]
        self._ids.append(np.asarray(ids, dtype=np.int32))
        self._sentences.append(np.asarray([n for chunk in tokens for n in chunk.sentences], dtype=np.int16))
        self._lengths.extend(len(chunk.words) for chunk in tokens)

    def table(self) -> TokenTable:
        offsets = np.zeros(len(self._lengths) + 1, dtype=np.int64)
        np.cumsum(self._lengths, out=offsets[1:])
        flat = np.concatenate(self._ids) if self._ids else np.zeros(0, dtype=np.int32)
        sentences = np.concatenate(self._sentences) if self._sentences else np.zeros(0, dtype=np.int16)
        return TokenTable(list(self._index), flat.astype(np.int32, copy=False), offsets, sentences)


@dataclass(frozen=True)
class SentenceTokens:
    """A segment's token ids, offsets and sentence numbers, memory-mapped: what scoring sentences reads."""

    flat: np.ndarray
    offsets: np.ndarray
    sentences: np.ndarray
    average_length: float  # tokens per sentence, over the segment

    @classmethod
    def open(cls, folder: Path, average_length: float = 0.0) -> SentenceTokens:
        return cls(
            load_npy(folder / "tokens.npy"),
            load_npy(folder / "token_offsets.npy"),
            load_npy(folder / "token_sentences.npy"),
            average_length,
        )

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.flat, self.offsets, self.sentences

    def best_sentence_scores(
        self, rows: np.ndarray, ids: np.ndarray, idf: np.ndarray, average_length: float
    ) -> np.ndarray:
        """For each of these chunks, the BM25 score of its best sentence for the query's distinct token ids
        `ids` (ascending), weighted by `idf`, sentence lengths against `average_length`: passages holding the
        asked-for words in one sentence, as evidence does, above passages where they are scattered."""
        if not len(rows) or not len(ids):
            return np.zeros(len(rows))
        positions, offsets = ragged(self.offsets[rows], self.offsets[rows + 1])
        if not len(positions):
            return np.zeros(len(rows))
        tokens = np.asarray(self.flat[positions], dtype=np.int64)
        sentences = np.asarray(self.sentences[positions], dtype=np.int64)
        owners = np.repeat(np.arange(len(rows)), np.diff(offsets))
        body = sentences >= 0
        width = int(sentences.max()) + 1 if body.any() else 1
        keys = owners * width + sentences
        sentence_lengths = np.bincount(keys[body], minlength=len(rows) * width)
        term = np.minimum(np.searchsorted(ids, tokens), len(ids) - 1)
        matched = body & (ids[term] == tokens)
        pairs, frequency = np.unique(keys[matched] * len(ids) + term[matched], return_counts=True)
        sentence, term = pairs // len(ids), pairs % len(ids)
        norm = K1 * ((1 - B) + B * sentence_lengths[sentence] / (average_length or 1.0))
        weights = idf[term] * frequency / (norm + frequency)
        per_sentence = np.bincount(sentence, weights=weights, minlength=len(rows) * width)
        return per_sentence.reshape(len(rows), width).max(axis=1)


def _average_sentence_length(sentences: np.ndarray) -> float:
    body = sentences >= 0
    starts = np.count_nonzero(body[1:] & (sentences[1:] != sentences[:-1])) + int(bool(len(body)) and body[0])
    return float(np.count_nonzero(body)) / starts if starts else 0.0


@dataclass(frozen=True)
class LexicalStats:
    """What BM25 weights depend on besides a chunk's own tokens."""

    documents: int
    average_length: float
    frequencies: dict[str, int]  # documents containing each token

    @classmethod
    def of(cls, tokens: TokenTable) -> LexicalStats:
        counts = np.zeros(len(tokens.vocabulary), dtype=np.int64)
        for _, token, _ in _pair_blocks(tokens):
            counts += np.bincount(token, minlength=len(tokens.vocabulary))
        lengths = np.diff(tokens.offsets)
        average = float(lengths.mean()) if len(lengths) else 0.0
        return cls(len(tokens), average, {t: int(c) for t, c in zip(tokens.vocabulary, counts)})


def _pair_blocks(tokens: TokenTable) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(chunk, token, count) for every distinct token of every chunk, ordered by chunk then token, as int32
    arrays, `PAIR_BLOCK` chunks at a time: the sort that finds them holds about 40 bytes a token, so it
    runs over one block of chunks, not the corpus (gigabytes at archive scale)."""
    size = max(len(tokens.vocabulary), 1)
    for start in range(0, len(tokens), PAIR_BLOCK):
        stop = min(start + PAIR_BLOCK, len(tokens))
        lengths = np.diff(tokens.offsets[start : stop + 1])
        docs = np.repeat(np.arange(start, stop, dtype=np.int64), lengths)
        flat = np.asarray(tokens.flat[tokens.offsets[start] : tokens.offsets[stop]], dtype=np.int64)
        keys, counts = np.unique(docs * size + flat, return_counts=True)
        yield (keys // size).astype(np.int32), (keys % size).astype(np.int32), counts.astype(np.int32)


def _pairs(tokens: TokenTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (chunk, token, count) of `_pair_blocks`, in one array each."""
    blocks = list(_pair_blocks(tokens))
    if not blocks:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int32)
    doc, token, count = (np.concatenate(parts) for parts in zip(*blocks))
    return doc, token, count


def build_bm25(tokens: TokenTable, stats: LexicalStats, k1: float = K1, b: float = B) -> bm25s.BM25:
    """A bm25s index of these chunks weighted with `stats` (Lucene idf and term-frequency saturation, as
    bm25s computes them); a token `stats` does not know counts the chunks here that hold it."""
    doc, token, tf = _pairs(tokens)
    local_df = np.bincount(token, minlength=len(tokens.vocabulary))
    df = np.array(
        [stats.frequencies.get(t, int(local_df[i])) for i, t in enumerate(tokens.vocabulary)], dtype=np.float64
    )
    documents = max(stats.documents, 1)
    idf = np.log(1 + (documents - df + 0.5) / (df + 0.5))
    lengths = np.diff(tokens.offsets).astype(np.float64)
    average = stats.average_length or 1.0
    weights = np.empty(len(token), dtype=np.float32)
    for start in range(0, len(token), WEIGHT_BLOCK):  # in float64 as one array would, a block at a time
        block = slice(start, start + WEIGHT_BLOCK)
        frequency = tf[block].astype(np.float64)
        norm = k1 * ((1 - b) + b * lengths[doc[block]] / average)
        weights[block] = idf[token[block]] * frequency / (norm + frequency)
    order = np.argsort(token, kind="stable")
    indptr = np.zeros(len(tokens.vocabulary) + 1, dtype=np.int64)
    np.cumsum(np.bincount(token, minlength=len(tokens.vocabulary)), out=indptr[1:])
    retriever = bm25s.BM25(k1=k1, b=b)
    retriever.scores = {
        "data": weights[order],
        "indices": doc[order],
        "indptr": indptr,
        "num_docs": len(tokens),
    }
    retriever.vocab_dict = {t: i for i, t in enumerate(tokens.vocabulary)}
    retriever.unique_token_ids_set = set(retriever.vocab_dict.values())
    retriever.nonoccurrence_array = None
    return retriever


def save_bm25(retriever: bm25s.BM25, folder: Path, stats: LexicalStats, own: bool) -> None:
    """Save the index (and, for a segment weighted by its own statistics, those statistics)."""
    retriever.save(str(folder), show_progress=False)
    if own:
        vocabulary = list(retriever.vocab_dict)
        write_npy(folder / "frequencies.npy", np.array([stats.frequencies.get(t, 0) for t in vocabulary], np.int64))
        summary = {"documents": stats.documents, "average_length": stats.average_length}
        write_file(folder / "stats.json", json.dumps(summary).encode("utf-8"))
    fsync_tree(folder)


def load_bm25(folder: Path) -> bm25s.BM25:
    with NPY_READS:  # bm25s reads .npy files with numpy: see NPY_READS
        return bm25s.BM25.load(str(folder), mmap=True, show_progress=False)


def load_stats(folder: Path, retriever: bm25s.BM25) -> LexicalStats:
    summary = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
    counts = load_npy(folder / "frequencies.npy")
    return LexicalStats(
        int(summary["documents"]),
        float(summary["average_length"]),
        {t: int(counts[i]) for t, i in retriever.vocab_dict.items() if i < len(counts)},
    )


def query_ids(retriever: bm25s.BM25, words: list[str]) -> list[int]:
    vocabulary = retriever.vocab_dict
    return [vocabulary[w] for w in words if w in vocabulary]


def sentence_query(own: bm25s.BM25, base: bm25s.BM25, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ids of these words in `own`'s vocabulary (ascending) and each one's idf as `own`'s BM25
    weights are computed: with the statistics of `base`, the segment whose statistics weigh every segment of
    the generation (a word `base` lacks: by `own`'s document frequency). A small segment added to a large
    index thus weighs a word as the large one does."""
    local = {own.vocab_dict[w]: w for w in words if w in own.vocab_dict}
    ids = np.array(sorted(local), dtype=np.int64)
    frequency = np.array([_document_frequency(base if local[i] in base.vocab_dict else own, local[i]) for i in ids])
    documents = float(base.scores["num_docs"])
    return ids, np.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))


def _document_frequency(retriever: bm25s.BM25, word: str) -> float:
    indptr, index = retriever.scores["indptr"], retriever.vocab_dict[word]
    return float(indptr[index + 1] - indptr[index])


def scores(retriever: bm25s.BM25, ids: list[int]) -> np.ndarray:
    """BM25 score of every chunk for a query's token ids."""
    if not ids:
        return np.zeros(int(retriever.scores["num_docs"]), dtype=np.float32)
    return np.asarray(retriever.get_scores_from_ids(ids), dtype=np.float32)
