"""What every vector store offers: add, remove, search top-k under a filter, count, save, close."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from corpus.errors import BylineError, Remedy
from embeddings.rows import RowFields, RowFilter


class VectorStoreError(BylineError):
    """The vector store cannot be used as asked (unreachable, another dimension, damaged)."""

    remedy = Remedy.REINDEX


class VectorStore(Protocol):
    """Unit vectors by int64 id, each with its filter fields; similarity is the inner product."""

    @property
    def kind(self) -> str:
        """What searches it: "flat", "hnsw" (FAISS) or "milvus"."""
        ...

    @property
    def dimension(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray, fields: RowFields) -> None:
        """Add (or replace) these vectors; `fields` holds one entry per id."""
        ...

    def remove(self, ids: np.ndarray) -> None:
        """Remove these ids (unknown ones are ignored)."""
        ...

    def search(self, vector: np.ndarray, k: int, where: RowFilter | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ids of the (at most) k vectors most similar to `vector` that `where` allows, and their
        similarities, best first."""
        ...

    def count(self) -> int: ...

    def save(self) -> None:
        """Make what was added and removed durable."""
        ...

    def close(self) -> None: ...


def check_vectors(ids: np.ndarray, vectors: np.ndarray, fields: RowFields, dimension: int) -> None:
    if vectors.ndim != 2 or vectors.shape[1] != dimension:
        raise VectorStoreError(f"vectors of shape {vectors.shape} given to a store of {dimension} dimensions")
    if not len(ids) == len(vectors) == len(fields):
        raise ValueError(f"{len(ids)} ids, {len(vectors)} vectors and {len(fields)} fields")


def no_results() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
