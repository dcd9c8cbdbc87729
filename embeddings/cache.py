"""Vectors by hash of (model, embedded text), kept across builds so no text is embedded twice.

Beside each chunk's vector, the vectors of its sentences (pooled from the same forward pass), float16,
with their (start, end) spans in the text. Caches written before sentence vectors existed keep their
chunk vectors: a rebuild then runs the model only for the sentence vectors they lack.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def text_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sentences (key TEXT PRIMARY KEY, spans BLOB NOT NULL, vectors BLOB NOT NULL);
"""
_DAMAGE = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


def _is_damage(error: sqlite3.DatabaseError) -> bool:
    """A malformed or foreign file (not a locked, full or unreadable one, which starting over cannot fix)."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _DAMAGE


class EmbeddingCache:
    """A small SQLite table of float32 vectors; each batch is committed, so a crash loses no finished work.

    A damaged cache only costs time: it is found out when it is read or written, and replaced by an
    empty one.
    """

    def __init__(self, path: Path, dimension: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._dimension = dimension
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path)
        try:
            db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as error:
            db.close()
            if not _is_damage(error):
                raise
            self._remove_files()
            db = sqlite3.connect(self._path)
            db.executescript(_SCHEMA)
        return db

    def _start_over(self) -> None:
        self._db.close()
        self._remove_files()
        self._db = self._open()

    def _remove_files(self) -> None:
        for leftover in (self._path, self._path.with_name(self._path.name + "-journal")):
            leftover.unlink(missing_ok=True)

    def _read(self, read: Callable[[list[str]], dict[str, T]], keys: list[str]) -> dict[str, T]:
        """What `read` finds of `keys`; a damaged cache starts over and finds nothing."""
        try:
            return read(keys)
        except sqlite3.DatabaseError as error:
            if not _is_damage(error):
                raise
            self._start_over()
            return {}

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        return self._read(self._get_many, keys)

    def _get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for key, blob in self._rows("key, vector FROM vectors", keys):
            vector = np.frombuffer(blob, dtype=np.float32)
            if vector.shape == (self._dimension,):
                found[key] = vector
        return found

    def _rows(self, selection: str, keys: list[str]) -> Iterator[tuple]:
        """`SELECT <selection> WHERE key IN keys`, 500 keys a query (SQLite's limit on parameters)."""
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            yield from self._db.execute(f"SELECT {selection} WHERE key IN ({','.join('?' * len(batch))})", batch)

    def get_sentences(self, keys: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(spans int32 (n, 2), vectors float16 (n, dimension)) of the texts whose sentences are cached."""
        return self._read(self._get_sentences, keys)

    def get_sentence_spans(self, keys: list[str]) -> dict[str, np.ndarray]:
        """The spans (int32 (n, 2)) of the texts whose sentences are cached, without reading their vectors
        (what a build checks before it counts a text's sentences as cached; it reads them when it assembles)."""
        return self._read(self._get_sentence_spans, keys)

    def _get_sentence_spans(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        row_bytes = self._dimension * np.dtype(np.float16).itemsize
        for key, span_blob, vector_bytes in self._rows("key, spans, length(vectors) FROM sentences", keys):
            spans = np.frombuffer(span_blob, dtype=np.int32).reshape(-1, 2)
            if vector_bytes == len(spans) * row_bytes:
                found[key] = spans
        return found

    def _get_sentences(self, keys: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for key, span_blob, vector_blob in self._rows("key, spans, vectors FROM sentences", keys):
            spans = np.frombuffer(span_blob, dtype=np.int32).reshape(-1, 2)
            vectors = np.frombuffer(vector_blob, dtype=np.float16)
            if vectors.size == len(spans) * self._dimension:
                found[key] = (spans, vectors.reshape(len(spans), self._dimension))
        return found

    def put_many(
        self,
        keys: list[str],
        vectors: np.ndarray,
        sentences: list[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        """Store each text's vector and, if given, its sentences' (spans, vectors)."""
        rows = [(key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in zip(keys, vectors)]
        sentence_rows = [
            (key, np.asarray(spans, dtype=np.int32).tobytes(), np.asarray(found, dtype=np.float16).tobytes())
            for key, (spans, found) in zip(keys, sentences or [])
        ]
        try:
            self._put(rows, sentence_rows)
        except sqlite3.DatabaseError as error:
            if not _is_damage(error):
                raise
            self._start_over()
            self._put(rows, sentence_rows)

    def _put(self, rows: list[tuple[str, bytes]], sentence_rows: list[tuple[str, bytes, bytes]]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
            self._db.executemany("INSERT OR REPLACE INTO sentences VALUES (?, ?, ?)", sentence_rows)

    def keep_only(self, keys: set[str]) -> None:
        """Forget vectors of texts that are no longer indexed."""
        try:
            with self._db:
                self._db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (key TEXT PRIMARY KEY)")
                self._db.execute("DELETE FROM keep")
                self._db.executemany("INSERT OR IGNORE INTO keep VALUES (?)", [(k,) for k in keys])
                self._db.execute("DELETE FROM vectors WHERE key NOT IN (SELECT key FROM keep)")
                self._db.execute("DELETE FROM sentences WHERE key NOT IN (SELECT key FROM keep)")
        except sqlite3.DatabaseError as error:
            if not _is_damage(error):
                raise
            self._start_over()

    def close(self) -> None:
        self._db.close()
