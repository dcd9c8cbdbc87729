"""Any sentence-transformers folder works as BYLINE_MODEL: the tiny benchmark model, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from embeddings.chunking import sentence_spans
from embeddings.encoder import Encoder, Runtime
from tests.conftest import news_files, seed_text, write_corpus
from tests.embeddings.conftest import REPO, make_tiny_model


def byline(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_tiny_model_indexes_and_answers_through_the_cli(tiny_model: Path, tmp_path: Path) -> None:
    files: dict[str, str | bytes] = dict(news_files())
    env = {
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "BYLINE_MODEL": str(tiny_model),
        "BYLINE_CORPUS_PATH": str(write_corpus(tmp_path / "corpus", files)),
        "BYLINE_INDEX_PATH": str(tmp_path / "index"),
    }
    index = byline("index", env=env)
    assert index.returncode == 0, index.stderr
    assert "4 articles" in index.stdout and "4 added" in index.stdout

    asked = byline("ask", "What did Baqeri propose?", "--json", env=env)
    assert asked.returncode == 0, asked.stderr
    record = json.loads(asked.stdout)
    assert record["passages"], "search ran over the tiny model's index"
    assert {p["article_id"] for p in record["passages"]} <= {"iran-iraq-border-security-2023-12-06"} | {
        name.removesuffix(".md") for name in news_files()
    }
    assert record["answer"]["refused"] or record["answer"]["citations"]

    status = byline("sources", env=env)
    assert status.returncode == 0 and "4 articles" in status.stdout

    manifest = json.loads(next((tmp_path / "index").glob("generations/*/manifest.json")).read_text())
    assert manifest["model"] == str(tiny_model) and manifest["dimension"] == 384


def test_the_tiny_model_on_openvino_applies_its_dense_layer(tiny_model: Path, model_cache: Path) -> None:
    ours = Encoder(str(tiny_model), model_cache=model_cache)
    reference = Encoder(str(tiny_model), runtime=Runtime.TORCH)
    texts = ["What did Baqeri propose?", seed_text()[:1500], "Iran"]
    assert ours.runtime == Runtime.OPENVINO and ours.dimension == 384 and ours.max_tokens == 254
    assert np.sum(ours.encode(texts) * reference.encode(texts), axis=1).min() >= 0.9999
    spans = [[(0, 4)], sentence_spans(texts[1]), [(0, 4)]]
    in_context, torch_in_context = ours.encode_with_spans(texts, spans), reference.encode_with_spans(texts, spans)
    assert np.sum(in_context.spans * torch_in_context.spans, axis=1).min() >= 0.9999
    # The Dense layer maps an all-zero pooled vector to its bias: a span vector is pooled, not zero.
    assert np.abs(in_context.spans_of(0)[0] - ours.encode(["Iran"])[0]).max() > 1e-3


def test_a_model_that_does_not_mean_pool_embeds_spans_alone(tmp_path: Path, model_cache: Path) -> None:
    model = make_tiny_model(tmp_path / "cls-model", "--pooling", "cls")
    encoder = Encoder(str(model), model_cache=model_cache)
    text = seed_text()[:600]
    spans = sentence_spans(text)[:3]
    result = encoder.encode_with_spans([text], [spans])
    alone = encoder.encode([text[s:e] for s, e in spans])
    np.testing.assert_allclose(result.spans, alone, atol=1e-6)
    np.testing.assert_allclose(result.passages, encoder.encode([text]), atol=1e-6)
