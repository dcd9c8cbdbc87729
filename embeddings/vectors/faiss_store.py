"""The FAISS vector store: float32 vectors memory-mapped from a .npy file, searched exactly (flat) below
a size threshold and through an HNSW graph above it; the choice is made when the store is saved and
recorded in its store.json.

Exact search reads every allowed vector once (a few milliseconds per 100,000 vectors); HNSW reads a
few thousand whatever the size, at a small cost in recall (measured in benchmarks/scale.py). A filter
that allows only a small share of the rows is always searched exactly over those rows: HNSW with a
selector walks a graph whose allowed nodes are then too sparse to reach.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import faiss
import numpy as np

from embeddings.files import FilesDisagreeError, load_json, load_npy, write_file, write_npy
from embeddings.rows import RowColumns, RowFields, RowFilter
from embeddings.vectors.base import VectorStoreError, check_vectors, no_results

HNSW_THRESHOLD = 50_000  # vectors from which a saved store is searched through HNSW (benchmarks/ann_recall.py)
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256
EXACT_SHARE = 0.05  # a filter allowing less than this share of the vectors is searched exactly
UNIT_TOLERANCE = 1e-3  # how far a stored vector's norm may be from 1 (the encoder stores unit vectors)
VERIFY_BLOCK = 65_536  # vectors read at a time when verifying a store
DOT_BLOCK_BYTES = 1 << 20  # stored vectors scored at a time against every query vector (stays in the cache)
STORE_FILE = "store.json"
GRAPH_FILE = "dense.faiss"


class FaissVectorStore:
    """Vectors with their ids (ascending) and filter fields, in one folder."""

    def __init__(self, folder: Path, dimension: int, hnsw_threshold: int = HNSW_THRESHOLD) -> None:
        self.folder = folder
        self.dimension = dimension
        self.hnsw_threshold = hnsw_threshold
        self.vectors = np.zeros((0, dimension), dtype=np.float32)
        self.columns = RowColumns.build(np.zeros(0, dtype=np.int64), RowFields())
        self._live: np.ndarray | None = None  # None: every row is live
        self._graph: faiss.Index | None = None
        self._saved_vectors: np.ndarray | None = None  # vectors.npy, when `vectors` is the graph's copy
        self.ef_search = HNSW_EF_SEARCH

    @property
    def kind(self) -> str:
        return "hnsw" if self._graph is not None else "flat"

    @classmethod
    def open(cls, folder: Path, dimension: int | None = None) -> FaissVectorStore:
        """The store saved in `folder` (OSError or ValueError when it is missing or damaged)."""
        layout = load_json(folder / STORE_FILE)
        stored = int(layout["dimension"])
        if dimension is not None and stored != dimension:
            raise VectorStoreError(f"the vectors in {folder} have {stored} dimensions, not {dimension}")
        store = cls(folder, stored, int(layout.get("hnsw_threshold", HNSW_THRESHOLD)))
        store.vectors = load_npy(folder / "vectors.npy")
        store.columns = RowColumns.open(folder)
        rows = int(layout["rows"])
        where = f"{folder.parent.name}/{folder.name}"
        if store.vectors.shape != (rows, stored):
            raise FilesDisagreeError(f"{where} holds vectors of shape {store.vectors.shape} for {rows} rows")
        if {len(column) for column in store.columns.arrays()} != {rows}:
            raise FilesDisagreeError(f"{where} holds filter columns of another length than its {rows} rows")
        if layout["kind"] == "hnsw":
            store._graph = read_graph(folder / GRAPH_FILE)
            if store._graph.ntotal != rows or store._graph.d != stored:
                raise FilesDisagreeError(
                    f"the graph in {where} holds {store._graph.ntotal} vectors of {store._graph.d} dimensions, "
                    f"not {rows} of {stored}"
                )
            # Searches read the graph's own copy of the vectors (memory-mapped with it), so that a serving
            # process does not page in vectors.npy as well; vectors.npy stays what is verified and merged.
            store._saved_vectors, store.vectors = store.vectors, graph_vectors(store._graph, store.vectors)
        return store

    def count(self) -> int:
        return len(self.vectors) if self._live is None else int(self._live.sum())

    def verify(self) -> None:
        """Read every stored vector and id: ValueError unless the vectors are finite unit vectors and the ids
        ascend. (Opening checks only the files' sizes; this reads their contents.)"""
        ids = np.asarray(self.columns.ids)
        if len(ids) > 1 and not bool(np.all(ids[1:] > ids[:-1])):
            raise ValueError(f"the ids in {self.folder.parent.name}/{self.folder.name} are not in ascending order")
        saved = self.vectors if self._saved_vectors is None else self._saved_vectors
        where = f"{self.folder.parent.name}/{self.folder.name}"
        for start in range(0, len(saved), VERIFY_BLOCK):
            block = np.asarray(saved[start : start + VERIFY_BLOCK], dtype=np.float32)
            norms = np.linalg.norm(block, axis=1)
            bad = np.flatnonzero(~(np.abs(norms - 1) <= UNIT_TOLERANCE))  # NaN norms count as bad too
            if len(bad):
                raise ValueError(f"vector {start + int(bad[0])} in {where} is not a unit vector")
            if saved is not self.vectors and not np.array_equal(block, self.vectors[start : start + VERIFY_BLOCK]):
                raise FilesDisagreeError(f"the graph in {where} holds other vectors than vectors.npy")

    def add(self, ids: np.ndarray, vectors: np.ndarray, fields: RowFields) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        check_vectors(ids, vectors, fields, self.dimension)
        self.remove(ids)
        keep = np.arange(len(self.vectors)) if self._live is None else np.flatnonzero(self._live)
        all_ids = np.concatenate([self.columns.ids[keep], ids])
        order = np.argsort(all_ids, kind="stable")
        self.vectors = np.concatenate([self.vectors[keep], np.asarray(vectors, dtype=np.float32)])[order]
        self.columns = RowColumns.build(all_ids[order], (self.columns.fields(keep) + fields).take(order))
        self._live, self._graph, self._saved_vectors = None, None, None

    def remove(self, ids: np.ndarray) -> None:
        rows = self.rows_of(np.asarray(ids, dtype=np.int64))
        rows = rows[rows >= 0]
        if len(rows) == 0:
            return
        if self._live is None:
            self._live = np.ones(len(self.vectors), dtype=bool)
        self._live[rows] = False

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """The row of each id (-1 for ids not stored)."""
        known = self.columns.ids
        if len(known) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        rows = np.minimum(np.searchsorted(known, ids), len(known) - 1)
        return np.where(known[rows] == ids, rows, -1).astype(np.int64)

    def allowed(self, where: RowFilter | None) -> np.ndarray | None:
        """Rows that are live and that `where` allows (None: all rows)."""
        mask = self.columns.mask(where)
        if self._live is None:
            return mask
        return self._live if mask is None else mask & self._live

    def search(self, vector: np.ndarray, k: int, where: RowFilter | None = None) -> tuple[np.ndarray, np.ndarray]:
        rows, scores = self.search_rows(vector, k, self.allowed(where))
        return np.asarray(self.columns.ids[rows], dtype=np.int64), scores

    def search_rows(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Rows (and similarities) of the k best vectors among `allowed` rows (None: all), best first."""
        return self.search_rows_many(vector, k, [allowed])[0]

    def search_rows_many(
        self, vector: np.ndarray, k: int, alloweds: list[np.ndarray | None]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """`search_rows` under each of several filters; an exact search reads the vectors once for all."""
        return self.search_rows_batch(np.asarray(vector, dtype=np.float32).reshape(1, -1), k, [alloweds])[0]

    def search_rows_batch(
        self, vectors: np.ndarray, k: int, alloweds: list[list[np.ndarray | None]]
    ) -> list[list[tuple[np.ndarray, np.ndarray]]]:
        """`search_rows_many` for several query vectors (rows of `vectors`), vector i under the filters
        `alloweds[i]`: an exact search scores every query vector in one pass over the stored vectors."""
        queries = np.asarray(vectors, dtype=np.float32).reshape(len(alloweds), -1)
        total = len(self.vectors)
        counts = [[total if allowed is None else int(allowed.sum()) for allowed in mine] for mine in alloweds]
        reads_all = any(
            count > 0 and not self._by_graph(count, min(k, count), total) and (allowed is None or count > total // 4)
            for mine, mine_counts in zip(alloweds, counts)
            for allowed, count in zip(mine, mine_counts)
        )
        # One pass for all the query vectors whenever one of them reads every stored vector anyway.
        similarity = _dots(self.vectors, queries) if reads_all else None
        found: list[list[tuple[np.ndarray, np.ndarray]]] = []
        for query, mine, mine_counts, similarity_row in zip(
            queries, alloweds, counts, similarity if similarity is not None else [None] * len(queries)
        ):
            found.append([self._search_one(query, k, a, c, similarity_row) for a, c in zip(mine, mine_counts)])
        return found

    def _by_graph(self, count: int, wanted: int, total: int) -> bool:
        return self._graph is not None and count >= EXACT_SHARE * total and count > wanted

    def _search_one(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None, count: int, similarity: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k best rows among `allowed` (`count` of them); `similarity`: the query's similarity to every
        stored vector when already computed."""
        total = len(self.vectors)
        wanted = min(k, count)
        if wanted <= 0:
            return no_results()
        if self._by_graph(count, wanted, total):
            return self._search_graph(query.reshape(1, -1), wanted, allowed)
        if similarity is None and allowed is not None and count <= total // 4:
            candidates = np.flatnonzero(allowed)
            return _top(candidates, _dot(self.vectors[candidates], query), wanted)
        if similarity is None:
            similarity = _dot(self.vectors, query)
        if allowed is None:
            return _top(np.arange(total), similarity, wanted)
        candidates = np.flatnonzero(allowed)
        return _top(candidates, similarity[candidates], wanted)

    def _search_graph(self, query: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        assert self._graph is not None
        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # missing from faiss's stubs
        params.efSearch = max(self.ef_search, k)
        bits = None
        if allowed is not None:
            bits = np.packbits(allowed, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
            params.sel = selector
        scores, rows = self._graph.search(query, k, params=params)
        found = rows[0] >= 0
        del bits
        return rows[0][found].astype(np.int64), scores[0][found]

    def save(self) -> None:
        """Write the live vectors into the store's folder (each file replaced whole), compacting removed
        ones away, with an HNSW graph when there are at least `hnsw_threshold` of them."""
        keep = np.arange(len(self.vectors)) if self._live is None else np.flatnonzero(self._live)
        vectors = np.ascontiguousarray(self.vectors[keep], dtype=np.float32)
        columns = RowColumns.build(self.columns.ids[keep], self.columns.fields(keep))
        self.folder.mkdir(parents=True, exist_ok=True)
        graph = build_graph(vectors) if len(vectors) >= self.hnsw_threshold else None
        staging = self.folder / ".saving"
        staging.mkdir(exist_ok=True)
        write_npy(staging / "vectors.npy", vectors)
        columns.save(staging)
        if graph is not None:
            write_graph(staging / GRAPH_FILE, graph)
        layout = {
            "kind": "hnsw" if graph is not None else "flat",
            "rows": len(vectors),
            "dimension": self.dimension,
            "hnsw_threshold": self.hnsw_threshold,
            "hnsw": {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION} if graph is not None else None,
        }
        write_file(staging / STORE_FILE, json.dumps(layout, indent=2).encode("utf-8"))
        if graph is None:
            (self.folder / GRAPH_FILE).unlink(missing_ok=True)
        for path in staging.iterdir():
            os.replace(path, self.folder / path.name)
        staging.rmdir()
        reopened = FaissVectorStore.open(self.folder, self.dimension)
        self.vectors, self.columns, self._graph, self._live = reopened.vectors, reopened.columns, reopened._graph, None
        self._saved_vectors = reopened._saved_vectors

    def close(self) -> None:
        """Let go of the vectors (memory-mapped files are unmapped once nothing else holds them)."""
        self._graph, self._saved_vectors = None, None
        self.vectors = np.zeros((0, self.dimension), dtype=np.float32)
        self.columns = RowColumns.build(np.zeros(0, dtype=np.int64), RowFields())
        self._live = None


def build_graph(vectors: np.ndarray) -> faiss.Index:
    graph = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    graph.add(vectors)
    return graph


class _GraphArray:
    """A read-only array interface over the graph's stored vectors that keeps the graph alive: an array
    made from it holds this object, so the graph (and its memory map) outlives every view of it."""

    def __init__(self, graph: faiss.Index, address: int, shape: tuple[int, int]) -> None:
        self.graph = graph
        self.__array_interface__ = {"data": (address, True), "shape": shape, "typestr": "<f4", "version": 3}


def graph_vectors(graph: faiss.Index, saved: np.ndarray) -> np.ndarray:
    """The float32 vectors an HNSW graph stores for its rows, as an array over the graph's own memory (no
    copy); `saved` (vectors.npy) when the graph does not store them as plain float32 rows."""
    rows, dimension = int(graph.ntotal), int(graph.d)
    stored = getattr(graph, "storage", None)  # an IndexHNSW's (missing from faiss's stubs)
    storage = faiss.downcast_index(stored) if stored is not None else None
    codes = getattr(storage, "codes", None)
    if rows == 0 or not isinstance(storage, faiss.IndexFlat) or codes is None:
        return saved
    size = rows * dimension * 4
    if storage.code_size != dimension * 4 or codes.size() != size:
        return saved
    address = faiss.rev_swig_ptr(codes.data(), size).__array_interface__["data"][0]
    return np.asarray(_GraphArray(graph, address, (rows, dimension)))


def read_graph(path: Path) -> faiss.Index:
    """The HNSW graph saved at `path` (OSError when it is missing, ValueError when it is damaged).

    The file is memory-mapped, not read into memory (a segment's files never change once written): a
    search pages in the few thousand vectors and links it visits, and the serving process holds no second
    copy of the vectors beside vectors.npy."""
    with open(path, "rb"):  # OSError with its errno when the file is missing or unreadable
        pass
    try:
        name = os.fsdecode(path)
        name.encode("utf-8")
    except UnicodeEncodeError:  # faiss takes a UTF-8 file name: read the file into memory instead
        return _read_graph_into_memory(path)
    try:
        return faiss.read_index(name, faiss.IO_FLAG_MMAP_IFC)
    except RuntimeError as error:  # what faiss raises for a file it cannot parse
        raise _damaged_graph(path, error) from error


def _read_graph_into_memory(path: Path) -> faiss.Index:
    with open(path, "rb") as handle:
        try:
            return faiss.read_index(faiss.PyCallbackIOReader(handle.read))  # type: ignore[attr-defined]
        except RuntimeError as error:
            raise _damaged_graph(path, error) from error


def _damaged_graph(path: Path, error: RuntimeError) -> ValueError:
    reason = re.sub(r"^.*\.cpp:\d+: (Error: '.*' failed: )?", "", str(error).strip().splitlines()[-1])
    return ValueError(f"the graph in {path.parent.parent.name}/{path.parent.name} cannot be read ({reason})")


def write_graph(path: Path, graph: faiss.Index) -> None:
    # Through a Python file, so that a failed write raises OSError with its errno. (mypy cannot see the
    # callback classes: faiss's loader star-imports them from the SWIG module it picks at run time.)
    with open(path, "wb") as handle:
        faiss.write_index(graph, faiss.PyCallbackIOWriter(handle.write))  # type: ignore[attr-defined]
        handle.flush()
        os.fsync(handle.fileno())


def _dot(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    # einsum rather than `@`: one pass over memory-mapped rows without BLAS threads, which contend with the
    # model's own (a single query measured 11 ms per 100,000 vectors here; faiss.knn 35 ms, `@` 17 ms).
    return np.einsum("ij,j->i", vectors, query)


def _dots(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Each query's similarity to every vector, (queries, vectors): one pass over the vectors for all, a
    block at a time, every query scored against a block while it is in the cache (faiss's SIMD inner
    products, single-threaded; numpy's einsum over the same was 2-3x slower for five queries here)."""
    count, dimension = vectors.shape
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    similarity = np.empty((len(queries), count), dtype=np.float32)
    if not count or not len(queries):
        return similarity
    stored = (
        vectors
        if vectors.flags.c_contiguous and vectors.dtype == np.float32
        else np.ascontiguousarray(vectors, np.float32)
    )
    block = max(256, DOT_BLOCK_BYTES // (4 * dimension))
    for start in range(0, count, block):
        rows = min(block, count - start)
        chunk = faiss.swig_ptr(stored[start : start + rows])
        for query, into in zip(queries, similarity):
            faiss.fvec_inner_products_ny(faiss.swig_ptr(into[start:]), faiss.swig_ptr(query), chunk, dimension, rows)  # type: ignore[attr-defined]
    return similarity


def _top(candidates: np.ndarray, similarity: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if k < len(similarity):
        best = np.argpartition(-similarity, k - 1)[:k]
    else:
        best = np.arange(len(similarity))
    best = best[np.argsort(-similarity[best], kind="stable")]
    best = best[np.isfinite(similarity[best])]
    return candidates[best].astype(np.int64), similarity[best].astype(np.float32)
