"""Incremental builds, atomic swaps, and what a corrupt, mismatched or half-built index does."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpus.errors import Remedy
from corpus.readers import load_corpus
from embeddings.chunking import ChunkerSettings
from embeddings.encoder import Encoder
from embeddings.indexer import BuildOptions, BuildProgress, IndexBusyError, build_index
from embeddings.store import (
    CURRENT_FILE,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    check_index,
    current_generation,
    open_index,
)
from tests.conftest import front_matter_article, port_article, write_corpus

SETTINGS = ChunkerSettings(max_tokens=128, overlap_tokens=24)


def build(encoder: Encoder, corpus: Path, index: Path, **kwargs):
    return build_index(load_corpus(corpus).articles, index, encoder, SETTINGS, **kwargs)


def test_incremental_reindex_embeds_only_what_changed(encoder: Encoder, news_corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    first = build(encoder, news_corpus, index)
    assert len(first.added) == 4 and first.chunks_embedded == first.chunks > 4
    assert 0 < first.embedding_seconds < first.seconds

    second = build(encoder, news_corpus, index)
    assert second.chunks_embedded == 0 and second.unchanged == 4 and second.generation == first.generation
    assert second.embedding_seconds == 0

    (news_corpus / "chip-earnings.md").write_text(
        front_matter_article(
            "Nvidia revenue triples on AI demand",
            "Market Daily",
            "2023-11-21",
            ["Nvidia reported quarterly revenue of $18.1 billion, up from $5.9 billion."],
        ),
        encoding="utf-8",
    )
    (news_corpus / "rugby-final.md").unlink()
    write_corpus(
        news_corpus,
        {
            "new.md": front_matter_article(
                "Port strike ends",
                "Harbour News",
                "2023-12-01",
                ["Dock workers voted to end a ten-day strike at the port."],
            )
        },
    )
    third = build(encoder, news_corpus, index)
    assert third.added == ["new"]
    assert third.changed == ["chip-earnings"]
    assert third.removed == ["rugby-final"]
    assert third.unchanged == 2
    # Only the new and the changed article's chunks were embedded: one chunk each.
    assert third.chunks_embedded == 2

    snapshot = open_index(index, encoder.model_name, SETTINGS)
    assert set(snapshot.articles) == {"iran-iraq-border-security-2023-12-06", "chip-exports", "chip-earnings", "new"}
    assert snapshot.vector_count() == len(snapshot.chunks) == third.chunks
    assert not any(c.article_id == "rugby-final" for c in snapshot.chunks)
    # The generation served before stays for readers that were loading it; older ones are gone.
    assert {p.name for p in (index / "generations").iterdir()} == {first.generation, third.generation}


def test_progress_reports_articles_and_chunks(encoder: Encoder, news_corpus: Path, tmp_path: Path) -> None:
    seen: list[BuildProgress] = []
    report = build(encoder, news_corpus, tmp_path / "index", progress=seen.append)
    assert seen[-1].articles_done == seen[-1].articles_total == 4
    assert seen[-1].chunks_done == seen[-1].chunks_total == report.chunks
    assert seen[-1].chunks_per_second > 0


def test_missing_index_says_to_build_it(encoder: Encoder, tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="no index at") as raised:
        open_index(tmp_path / "nothing", encoder.model_name, SETTINGS)
    assert raised.value.remedy is Remedy.REINDEX


def test_index_built_with_another_model_or_chunking_is_refused(
    encoder: Encoder, news_corpus: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    build(encoder, news_corpus, index)
    with pytest.raises(IndexMismatchError, match="ask for 'sentence-transformers/other'"):
        open_index(index, "sentence-transformers/other", SETTINGS)
    with pytest.raises(IndexMismatchError, match="chunking"):
        open_index(index, encoder.model_name, ChunkerSettings(max_tokens=200, overlap_tokens=24))
    generation = current_generation(index)
    assert generation is not None
    manifest = generation / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "format_version": 99}))
    with pytest.raises(IndexMismatchError, match="format version 99"):
        open_index(index, encoder.model_name, SETTINGS)


@pytest.mark.parametrize("damage", ["vectors", "bm25", "sqlite", "manifest", "pointer", "vector-count"])
def test_corrupt_index_is_reported_and_rebuilt(
    encoder: Encoder, news_corpus: Path, tmp_path: Path, damage: str
) -> None:
    index = tmp_path / "index"
    build(encoder, news_corpus, index)
    generation = current_generation(index)
    assert generation is not None
    (segment,) = (generation / "segments").iterdir()
    if damage == "vectors":
        (segment / "vectors" / "vectors.npy").write_bytes(b"not a vector file")
    elif damage == "bm25":
        (segment / "bm25" / "data.csc.index.npy").write_bytes(b"not an array")
    elif damage == "sqlite":
        (segment / "chunks.sqlite").write_bytes(b"garbage" * 100)
    elif damage == "manifest":
        (generation / "manifest.json").write_text("{broken")
    elif damage == "pointer":
        (index / CURRENT_FILE).write_text("../../etc")
    else:
        with sqlite3.connect(segment / "chunks.sqlite") as db:
            db.execute("DELETE FROM chunks WHERE row = 0")
    with pytest.raises(IndexCorruptError) as raised:
        open_index(index, encoder.model_name, SETTINGS)
    assert raised.value.remedy is Remedy.REINDEX
    report = build(encoder, news_corpus, index)
    assert len(report.added) == 4
    assert report.chunks_embedded == 0, "vectors come from the embedding cache"
    assert open_index(index, encoder.model_name, SETTINGS).vector_count() == report.chunks


def test_a_chunk_row_missing_from_the_middle_of_the_metadata_is_found_by_the_index_check(
    encoder: Encoder, news_corpus: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    report = build(encoder, news_corpus, index)
    generation = current_generation(index)
    assert generation is not None
    (segment,) = (generation / "segments").iterdir()
    with sqlite3.connect(segment / "chunks.sqlite") as db:
        db.execute("DELETE FROM chunks WHERE row = ?", (report.chunks // 2,))
    with pytest.raises(IndexCorruptError, match="other chunks than its metadata lists"):
        check_index(index, encoder.model_name, SETTINGS)


def test_a_build_that_fails_halfway_leaves_the_old_index_serving(
    encoder: Encoder, news_corpus: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    build(encoder, news_corpus, index)
    served = current_generation(index)
    write_corpus(
        news_corpus,
        {
            f"extra-{i}.md": front_matter_article(
                f"Council vote {i}",
                "City Paper",
                "2023-11-0" + str(i % 9 + 1),
                [f"The council voted {i} times on the budget. " * 30 + f"Item {i} passed." for _ in range(3)],
            )
            for i in range(8)
        },
    )

    def crash(progress) -> None:
        if progress.chunks_done > 0 and progress.chunks_done < progress.chunks_total:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        build(encoder, news_corpus, index, progress=crash)
    assert current_generation(index) == served
    assert len(open_index(index, encoder.model_name, SETTINGS).articles) == 4
    retry = build(encoder, news_corpus, index)
    assert retry.chunks_embedded < retry.chunks - 4, "work finished before the crash is not redone"
    assert len(open_index(index, encoder.model_name, SETTINGS).articles) == 12


def test_killed_index_process_leaves_the_old_index_intact(encoder: Encoder, news_corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    env = {
        **os.environ,
        "BYLINE_INDEX_PATH": str(index),
        "BYLINE_CORPUS_PATH": str(news_corpus),
        "BYLINE_CHUNK_TOKENS": str(SETTINGS.max_tokens),
        "BYLINE_CHUNK_OVERLAP": str(SETTINGS.overlap_tokens),
    }
    command = [sys.executable, "-m", "bot.cli", "index"]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
    served = current_generation(index)
    assert served is not None
    write_corpus(
        news_corpus,
        {
            f"long-{i}.md": front_matter_article(
                f"Long report {i}",
                "City Paper",
                "2023-11-15",
                [f"Paragraph {j} of report {i} describes the flood defences in district {j}. " * 8 for j in range(12)],
            )
            for i in range(6)
        },
    )

    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cache = index / "embedding-cache.sqlite"
    baseline = _cached_vectors(cache)
    deadline = time.monotonic() + 240
    while _cached_vectors(cache) == baseline and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    assert current_generation(index) == served
    snapshot = open_index(index, encoder.model_name, SETTINGS)
    assert len(snapshot.articles) == 4 and snapshot.vector_count() == len(snapshot.chunks)
    report = build(encoder, news_corpus, index)
    assert len(report.added) == 6 and report.chunks_embedded < report.chunks - len(snapshot.chunks)
    assert {p.name for p in (index / "generations").iterdir()} == {served.name, report.generation}


def _cached_vectors(cache: Path) -> int:
    try:
        with sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_second_build_while_one_runs_is_refused(encoder: Encoder, news_corpus: Path, tmp_path: Path) -> None:
    from filelock import FileLock

    index = tmp_path / "index"
    index.mkdir()
    with FileLock(str(index / ".lock")):
        with pytest.raises(IndexBusyError, match="Another build of the index"):
            build(encoder, news_corpus, index)


def test_too_many_segments_merge_the_small_ones_and_leave_the_first_as_it_is(
    encoder: Encoder, news_corpus: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    options = BuildOptions(max_segments=3, merge_share=100.0)  # merging everything never due here
    first = build(encoder, news_corpus, index, options=options)
    base = _segment_names(index)
    assert len(base) == 1

    report = first
    for n in range(1, 5):
        write_corpus(news_corpus, port_article(n))
        report = build(encoder, news_corpus, index, options=options)
        assert report.added == [f"port-{n}"] and report.chunks_embedded == 1
    names = _segment_names(index)
    assert names[0] == base[0], "the first segment is never written again"
    assert len(names) <= 3 and report.segments == len(names)
    snapshot = open_index(index, encoder.model_name, SETTINGS)
    assert set(snapshot.articles) >= {f"port-{n}" for n in range(1, 5)}
    assert snapshot.vector_count() == len(snapshot.chunks) == first.chunks + 4
    snapshot.close()

    for n in range(1, 5):  # every article of the segments after the first goes: those segments go too
        (news_corpus / f"port-{n}.md").unlink()
    gone = build(encoder, news_corpus, index, options=options)
    assert sorted(gone.removed) == [f"port-{n}" for n in range(1, 5)]
    assert _segment_names(index) == base and gone.chunks == first.chunks


def _segment_names(index: Path) -> list[str]:
    generation = current_generation(index)
    assert generation is not None
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    return [segment["name"] for segment in manifest["segments"]]
