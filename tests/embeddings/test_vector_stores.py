"""One contract for every vector store: FAISS (exact and HNSW) and Milvus, both through milvus-lite and
against a real Milvus server (standalone 2.3 from the PyPI `milvus` package, or BYLINE_TEST_MILVUS_URI)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from embeddings.rows import NO_DAY, RowFields, RowFilter
from embeddings.vectors.base import VectorStore, VectorStoreError
from embeddings.vectors.faiss_store import FaissVectorStore
from embeddings.vectors.milvus_store import MilvusVectorStore

DIMENSION = 16
Opener = Callable[[int], VectorStore]


def unit(rows: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def fields(count: int) -> RowFields:
    """Row i: tenant "" or "g1", outlet A/B/C, author X or Y, day 100 + i (every tenth undated)."""
    return RowFields(
        tenants=["" if i % 2 else "g1" for i in range(count)],
        outlets=["Outlet " + "ABC"[i % 3] for i in range(count)],
        authors=["Ann X" if i % 4 < 2 else "Bo Y" for i in range(count)],
        days=[NO_DAY if i % 10 == 9 else 100 + i for i in range(count)],
    )


@pytest.fixture(params=["faiss-flat", "faiss-hnsw", "milvus-lite", "milvus-server"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the same store (by folder or URI) again and again, at a given dimension."""
    opened: list[VectorStore] = []
    kind = request.param
    server_uri = request.getfixturevalue("milvus_server_uri") if kind == "milvus-server" else ""
    collection = f"contract_{os.getpid()}_{abs(hash(request.node.name)) % 10**8}"

    def open_store(dimension: int) -> VectorStore:
        store: VectorStore
        if kind.startswith("faiss"):
            folder = tmp_path / "faiss"
            threshold = 1 if kind == "faiss-hnsw" else 10**9
            if (folder / "store.json").exists():
                store = FaissVectorStore.open(folder, dimension)
            else:
                store = FaissVectorStore(folder, dimension, hnsw_threshold=threshold)
        else:
            uri = server_uri or str(tmp_path / "milvus.db")
            store = MilvusVectorStore(uri, collection, dimension)
        opened.append(store)
        return store

    yield open_store
    if kind == "milvus-server":
        store = open_store(DIMENSION)
        assert isinstance(store, MilvusVectorStore)
        store.drop()
    for store in opened:
        store.close()


def test_an_empty_store_finds_nothing(opener: Opener) -> None:
    store = opener(DIMENSION)
    assert store.count() == 0
    ids, scores = store.search(unit(1)[0], 5)
    assert len(ids) == len(scores) == 0


def test_search_returns_the_nearest_ids_best_first(opener: Opener) -> None:
    store = opener(DIMENSION)
    vectors = unit(60)
    ids = np.arange(1000, 1060, dtype=np.int64)
    store.add(ids, vectors, fields(60))
    store.save()
    assert store.count() == 60
    exact = np.argsort(-(vectors @ vectors[7]))[:5]
    found, scores = store.search(vectors[7], 5)
    assert found.tolist() == (1000 + exact).tolist()
    assert scores[0] == pytest.approx(1.0, abs=1e-4)
    assert list(scores) == sorted(scores, reverse=True)
    assert len(store.search(vectors[7], 500)[0]) == 60, "k larger than the store gives every vector"


def test_filters_are_applied_inside_the_search(opener: Opener) -> None:
    store = opener(DIMENSION)
    vectors, rows = unit(60), fields(60)
    store.add(np.arange(60, dtype=np.int64), vectors, rows)
    store.save()

    def allowed(where: RowFilter) -> set[int]:
        return set(store.search(vectors[0], 60, where)[0].tolist())

    assert allowed(RowFilter(tenants=("g1",))) == {i for i in range(60) if i % 2 == 0}
    assert allowed(RowFilter(tenants=("", "g1"))) == set(range(60))
    assert allowed(RowFilter(outlets=("Outlet B", "Outlet C"))) == {i for i in range(60) if i % 3}
    assert allowed(RowFilter(authors=("Bo Y",))) == {i for i in range(60) if i % 4 >= 2}
    undated = {i for i in range(60) if i % 10 == 9}
    assert allowed(RowFilter(since=110)) == set(range(10, 60)) - undated
    assert allowed(RowFilter(until=110)) == set(range(11)) - undated
    assert allowed(RowFilter(day_ranges=((100, 101), (150, 150)))) == {0, 1, 50}
    assert allowed(RowFilter(max_id=5, exclude_ids=(2, 3))) == {0, 1, 4, 5}
    assert allowed(RowFilter(tenants=("g1",), outlets=("Outlet A",), since=130)) == {30, 36, 42, 48, 54}
    assert allowed(RowFilter(outlets=("Nobody",))) == set()
    assert allowed(RowFilter(day_ranges=())) == set()
    best, _ = store.search(vectors[3], 1, RowFilter(tenants=("g1",)))
    assert best.tolist() != [3], "the best match is filtered out, not returned"


def test_removed_ids_are_not_found_and_re_adding_replaces(opener: Opener) -> None:
    store = opener(DIMENSION)
    vectors = unit(30)
    store.add(np.arange(30, dtype=np.int64), vectors, fields(30))
    store.remove(np.array([4, 5, 999], dtype=np.int64))
    store.save()
    assert store.count() == 28
    assert not {4, 5} & set(store.search(vectors[4], 30)[0].tolist())
    store.add(np.array([4], dtype=np.int64), vectors[9:10], fields(1))
    store.save()
    found, scores = store.search(vectors[9], 2)
    assert set(found.tolist()) == {4, 9} and store.count() == 29


def test_what_was_saved_is_there_when_opened_again(opener: Opener) -> None:
    store = opener(DIMENSION)
    vectors = unit(40, seed=3)
    store.add(np.arange(40, dtype=np.int64) * 2, vectors, fields(40))
    store.save()
    store.close()
    again = opener(DIMENSION)
    assert again.count() == 40
    assert again.search(vectors[11], 1)[0].tolist() == [22]
    assert again.search(vectors[11], 3, RowFilter(tenants=("",)))[0].tolist()[0] in {2 * i for i in range(1, 40, 2)}


def test_a_store_of_another_dimension_is_refused(opener: Opener) -> None:
    store = opener(DIMENSION)
    with pytest.raises(VectorStoreError):
        store.add(np.arange(3, dtype=np.int64), unit(3)[:, :8], fields(3))
    store.add(np.arange(3, dtype=np.int64), unit(3), fields(3))
    store.save()
    store.close()
    with pytest.raises(VectorStoreError, match="dimensions"):
        opener(DIMENSION * 2)


def mapped_files() -> set[str]:
    with open("/proc/self/maps", encoding="utf-8") as maps:
        return {line.split(maxsplit=5)[5].strip() for line in maps if len(line.split(maxsplit=5)) == 6}


def test_an_hnsw_store_searches_its_graph_in_place_and_verifies_it_against_its_vectors(tmp_path: Path) -> None:
    import gc

    from embeddings.files import FilesDisagreeError
    from embeddings.vectors.faiss_store import GRAPH_FILE, build_graph, write_graph

    folder, vectors = tmp_path / "faiss", unit(300)
    saving = FaissVectorStore(folder, DIMENSION, hnsw_threshold=100)
    saving.add(np.arange(300), vectors, fields(300))
    saving.save()
    saving.close()

    store = FaissVectorStore.open(folder, DIMENSION)
    assert store.kind == "hnsw" and str(folder / GRAPH_FILE) in mapped_files(), "the graph is memory-mapped"
    assert np.array_equal(store.vectors, vectors) and not store.vectors.flags.writeable
    ids, scores = store.search(vectors[7], 3)
    assert ids[0] == 7 and scores[0] == pytest.approx(1.0, abs=1e-5)
    view = store.vectors[:5]
    store.close()
    gc.collect()
    assert np.array_equal(view, vectors[:5]), "a view of the graph's vectors keeps the graph alive"
    del view
    gc.collect()
    assert str(folder / GRAPH_FILE) not in mapped_files(), "let go of once nothing uses it"

    write_graph(folder / GRAPH_FILE, build_graph(unit(300, seed=1)))  # a graph of other vectors
    damaged = FaissVectorStore.open(folder, DIMENSION)
    with pytest.raises(FilesDisagreeError, match="holds other vectors than vectors.npy"):
        damaged.verify()
    damaged.close()
