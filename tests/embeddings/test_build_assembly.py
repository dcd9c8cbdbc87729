"""The segment a build assembles: each chunk keeps the sentence vectors its own forward pass gave, also a chunk
two articles share (embedded once, stored twice), and a rebuild from the embedding cache stores the same
(real model, real index files). A merge copies the sentence vectors of the chunks that stay, a block at a time,
through scratch files it deletes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embeddings.encoder import Encoder
from embeddings.indexer import BuildOptions
from embeddings.store import open_index
from tests.conftest import front_matter_article, write_corpus
from tests.embeddings.test_indexer import SETTINGS, build

SHARED = (
    "The harbour council approved the new ferry timetable on Monday. Ferries will now run every twenty "
    "minutes between the island and the mainland."
)


def _stored_sentences(encoder: Encoder, index: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    with open_index(index, encoder.model_name, SETTINGS) as snapshot:
        return [
            (chunk.text, *segment.sentences(row))
            for segment in snapshot.segments
            for row, chunk in segment.all_chunks()
        ]


def _stored_tokens(encoder: Encoder, index: Path) -> dict[str, tuple[list[str], list[int]]]:
    """Each chunk's BM25 words and their sentence numbers, by chunk text."""
    found = {}
    with open_index(index, encoder.model_name, SETTINGS) as snapshot:
        for segment in snapshot.segments:
            table = segment.tokens()
            for row, chunk in segment.all_chunks():
                mine = slice(int(table.offsets[row]), int(table.offsets[row + 1]))
                words = [table.vocabulary[i] for i in np.asarray(table.flat[mine]).tolist()]
                found[chunk.text] = (words, np.asarray(table.sentences[mine]).tolist())
    return found


def test_each_chunk_keeps_its_own_sentence_vectors_also_one_two_articles_share(
    encoder: Encoder, tmp_path: Path
) -> None:
    files = {
        "ferry.md": front_matter_article("Ferry timetable", "Harbour News", "2023-11-01", [SHARED]),
        "ferry-copy.md": front_matter_article("Ferries every twenty minutes", "Coast Daily", "2023-11-02", [SHARED]),
        "bridge.md": front_matter_article(
            "Bridge repairs",
            "Harbour News",
            "2023-11-03",
            ["Engineers closed the old bridge for repairs. The work will take three weeks, the council said."],
        ),
    }
    corpus = write_corpus(tmp_path / "corpus", files)
    build(encoder, corpus, tmp_path / "index")
    stored = _stored_sentences(encoder, tmp_path / "index")

    assert [text for text, _, _ in stored].count(SHARED) == 2
    for text, spans, vectors in stored:
        expected = encoder.encode_with_spans([text], [[tuple(span) for span in spans.tolist()]]).spans_of(0)
        assert len(spans) >= 2 and vectors.shape == expected.shape
        np.testing.assert_allclose(vectors, expected, atol=2e-3)  # stored as float16

    (tmp_path / "index" / "CURRENT").unlink()  # a rebuild from scratch, every vector from the cache
    rebuilt = build(encoder, corpus, tmp_path / "index")
    assert rebuilt.chunks_embedded == 0
    again = _stored_sentences(encoder, tmp_path / "index")
    assert [text for text, _, _ in again] == [text for text, _, _ in stored]
    for (_, spans, vectors), (_, spans_again, vectors_again) in zip(stored, again, strict=True):
        np.testing.assert_array_equal(spans_again, spans)
        np.testing.assert_array_equal(vectors_again, vectors)


def test_a_build_leaves_no_scratch_file_and_clears_one_an_interrupted_build_left(
    encoder: Encoder, tmp_path: Path
) -> None:
    files = {"ferry.md": front_matter_article("Ferry timetable", "Harbour News", "2023-11-01", [SHARED])}
    corpus = write_corpus(tmp_path / "corpus", files)
    index = tmp_path / "index"
    build(encoder, corpus, index)
    assert not list(index.glob(".scratch-*"))

    left = index / ".scratch-0123-sentences.npy"  # what a build killed while assembling leaves
    left.write_bytes(b"\x93NUMPY" + bytes(100))
    write_corpus(
        corpus, {"bridge.md": front_matter_article("Bridge", "Harbour News", "2023-11-03", [SHARED + " Again."])}
    )
    report = build(encoder, corpus, index)
    assert report.added and not list(index.glob(".scratch-*"))


def test_a_full_merge_keeps_every_remaining_chunks_sentence_vectors(encoder: Encoder, tmp_path: Path) -> None:
    bridge = ["Engineers closed the old bridge for repairs. The work will take three weeks, the council said."]
    files = {
        "ferry.md": front_matter_article("Ferry timetable", "Harbour News", "2023-11-01", [SHARED]),
        "bridge.md": front_matter_article("Bridge repairs", "Harbour News", "2023-11-03", bridge),
        "market.md": front_matter_article(
            "Market hall", "Coast Daily", "2023-11-04", ["The market hall reopens on Saturday. Forty stalls return."]
        ),
    }
    corpus = write_corpus(tmp_path / "corpus", files)
    index = tmp_path / "index"
    options = BuildOptions(merge_share=0.0)  # any change merges everything into one segment
    build(encoder, corpus, index, options=options)
    before = {text: (spans, vectors) for text, spans, vectors in _stored_sentences(encoder, index)}
    tokens_before = _stored_tokens(encoder, index)

    (corpus / "market.md").unlink()  # rows of the first segment go: the rest are copied
    write_corpus(
        corpus,
        {
            "school.md": front_matter_article(
                "School roof", "Coast Daily", "2023-11-05", ["The school roof leaks. Repairs start soon."]
            )
        },
    )
    merged = build(encoder, corpus, index, options=options)
    assert merged.segments == 1 and merged.removed == ["market"] and merged.added == ["school"]
    write_corpus(
        corpus,
        {
            "pier.md": front_matter_article(
                "Pier lights", "Harbour News", "2023-11-06", ["New lights line the pier. They are solar powered."]
            )
        },
    )
    again = build(encoder, corpus, index, options=options)  # every row stays: copied from the segment's own file
    assert again.segments == 1 and again.added == ["pier"]

    stored = _stored_sentences(encoder, index)
    texts = [text for text, _, _ in stored]
    assert len(texts) == 4 and not any("market hall" in text for text in texts)
    for text, spans, vectors in stored:
        if text in before:
            np.testing.assert_array_equal(spans, before[text][0])
            np.testing.assert_array_equal(vectors, before[text][1])
        else:
            expected = encoder.encode_with_spans([text], [[tuple(span) for span in spans.tolist()]]).spans_of(0)
            np.testing.assert_allclose(vectors, expected, atol=2e-3)
    tokens = _stored_tokens(encoder, index)
    kept = [text for text in tokens if text in tokens_before]
    assert len(kept) == 2 and all(tokens[text] == tokens_before[text] for text in kept), "words and sentences kept"
    assert all(len(set(numbers) - {-1}) >= 2 for _, numbers in tokens.values())
    assert not list(index.glob(".scratch-*"))
