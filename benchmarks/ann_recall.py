"""Approximate search at archive scale (issue 8, target 3): Byline's FAISS vector store at N vectors,
searched through its HNSW graph and exactly, in the same run.

    python benchmarks/ann_recall.py [--vectors 1000000] [--queries 300]

The vectors are synthetic but shaped like news embeddings: unit vectors in 384 dimensions drawn around
many topic centres (a story's chunks sit close together), not uniform noise, which no real model
produces and which is the worst case for a graph index. Queries are new points drawn the same way.
Prints, for the store without a filter and with a filter allowing a third of the rows (one tenant of
three): the build time of the graph, p50/p99 of one query through HNSW and exactly, and recall@10 of
HNSW against the exact top 10.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from embeddings.rows import RowFields, RowFilter  # noqa: E402
from embeddings.vectors.faiss_store import HNSW_EF_SEARCH, HNSW_M, FaissVectorStore  # noqa: E402

DIMENSION = 384
PER_TOPIC = 40  # chunks per topic centre (a few articles' worth)


def news_like_vectors(count: int, topics: np.ndarray, rng: np.random.Generator, spread: float) -> np.ndarray:
    """`count` unit vectors, each near a randomly chosen topic centre."""
    out = np.empty((count, DIMENSION), dtype=np.float32)
    for start in range(0, count, 100_000):
        stop = min(count, start + 100_000)
        centres = topics[rng.integers(0, len(topics), stop - start)]
        noise = rng.standard_normal((stop - start, DIMENSION), dtype=np.float32) * spread
        block = centres + noise
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def timed_search(
    store: FaissVectorStore, queries: np.ndarray, where: RowFilter | None, exact: bool
) -> tuple[list[np.ndarray], list[float]]:
    found, seconds = [], []
    allowed = store.allowed(where)
    graph = store._graph
    if exact:
        store._graph = None  # the same store searched exactly: the baseline of this run
    try:
        for query in queries:
            started = time.perf_counter()
            rows, _ = store.search_rows(query, 10, allowed)
            seconds.append(time.perf_counter() - started)
            found.append(rows)
    finally:
        store._graph = graph
    return found, seconds


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(label: str, store: FaissVectorStore, queries: np.ndarray, where: RowFilter | None) -> None:
    exact, exact_s = timed_search(store, queries, where, exact=True)
    approximate, approximate_s = timed_search(store, queries, where, exact=False)
    recall = statistics.mean(
        len(set(a.tolist()) & set(e.tolist())) / max(1, len(e)) for a, e in zip(approximate, exact)
    )
    p50, p99 = percentile(approximate_s, 0.5) * 1000, percentile(approximate_s, 0.99) * 1000
    e50 = percentile(exact_s, 0.5) * 1000
    print(
        f"{label}: HNSW p50 {p50:.2f} ms ({p50 / e50:.3f}x exact search's {e50:.1f} ms), p99 {p99:.2f} ms; "
        f"recall@10 against exact {recall:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--spread", type=float, default=0.06, help="noise per dimension around a topic centre")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    topics = rng.standard_normal((max(1, args.vectors // PER_TOPIC), DIMENSION), dtype=np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    vectors = news_like_vectors(args.vectors, topics, rng, args.spread)
    queries = news_like_vectors(args.queries, topics, rng, args.spread)
    tenants = ["", "server-a", "server-b"]
    fields = RowFields(
        tenants=[tenants[i % 3] for i in range(args.vectors)],
        outlets=["Outlet"] * args.vectors,
        authors=[""] * args.vectors,
        days=[19_600 + i % 90 for i in range(args.vectors)],
    )
    with tempfile.TemporaryDirectory() as folder:
        store = FaissVectorStore(Path(folder) / "store", DIMENSION, hnsw_threshold=1)
        store.add(np.arange(args.vectors, dtype=np.int64), vectors, fields)
        del vectors
        started = time.perf_counter()
        store.save()
        print(
            f"{args.vectors:,} vectors of {DIMENSION} dimensions: HNSW (M={HNSW_M}, efSearch={HNSW_EF_SEARCH}) "
            f"built and saved in {time.perf_counter() - started:.0f} s; store kind: {store.kind}"
        )
        report("no filter", store, queries, None)
        report("one tenant of three", store, queries, RowFilter(tenants=("server-a",)))
        report("last 30 days", store, queries, RowFilter(since=19_600 + 60))


if __name__ == "__main__":
    main()
