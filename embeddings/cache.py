"""Vectors by hash of (model, embedded text), kept across builds so no text is embedded twice."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from corpus.errors import BylineError
from embeddings.index_folder import (
    DISK_FULL_ERRNOS,
    IndexDiskFullError,
    IndexLocationError,
    location_error,
    refused_write,
)

# How far past the end of the cache a write is tried, to learn why SQLite could not grow it.
_PROBE_MARGIN = 1 << 20


def text_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()


class EmbeddingCache:
    """A small SQLite table of float32 vectors; each batch is committed, so a crash loses no finished work."""

    def __init__(self, path: Path, dimension: int) -> None:
        self._path = path
        self._dimension = dimension
        with self._writing():
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path)
            try:
                self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            except sqlite3.DatabaseError as error:
                if _is_write_failure(error):
                    raise
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
        with self._writing(), self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)

    def keep_only(self, keys: set[str]) -> None:
        """Forget vectors of texts that are no longer indexed."""
        with self._writing(), self._db:
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (key TEXT PRIMARY KEY)")
            self._db.execute("DELETE FROM keep")
            self._db.executemany("INSERT OR IGNORE INTO keep VALUES (?)", [(k,) for k in keys])
            self._db.execute("DELETE FROM vectors WHERE key NOT IN (SELECT key FROM keep)")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write that fails for want of room or permission raises one clear BylineError."""
        try:
            yield
        except OSError as error:
            raise location_error(self._path.parent, error) from error
        except sqlite3.OperationalError as error:
            if not _is_write_failure(error):
                raise
            raise self._write_error(error) from error

    def _write_error(self, error: sqlite3.OperationalError) -> BylineError:
        folder = self._path.parent
        if error.sqlite_errorcode == sqlite3.SQLITE_FULL:
            return IndexDiskFullError(folder, str(error))
        size = self._path.stat().st_size if self._path.exists() else 0
        refused = refused_write(folder, size + _PROBE_MARGIN)
        if refused is not None and refused.errno in DISK_FULL_ERRNOS:
            return IndexDiskFullError(folder, refused.strerror or str(refused))
        if refused is not None:
            return location_error(folder, refused)
        return IndexLocationError(folder, f"cannot be written ({error}: {self._path.name})")


def _is_write_failure(error: sqlite3.DatabaseError) -> bool:
    """SQLite could not write its file (as opposed to finding it damaged)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return False
    return (code & 0xFF) in (
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_CANTOPEN,
    )
