"""One segment of an index generation: a set of chunks with everything a search reads about them.

A segment is written once and never changed; a later generation that keeps it gets its files as hard
links. Its folder holds:
    chunks.sqlite       articles and chunk texts, read a few rows at a time
    vectors/            the FAISS vector store (vectors.npy memory-mapped, ids, filter columns, HNSW graph)
    chunk_articles.npy  each chunk's article (row of the articles table)
    sentences.npy       float16 sentence vectors (read by rows with pread), sentence_offsets.npy (chunk i's are rows
                        offsets[i]:offsets[i+1]) and sentence_spans.npy ((start, end) in the chunk's text)
    tokens.npy, token_offsets.npy, vocabulary.json   BM25 token ids of each chunk (merges reuse them), and
                        token_sentences.npy, each token's sentence in its chunk (searches score sentences)
    bm25/               the bm25s index, weighted with the statistics of the generation's first segment
Rows are ordered by chunk id, ascending.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus.models import Article
from embeddings.chunking import Chunk
from embeddings.files import FilesDisagreeError, NpyRows, fsync_path, load_npy, write_file, write_npy
from embeddings.lexical import (
    LexicalStats,
    SentenceTokens,
    TokenTable,
    build_bm25,
    load_bm25,
    load_stats,
    save_bm25,
)
from embeddings.rows import RowFields
from embeddings.vectors.faiss_store import HNSW_THRESHOLD, FaissVectorStore

SEGMENT_FILE = "segment.json"
METADATA_FILE = "chunks.sqlite"
ARTICLE_CACHE = 4096


@dataclass
class SegmentData:
    """A segment in memory, before it is written: chunks sorted by id."""

    articles: list[Article]
    chunks: list[Chunk]
    ids: np.ndarray  # int64, ascending
    chunk_articles: np.ndarray  # index into `articles` of each chunk's article
    vectors: np.ndarray  # float32 (chunks, dimension)
    sentence_offsets: np.ndarray  # int64 (chunks + 1)
    sentence_spans: np.ndarray  # int32 (sentences, 2)
    sentence_vectors: np.ndarray  # float16 (sentences, dimension)
    tokens: TokenTable

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def fields(self) -> RowFields:
        return RowFields.of_articles([self.articles[i] for i in self.chunk_articles])


_SCHEMA = """
CREATE TABLE articles (row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, content_hash TEXT NOT NULL,
                       tenant TEXT NOT NULL, outlet TEXT NOT NULL, author TEXT NOT NULL, published TEXT, source_file TEXT NOT NULL,
                       chunks INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE chunks (row INTEGER PRIMARY KEY, id INTEGER NOT NULL, article INTEGER NOT NULL,
                     position INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL);
"""


def write_segment(folder: Path, data: SegmentData, stats: LexicalStats | None, hnsw_threshold: int) -> None:
    """Write `data` into the new folder `folder`. `stats`: the BM25 statistics of the segment this one
    joins (None: its own, for a generation's first segment)."""
    folder.mkdir()
    store = FaissVectorStore(folder / "vectors", data.vectors.shape[1], hnsw_threshold)
    try:
        store.add(data.ids, data.vectors, data.fields)
        store.save()
    finally:
        store.close()  # its files stay mapped otherwise, for as long as a traceback holds it
    _write_metadata(folder / METADATA_FILE, data)
    write_npy(folder / "chunk_articles.npy", data.chunk_articles.astype(np.int32))
    write_npy(folder / "sentences.npy", data.sentence_vectors.astype(np.float16, copy=False))
    write_npy(folder / "sentence_offsets.npy", data.sentence_offsets.astype(np.int64))
    write_npy(folder / "sentence_spans.npy", data.sentence_spans.astype(np.int32))
    data.tokens.save(folder)
    own = stats is None
    weights = LexicalStats.of(data.tokens) if stats is None else stats
    (folder / "bm25").mkdir()
    save_bm25(build_bm25(data.tokens, weights), folder / "bm25", weights, own)
    layout = {
        "rows": len(data),
        "articles": len(data.articles),
        "own_lexical_stats": own,
        "tokens_per_sentence": data.tokens.average_sentence_length(),
    }
    write_file(folder / SEGMENT_FILE, json.dumps(layout).encode("utf-8"))


def _write_metadata(path: Path, data: SegmentData) -> None:
    """The metadata database, written by SQLite straight to its new file `path`, then synced.

    Not built in memory first: that image held every chunk's text twice over (about 6 KB a chunk, gigabytes
    at archive scale). No journal and no syncs while writing: the file is new, in a generation not yet
    served, which a failed build discards whole. A write the disk refuses raises sqlite3.OperationalError,
    which the caller turns into a clear error (`writing_database`).
    """
    counts = np.bincount(data.chunk_articles, minlength=len(data.articles))
    articles = (
        (
            row,
            a.id,
            a.content_hash,
            a.tenant,
            a.outlet,
            a.author,
            a.published.isoformat() if a.published else None,
            a.source_file,
            int(counts[row]),
            a.model_dump_json(),
        )
        for row, a in enumerate(data.articles)
    )
    chunks = (
        (row, int(data.ids[row]), int(data.chunk_articles[row]), c.index, c.start, c.end, c.text)
        for row, c in enumerate(data.chunks)
    )
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        with db:
            db.executescript(_SCHEMA)
            db.executemany("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", articles)
            db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)", chunks)
    finally:
        db.close()
    fsync_path(path)


class Segment:
    """A written segment, opened for reading: arrays memory-mapped, rows read from SQLite on demand.

    `dead` marks the rows the generation no longer serves (their article was changed or removed)."""

    def __init__(self, folder: Path, dead_rows: np.ndarray, dimension: int) -> None:
        self.folder = folder
        self.name = folder.name
        layout = json.loads((folder / SEGMENT_FILE).read_text(encoding="utf-8"))
        self.rows = int(layout["rows"])
        self.article_rows = int(layout["articles"])
        self.own_lexical_stats = bool(layout["own_lexical_stats"])
        self._lock = threading.Lock()
        self._articles: dict[int, Article] = {}
        self._article_ids: dict[int, str] = {}
        self._db: sqlite3.Connection | None = None
        self._sentence_rows: NpyRows | None = None
        self.store = FaissVectorStore.open(folder / "vectors", dimension)
        try:
            self.chunk_articles = load_npy(folder / "chunk_articles.npy")
            self.sentence_vectors = load_npy(folder / "sentences.npy")
            self._sentence_rows = NpyRows(folder / "sentences.npy")
            self.sentence_offsets = load_npy(folder / "sentence_offsets.npy")
            self.sentence_spans = load_npy(folder / "sentence_spans.npy")
            self.bm25 = load_bm25(folder / "bm25")
            self.sentence_tokens = SentenceTokens.open(folder, float(layout["tokens_per_sentence"]))
            self._db = _open_read_only(folder / METADATA_FILE)
            self._check(dimension)
            self.dead_rows = np.array(dead_rows, dtype=np.int64)  # a copy: nothing stays mapped after close()
            self.store.remove(self.store.columns.ids[self.dead_rows])
            self.dead_articles = frozenset(self.dead_articles_of(self.dead_rows))
        except BaseException:
            self.close()  # an SQLite connection is otherwise only closed by the cyclic garbage collector
            raise

    def _check(self, dimension: int) -> None:
        chunks, articles = self._row_count("chunks"), self._row_count("articles")
        sizes = {
            "vectors": len(self.store.vectors),
            "chunk rows": int(chunks),
            "chunk articles": len(self.chunk_articles),
            "sentence offsets": len(self.sentence_offsets) - 1,
            "BM25 documents": int(self.bm25.scores["num_docs"]),
            "token offsets": len(self.sentence_tokens.offsets) - 1,
        }
        if set(sizes.values()) != {self.rows} or int(articles) != self.article_rows:
            raise FilesDisagreeError(f"segment {self.name} holds {sizes} for {self.rows} chunks")
        if len(self.sentence_vectors) != int(self.sentence_offsets[-1] if self.rows else 0) or (
            len(self.sentence_vectors) and self.sentence_vectors.shape[1] != dimension
        ):
            raise FilesDisagreeError(f"segment {self.name} has {self.sentence_vectors.shape} sentence vectors")
        tokens = self.sentence_tokens
        if len(tokens.flat) != len(tokens.sentences) or int(tokens.offsets[-1]) != len(tokens.flat):
            raise FilesDisagreeError(f"segment {self.name} has {len(tokens.sentences)} token sentences")

    def _row_count(self, table: str) -> int:
        """The rows of a metadata table, numbered from 0 without gaps (`_write_metadata`): the last one's number
        plus one, read from the table's index at once (COUNT(*) reads the whole table: 18.8 s for a 1M-chunk
        segment not yet in the page cache). A table not starting at row 0 counts -1; gaps are `verify`'s."""
        (first,) = self._query(f"SELECT MIN(row) FROM {table}")[0]  # one aggregate a query: SQLite's fast path
        (last,) = self._query(f"SELECT MAX(row) FROM {table}")[0]
        if first is None:
            return 0
        return int(last) + 1 if first == 0 else -1

    def verify(self) -> None:
        """Read the segment's vectors and ids and check them against its metadata (opening checks only
        counts): ValueError when they cannot be read, FilesDisagreeError when they disagree."""
        self.store.verify()
        chunk_ids = np.array([row[0] for row in self._query("SELECT id FROM chunks ORDER BY row")], dtype=np.int64)
        if not np.array_equal(chunk_ids, np.asarray(self.store.columns.ids)):
            raise FilesDisagreeError(f"segment {self.name} holds vectors for other chunks than its metadata lists")

    def dead_articles_of(self, dead_rows: np.ndarray) -> set[int]:
        """Article rows all of whose chunks are among `dead_rows` (an article's chunks live and go together)."""
        return {int(a) for a in np.unique(self.chunk_articles[np.asarray(dead_rows, dtype=np.int64)])}

    @property
    def ids(self) -> np.ndarray:
        return self.store.columns.ids

    @property
    def vectors(self) -> np.ndarray:
        return self.store.vectors

    @property
    def live_rows(self) -> int:
        return self.rows - len(self.dead_rows)

    def live_mask(self) -> np.ndarray | None:
        return self.store.allowed(None)

    def lexical_stats(self) -> LexicalStats:
        return load_stats(self.folder / "bm25", self.bm25)

    def tokens(self) -> TokenTable:
        return TokenTable.open(self.folder)

    def chunks(self, rows: list[int]) -> list[Chunk]:
        """The chunks at these rows, in the order given."""
        found: dict[int, Chunk] = {}
        for start in range(0, len(rows), 500):
            batch = rows[start : start + 500]
            marks = ",".join("?" * len(batch))
            for row, article_row, position, begin, end, text in self._query(
                f"SELECT row, article, position, start, end, text FROM chunks WHERE row IN ({marks})", batch
            ):
                found[row] = Chunk(self._article_id(article_row), position, begin, end, text)
        return [found[row] for row in rows]

    def all_chunks(self) -> Iterator[tuple[int, Chunk]]:
        ids = dict(self._query("SELECT row, id FROM articles"))
        for row, article_row, position, begin, end, text in self._query(
            "SELECT row, article, position, start, end, text FROM chunks ORDER BY row"
        ):
            yield row, Chunk(ids[article_row], position, begin, end, text)

    def _article_id(self, article_row: int) -> str:
        found = self._article_ids.get(article_row)
        if found is None:
            found = str(self._query("SELECT id FROM articles WHERE row = ?", (article_row,))[0][0])
            if len(self._article_ids) >= ARTICLE_CACHE:
                self._article_ids.clear()
            self._article_ids[article_row] = found
        return found

    def article(self, article_row: int) -> Article:
        """The article at this row (parsed once, then kept: the recent ones only)."""
        found = self._articles.get(article_row)
        if found is None:
            (data,) = self._query("SELECT data FROM articles WHERE row = ?", (article_row,))[0]
            found = Article.model_validate_json(data)
            if len(self._articles) >= ARTICLE_CACHE:
                self._articles.clear()
            self._articles[article_row] = found
        return found

    def article_row(self, article_id: str) -> int | None:
        """The live article row with this id, if any."""
        found = self._query("SELECT row FROM articles WHERE id = ?", (article_id,))
        if not found or int(found[0][0]) in self.dead_articles:
            return None
        return int(found[0][0])

    def live_articles(self, columns: str) -> list[tuple]:
        """(row, *columns) of every live article."""
        return [
            r
            for r in self._query(f"SELECT row, {columns} FROM articles ORDER BY row")
            if r[0] not in self.dead_articles
        ]

    def sentences(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """The (start, end) spans of the chunk's sentences and their float32 vectors."""
        first, last = int(self.sentence_offsets[row]), int(self.sentence_offsets[row + 1])
        assert self._sentence_rows is not None, "a segment is read only once opened"
        return np.asarray(self.sentence_spans[first:last]), self._sentence_rows.rows(first, last).astype(np.float32)

    def _query(self, sql: str, parameters: tuple | list = ()) -> list[tuple]:
        with self._lock:
            assert self._db is not None, "a segment is read only once opened"
            return self._db.execute(sql, parameters).fetchall()

    def close(self) -> None:
        """Close the SQLite file and let go of the memory-mapped files (the segment is unusable after)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
        self.store.close()
        if self._sentence_rows is not None:
            self._sentence_rows.close()
        empty = np.zeros(0)
        self.chunk_articles = self.sentence_vectors = self.sentence_offsets = self.sentence_spans = empty
        self.sentence_tokens = SentenceTokens(empty, np.zeros(1, dtype=np.int64), empty, 0.0)
        self.bm25 = None


def _open_read_only(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} is missing")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)


__all__ = ["HNSW_THRESHOLD", "METADATA_FILE", "Segment", "SegmentData", "write_segment"]
