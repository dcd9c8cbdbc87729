"""Sentence vectors are read by rows with pread: the rows asked for, without mapping the file's pages into
the serving process (a memory map of a page-cache-hot file grew its resident memory with every question)."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import numpy as np
import pytest

from embeddings.encoder import Encoder
from embeddings.files import NpyRows, write_npy
from embeddings.store import open_index
from tests.conftest import front_matter_article, make_byline, write_corpus
from tests.embeddings.test_indexer import SETTINGS, build


def test_rows_are_the_rows_numpy_reads(tmp_path: Path) -> None:
    array = np.random.default_rng(7).standard_normal((50, 24)).astype(np.float16)
    write_npy(tmp_path / "v1.npy", array)
    with open(tmp_path / "v2.npy", "wb") as handle:  # numpy writes format 2.0 for headers over 64 KiB
        np.lib.format.write_array_header_2_0(handle, np.lib.format.header_data_from_array_1_0(array))
        handle.write(array.tobytes())
    for name in ("v1.npy", "v2.npy"):
        rows = NpyRows(tmp_path / name)
        assert rows.shape == (50, 24) and len(rows) == 50
        np.testing.assert_array_equal(rows.rows(3, 9), array[3:9])
        np.testing.assert_array_equal(rows.rows(49, 50), array[49:])
        assert rows.rows(10, 10).shape == (0, 24)
        rows.close()


def test_a_file_cut_short_or_not_a_matrix_is_refused_clearly(tmp_path: Path) -> None:
    array = np.ones((10, 8), dtype=np.float16)
    write_npy(tmp_path / "short.npy", array)
    whole = (tmp_path / "short.npy").read_bytes()
    (tmp_path / "short.npy").write_bytes(whole[: len(whole) - 20])
    rows = NpyRows(tmp_path / "short.npy")
    np.testing.assert_array_equal(rows.rows(0, 2), array[:2])
    with pytest.raises(OSError, match="ends before row 10 of 10"):
        rows.rows(8, 10)
    rows.close()
    with pytest.raises(OSError, match="after the file was closed"):
        rows.rows(0, 2)
    write_npy(tmp_path / "flat.npy", np.ones(10, dtype=np.float16))
    with pytest.raises(ValueError, match="flat.npy cannot be read"):
        NpyRows(tmp_path / "flat.npy")
    (tmp_path / "text.npy").write_text("not numbers")
    with pytest.raises(ValueError, match="text.npy cannot be read"):
        NpyRows(tmp_path / "text.npy")


def _resident_kb(path: Path) -> int:
    """This process's resident memory in the mappings of `path`, from /proc/self/smaps."""
    resident, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and not fields[0].endswith(":"):
            inside = len(fields) > 5 and fields[5] == str(path)
        elif inside and fields[0] == "Rss:":
            resident += int(fields[1])
    return resident


def test_reading_every_chunks_sentences_maps_none_of_the_file(
    encoder: Encoder, news_corpus: Path, tmp_path: Path
) -> None:
    build(encoder, news_corpus, tmp_path / "index")
    with open_index(tmp_path / "index", encoder.model_name, SETTINGS) as snapshot:
        segment = snapshot.segments[0]
        sentences = segment.folder / "sentences.npy"
        assert sentences.stat().st_size > 4096
        whole = np.load(sentences)
        for row in range(segment.rows):
            spans, vectors = segment.sentences(row)
            first, last = int(segment.sentence_offsets[row]), int(segment.sentence_offsets[row + 1])
            assert len(spans) == len(vectors) == last - first > 0
            np.testing.assert_array_equal(vectors, whole[first:last].astype(np.float32))
        assert _resident_kb(sentences.resolve()) == 0


def _open_sentence_files(under: Path) -> list[str]:
    """The sentences.npy files under `under` this process holds a descriptor of."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed since listed
        if target.endswith("/sentences.npy") and target.startswith(str(under.resolve())):
            found.append(target)
    return found


def test_indexes_swapped_out_by_reindexes_let_go_of_their_files(
    encoder: Encoder, news_corpus: Path, tmp_path: Path
) -> None:
    byline = make_byline(encoder, news_corpus, tmp_path / "index")
    byline.reindex()
    for n in range(6):
        byline.ask("What did Baqeri propose?")  # reads sentence vectors of the served index
        story = front_matter_article(f"Harbour story {n}", "Harbour News", "2023-12-01", [f"Ferry {n} docked."])
        write_corpus(news_corpus, {f"harbour-{n}.md": story})
        byline.reindex()  # a new generation is served; the old one is dropped
    byline.ask("What did Baqeri propose?")
    gc.collect()
    served = {str(segment.folder / "sentences.npy") for segment in byline.searcher().snapshot.segments}
    held = _open_sentence_files(tmp_path)
    assert held and set(held) <= served, "only the served generation's files are held open"
    byline.close()
    assert _open_sentence_files(tmp_path) == []
