"""The vector-store seam: one small interface (`VectorStore`), a FAISS and a Milvus backend, and a factory."""

from embeddings.vectors.base import VectorStore, VectorStoreError
from embeddings.vectors.factory import VectorStoreSettings, open_shared_store

__all__ = ["VectorStore", "VectorStoreError", "VectorStoreSettings", "open_shared_store"]
