"""The Milvus vector store, through pymilvus: a Milvus standalone or cluster URI, or a local milvus-lite
file (a path ending in .db) for tests and a single machine. Filters are pushed down to Milvus as a
boolean expression over scalar fields stored beside each vector.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from embeddings.rows import RowFields, RowFilter
from embeddings.vectors.base import VectorStoreError, check_vectors, no_results

if TYPE_CHECKING:  # imported when first used: pymilvus takes a second to import
    from pymilvus import MilvusClient

log = logging.getLogger(__name__)

MAX_TEXT = 512  # Milvus VARCHAR fields need a length; longer outlet, author and tenant names are cut here
BATCH = 1000


class MilvusVectorStore:
    """One Milvus collection of (id, vector, tenant, outlet, author, day) rows."""

    kind = "milvus"

    def __init__(self, uri: str, collection: str, dimension: int, token: str = "") -> None:
        self.uri, self.collection, self.dimension = uri, collection, dimension
        self._client = _connect(uri, token)
        try:
            self._prepare()
        except VectorStoreError:
            self.close()
            raise
        except Exception as error:  # pymilvus raises MilvusException and gRPC errors alike
            self.close()
            raise VectorStoreError(f"Milvus at {uri} cannot be used ({_first_line(error)}).") from error

    def _prepare(self) -> None:
        from pymilvus import DataType

        client = self._client
        if client.has_collection(self.collection):
            stored = _dimension_of(client.describe_collection(self.collection))
            if stored != self.dimension:
                raise VectorStoreError(
                    f"The Milvus collection {self.collection!r} at {self.uri} holds vectors of {stored} dimensions, "
                    f"not {self.dimension}."
                )
            client.load_collection(self.collection)
            return
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        for name in ("tenant", "outlet", "author"):
            schema.add_field(name, DataType.VARCHAR, max_length=MAX_TEXT * 4)
        schema.add_field("day", DataType.INT64)
        index = client.prepare_index_params()
        index.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
        client.create_collection(self.collection, schema=schema, index_params=index, consistency_level="Strong")

    def add(self, ids: np.ndarray, vectors: np.ndarray, fields: RowFields) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        check_vectors(ids, vectors, fields, self.dimension)
        for start in range(0, len(ids), BATCH):
            rows = [
                {
                    "id": int(ids[i]),
                    "vector": np.asarray(vectors[i], dtype=np.float32).tolist(),
                    "tenant": _cut(fields.tenants[i]),
                    "outlet": _cut(fields.outlets[i]),
                    "author": _cut(fields.authors[i]),
                    "day": int(fields.days[i]),
                }
                for i in range(start, min(start + BATCH, len(ids)))
            ]
            self._call(self._client.upsert, self.collection, rows)

    def remove(self, ids: np.ndarray) -> None:
        keys = [int(i) for i in np.asarray(ids, dtype=np.int64)]
        for start in range(0, len(keys), BATCH):
            self._call(self._client.delete, self.collection, ids=keys[start : start + BATCH])

    def search(self, vector: np.ndarray, k: int, where: RowFilter | None = None) -> tuple[np.ndarray, np.ndarray]:
        if k <= 0:
            return no_results()
        expression = _cut_filter(where).milvus_expression() if where is not None else ""
        found = self._call(
            self._client.search,
            self.collection,
            data=[np.asarray(vector, dtype=np.float32).tolist()],
            limit=int(k),
            filter=expression,
            output_fields=["id"],
            search_params={"metric_type": "IP"},
            consistency_level="Strong",
        )
        hits = list(found[0]) if found else []
        ids = np.array([int(hit["id"]) for hit in hits], dtype=np.int64)
        scores = np.array([float(hit["distance"]) for hit in hits], dtype=np.float32)
        return ids, scores

    def count(self) -> int:
        rows = self._call(
            self._client.query, self.collection, filter="", output_fields=["count(*)"], consistency_level="Strong"
        )
        return int(rows[0]["count(*)"]) if rows else 0

    def save(self) -> None:
        self._call(self._client.flush, self.collection)

    def drop(self) -> None:
        """Delete the whole collection (e.g. before building it anew)."""
        self._call(self._client.drop_collection, self.collection)

    def close(self) -> None:
        try:
            self._client.close()
        except Exception as error:  # closing twice or a dropped connection: nothing left to do
            log.debug("closing the Milvus client: %s", error)

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except VectorStoreError:
            raise
        except Exception as error:  # pymilvus raises MilvusException and gRPC errors alike
            raise VectorStoreError(f"Milvus at {self.uri} failed ({_first_line(error)}).") from error


def _connect(uri: str, token: str) -> MilvusClient:
    try:
        from pymilvus import MilvusClient

        return MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
    except Exception as error:  # unreachable server, bad URI, a milvus-lite file that cannot be opened
        raise VectorStoreError(f"Milvus at {uri} cannot be reached ({_first_line(error)}).") from error


def _dimension_of(description: dict) -> int:
    for field in description.get("fields", []):
        if field.get("name") == "vector":
            return int(field.get("params", {}).get("dim", 0))
    return 0


def _cut(text: str) -> str:
    return text[:MAX_TEXT]


def _cut_filter(where: RowFilter) -> RowFilter:
    """The filter with names cut like the stored ones, so a long name still matches itself."""
    return where.narrowed(
        tenants=None if where.tenants is None else tuple(_cut(t) for t in where.tenants),
        outlets=tuple(_cut(o) for o in where.outlets),
        authors=tuple(_cut(a) for a in where.authors),
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
