"""Which vector store an index uses, from the settings (BYLINE_VECTOR_STORE, BYLINE_MILVUS_*)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from embeddings.vectors.base import VectorStore


@dataclass(frozen=True)
class VectorStoreSettings:
    """`kind`: "faiss" (files in each index generation) or "milvus" (one collection shared by the
    generations, at `milvus_uri`: a server URI, or a local milvus-lite file ending in .db)."""

    kind: str = "faiss"
    milvus_uri: str = ""
    milvus_collection: str = "byline_chunks"
    milvus_token: str = ""

    def resolved_uri(self, index_path: Path) -> str:
        """The Milvus URI; by default a milvus-lite file beside the index folder."""
        return self.milvus_uri or str(index_path.parent / f"{index_path.name}-milvus.db")


def open_shared_store(settings: VectorStoreSettings, index_path: Path, dimension: int) -> VectorStore | None:
    """The store shared by all generations (Milvus), or None for FAISS, whose vectors live in each generation."""
    if settings.kind != "milvus":
        return None
    from embeddings.vectors.milvus_store import MilvusVectorStore

    return MilvusVectorStore(
        settings.resolved_uri(index_path), settings.milvus_collection, dimension, settings.milvus_token
    )
