"""The encoder on OpenVINO gives torch's vectors; sentence spans pooled in context; the choice of runtime."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from corpus.readers.scraped import parse_scraped
from embeddings.chunking import Chunker, ChunkerSettings, sentence_spans
from embeddings.encoder import Encoder, ModelLoadError, Runtime
from embeddings.pooling import EmptySpanError
from tests.conftest import EXTRA_ARTICLES, seed_text

QUESTIONS = [
    "What did Baqeri propose?",
    "Which chips did the new export rules block?",
    "Who won the Rugby World Cup final?",
    "?",
]


@pytest.fixture(scope="module")
def torch_encoder() -> Encoder:
    """The reference: the same model run by sentence-transformers on torch."""
    return Encoder(runtime=Runtime.TORCH)


@pytest.fixture(scope="module")
def passages(encoder: Encoder) -> list[str]:
    """Chunks of the seed article of close to 250 tokens."""
    chunker = Chunker(encoder.tokenizer, ChunkerSettings(max_tokens=254, overlap_tokens=32))
    chunks = [c.text for c in chunker.chunk(parse_scraped(seed_text(), "seed"))]
    counts = chunker.count_tokens(chunks)
    long = [text for text, count in zip(chunks, counts) if count >= 200]
    assert len(long) >= 3
    return long


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_the_suite_runs_the_model_on_openvino(encoder: Encoder) -> None:
    assert encoder.runtime == Runtime.OPENVINO


def test_openvino_vectors_equal_torch_vectors(encoder: Encoder, torch_encoder: Encoder, passages: list[str]) -> None:
    short_articles = [text.split("---")[-1].strip() for text in EXTRA_ARTICLES.values()]
    mixed = [passages[0], QUESTIONS[0], *short_articles, passages[1], QUESTIONS[1], passages[2], *QUESTIONS[2:]]
    for texts in (QUESTIONS, passages, mixed, [passages[0]], [QUESTIONS[0]]):
        ours, reference = encoder.encode(texts), torch_encoder.encode(texts)
        assert ours.shape == reference.shape == (len(texts), 384) and ours.dtype == np.float32
        assert cosines(ours, reference).min() >= 0.9999
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_long_texts_are_read_up_to_256_tokens_as_torch_does(encoder: Encoder, torch_encoder: Encoder) -> None:
    long = " ".join(seed_text().split()[:600])
    assert len(encoder.tokenizer.encode(long).ids) > 400
    cut_at_256 = encoder.tokenizer.decode(encoder.tokenizer.encode(long, add_special_tokens=False).ids[:254])
    cut_at_128 = encoder.tokenizer.decode(encoder.tokenizer.encode(long, add_special_tokens=False).ids[:126])
    vectors = encoder.encode([long, cut_at_256, cut_at_128])
    assert float(cosines(vectors[:1], torch_encoder.encode([long]))[0]) >= 0.9999
    assert float(vectors[0] @ vectors[1]) > 0.999, "the whole 256-token window is read"
    assert float(vectors[0] @ vectors[2]) < 0.99, "not only the tokenizer file's 128 tokens"


def test_inputs_are_tokenized_as_sentence_transformers_does(encoder: Encoder, passages: list[str]) -> None:
    texts = [" ".join(seed_text().split()[:600]), *QUESTIONS, passages[0], "  padded  "]
    path = encoder._torch_path
    assert path is not None
    batch = path.tokenizer.batch(list(range(len(texts))), path.tokenizer.encode(texts))
    reference = encoder._model.preprocess(texts)
    for name in ("input_ids", "token_type_ids", "attention_mask"):
        np.testing.assert_array_equal(batch.inputs[name], reference[name].numpy())


# --- Vectors of sentences from the passage's forward pass ---------------------------------------------


def reference_span_vector(torch_encoder: Encoder, text: str, start: int, end: int) -> np.ndarray:
    """Mean of sentence-transformers' own token embeddings over the tokens inside [start, end), normalised."""
    tokens = torch_encoder._model.encode(text, output_value="token_embeddings", convert_to_numpy=True)
    offsets = torch_encoder._model.tokenizer(text, return_offsets_mapping=True, truncation=True, max_length=256)
    inside = [i for i, (a, b) in enumerate(offsets["offset_mapping"]) if b > a and a < end and b > start]
    vector = np.asarray(tokens)[inside].mean(axis=0)
    return vector / np.linalg.norm(vector)


def test_span_vectors_pool_the_tokens_of_each_span(
    encoder: Encoder, torch_encoder: Encoder, passages: list[str]
) -> None:
    text = passages[0]
    sentences = sentence_spans(text)
    word = text.index("Iran")
    spans = [sentences[0], sentences[len(sentences) // 2], sentences[-1], (0, 1), (len(text) - 1, len(text))]
    spans.append((word, word + len("Iran")))  # a single token
    assert encoder.tokenizer.encode(text[word : word + 4], add_special_tokens=False).ids.__len__() == 1
    result = encoder.encode_with_spans([text], [spans])
    assert result.spans.shape == (len(spans), 384) and result.spans_of(0).shape == (len(spans), 384)
    for vector, (start, end) in zip(result.spans_of(0), spans):
        assert float(vector @ reference_span_vector(torch_encoder, text, start, end)) >= 0.9999, (start, end)
    np.testing.assert_allclose(np.linalg.norm(result.spans, axis=1), 1.0, atol=1e-5)


def test_passage_vectors_come_with_their_sentences(encoder: Encoder, passages: list[str]) -> None:
    texts = [passages[0], QUESTIONS[0], passages[1]]
    spans = [sentence_spans(passages[0]), [], sentence_spans(passages[1])[:2]]
    result = encoder.encode_with_spans(texts, spans)
    assert cosines(result.passages, encoder.encode(texts)).min() >= 0.99999
    assert [len(result.spans_of(i)) for i in range(3)] == [len(spans[0]), 0, 2]
    alone = encoder.encode([passages[1][s:e] for s, e in spans[2]])
    # In context a sentence's vector differs from the sentence alone, but stays about the same sentence.
    assert 0.6 < cosines(result.spans_of(2), alone).min() < 0.9999
    assert result.spans_of(2)[0] @ alone[0] > result.spans_of(2)[0] @ alone[1]


def test_spans_past_the_window_are_embedded_alone(encoder: Encoder) -> None:
    long = " ".join(seed_text().split()[:600])
    last = sentence_spans(long)[-1]
    result = encoder.encode_with_spans([long], [[last]])
    assert float(result.spans[0] @ encoder.encode([long[last[0] : last[1]]])[0]) >= 0.99999


@pytest.mark.parametrize("span", [(5, 5), (9, 3), (-1, 4), (0, 10_000), (4, 7)])
def test_empty_or_impossible_spans_are_rejected(encoder: Encoder, span: tuple[int, int]) -> None:
    text = "Iran   and Iraq met."
    with pytest.raises(EmptySpanError):
        encoder.encode_with_spans([text], [[(0, 4), span]])
    with pytest.raises(ValueError, match="2 texts but 1"):
        encoder.encode_with_spans([text, text], [[(0, 4)]])


# --- Choosing the runtime ------------------------------------------------------------------------------


def test_without_openvino_auto_falls_back_to_torch_saying_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, torch_encoder: Encoder
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if the package were not installed
    fallback = Encoder()
    with caplog.at_level(logging.WARNING, logger="embeddings.encoder"):
        assert fallback.runtime == Runtime.TORCH
    lines = [r.getMessage() for r in caplog.records if r.name == "embeddings.encoder"]
    assert len(lines) == 1 and lines[0].startswith("embedding with torch, not OpenVINO: openvino cannot be imported")
    np.testing.assert_array_equal(fallback.encode(QUESTIONS), torch_encoder.encode(QUESTIONS))

    with pytest.raises(ModelLoadError, match="cannot run embedding model .* on OpenVINO: openvino cannot be imported"):
        Encoder(runtime=Runtime.OPENVINO).encode(QUESTIONS)


def test_runtime_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import IndexSettings, SettingsError, load_section

    monkeypatch.setenv("BYLINE_RUNTIME", "torch")
    settings = load_section(IndexSettings)
    assert settings.runtime == Runtime.TORCH
    monkeypatch.setenv("BYLINE_RUNTIME", "cuda")
    with pytest.raises(SettingsError, match="BYLINE_RUNTIME: Input should be 'auto', 'openvino' or 'torch'"):
        load_section(IndexSettings)


SIGNAL_AFTER_ENCODERS_ARE_FREED = """
import gc, os, signal
from embeddings.encoder import Encoder
first = Encoder(); first.encode(["one"])
second = Encoder(); second.encode(["two"])
del first; gc.collect()
del second; gc.collect()
signal.signal(signal.SIGUSR1, lambda *_: print("handled", flush=True))
os.kill(os.getpid(), signal.SIGUSR1)
"""


def test_a_signal_after_encoders_are_freed_in_any_order_runs_its_handler() -> None:
    """Encoders on OpenVINO made and freed on the main thread must leave its signal stack usable: before,
    each encoder's OpenVINO CPU plugin swapped the thread's alternate signal stack for one it unmapped on
    exit, so the next signal (a SIGTERM to `byline run`) killed the process with SIGSEGV."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", SIGNAL_AFTER_ENCODERS_ARE_FREED], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert done.stdout.splitlines() == ["handled"]
