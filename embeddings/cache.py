"""Vectors by hash of (model, embedded text), kept across builds so no text is embedded twice."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np


def text_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()


class EmbeddingCache:
    """A small SQLite table of float32 vectors; each batch is committed, so a crash loses no finished work."""

    def __init__(self, path: Path, dimension: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._dimension = dimension
        self._db = sqlite3.connect(path)
        try:
            self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        except sqlite3.DatabaseError:
            # A damaged cache only costs time: start a new one.
            self._db.close()
            path.unlink(missing_ok=True)
            self._db = sqlite3.connect(path)
            self._db.execute("CREATE TABLE vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            marks = ",".join("?" * len(batch))
            for key, blob in self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch):
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (self._dimension,):
                    found[key] = vector
        return found

    def put_many(self, keys: list[str], vectors: np.ndarray) -> None:
        rows = [(key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in zip(keys, vectors)]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)

    def keep_only(self, keys: set[str]) -> None:
        """Forget vectors of texts that are no longer indexed."""
        with self._db:
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (key TEXT PRIMARY KEY)")
            self._db.execute("DELETE FROM keep")
            self._db.executemany("INSERT OR IGNORE INTO keep VALUES (?)", [(k,) for k in keys])
            self._db.execute("DELETE FROM vectors WHERE key NOT IN (SELECT key FROM keep)")

    def close(self) -> None:
        self._db.close()
