"""The converted model is kept on disk: reused, rebuilt when damaged, never left half-written."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from embeddings.encoder import Encoder, Runtime
from tests.embeddings.conftest import REPO, make_tiny_model

TEXTS = ["What did Baqeri propose?", "Iran and Iraq agreed to strengthen security along their shared border. " * 12]
# What serves the model without torch: its tokenizer, window and inputs, its Dense layer, torch's probe vectors.
SERVING_FILES = {"serving.json", "tokenizer.json", "probe.npy", "head-0-weight.npy", "head-0-bias.npy"}
SPAN_TEXTS = ["Iran and Iraq agreed on Tuesday. They met in Baghdad.", "Hi there."]
SPANS = [[(0, 32), (33, 53)], [(0, 9)]]
SERVE_SCRIPT = """
import json, sys
from pathlib import Path
from embeddings.encoder import Encoder
encoder = Encoder(sys.argv[1], model_cache=Path(sys.argv[2]))
texts, span_texts, spans = json.loads(sys.argv[3])
vectors = encoder.encode(texts)
found = encoder.encode_with_spans(span_texts, [[tuple(s) for s in text] for text in spans])
loaded = sorted(name for name in ("torch", "transformers", "sentence_transformers") if name in sys.modules)
print(json.dumps({
    "runtime": encoder.runtime.value, "loaded": loaded, "dimension": encoder.dimension,
    "max_tokens": encoder.max_tokens, "tokens": encoder.tokenizer.encode("Baqeri proposed drills").ids,
    "vectors": vectors.tolist(), "passages": found.passages.tolist(), "spans": found.spans.tolist(),
}))
"""


def entries(cache: Path) -> list[Path]:
    return sorted(cache.iterdir())


def conversions(caplog: pytest.LogCaptureFixture) -> int:
    return sum("converted the embedding model to OpenVINO" in r.getMessage() for r in caplog.records)


@pytest.fixture(scope="module")
def reference(tiny_model: Path) -> np.ndarray:
    return Encoder(str(tiny_model), runtime=Runtime.TORCH).encode(TEXTS)


@pytest.fixture(scope="module")
def converted(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache holding the tiny model converted once; tests copy it rather than convert again."""
    cache = tmp_path_factory.mktemp("converted") / "cache"
    assert Encoder(str(tiny_model), model_cache=cache).runtime == Runtime.OPENVINO
    [entry] = entries(cache)
    assert {p.name for p in entry.iterdir()} == {"model.xml", "model.bin", "entry.json", *SERVING_FILES}
    return cache


def copy_of(converted: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(converted, tmp_path / "cache"))


def test_the_second_load_uses_the_cache(
    tiny_model: Path, converted: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, reference: np.ndarray
) -> None:
    cache = copy_of(converted, tmp_path)
    [entry] = entries(cache)
    before = (cache.stat().st_mtime_ns, entry.stat().st_ino, (entry / "model.bin").stat().st_mtime_ns)
    caplog.set_level(logging.INFO)
    for _ in range(2):
        encoder = Encoder(str(tiny_model), model_cache=cache)
        assert encoder.runtime == Runtime.OPENVINO
        assert np.sum(encoder.encode(TEXTS) * reference, axis=1).min() >= 0.9999
    assert conversions(caplog) == 0, "loaded, not converted again"
    assert (cache.stat().st_mtime_ns, entry.stat().st_ino, (entry / "model.bin").stat().st_mtime_ns) == before


def test_a_converted_model_is_served_without_torch(
    tiny_model: Path, converted: Path, tmp_path: Path, reference: np.ndarray
) -> None:
    cache = copy_of(converted, tmp_path)
    arguments = json.dumps([TEXTS, SPAN_TEXTS, SPANS])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", SERVE_SCRIPT, str(tiny_model), str(cache), arguments]
    served = json.loads(subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout)

    assert served["runtime"] == "openvino" and served["loaded"] == [], "no torch, transformers or sentence-transformers"
    torch_encoder = Encoder(str(tiny_model), runtime=Runtime.TORCH)
    assert (
        (served["dimension"], served["max_tokens"]) == (torch_encoder.dimension, torch_encoder.max_tokens) == (384, 254)
    )
    assert served["tokens"] == torch_encoder.tokenizer.encode("Baqeri proposed drills").ids
    assert np.sum(np.array(served["vectors"]) * reference, axis=1).min() >= 0.9999
    expected = torch_encoder.encode_with_spans(SPAN_TEXTS, SPANS)
    assert np.sum(np.array(served["passages"]) * expected.passages, axis=1).min() >= 0.9999
    assert np.sum(np.array(served["spans"]) * expected.spans, axis=1).min() >= 0.9999


def corrupt_weights(entry: Path) -> None:
    zero_file(entry / "model.bin")  # same size: only the probe check can tell


def zero_file(path: Path) -> None:
    path.write_bytes(b"\0" * path.stat().st_size)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda e: os.truncate(e / "model.bin", 1000), id="truncated-weights"),
        pytest.param(corrupt_weights, id="zeroed-weights"),
        pytest.param(lambda e: (e / "model.xml").write_text("<net><layers>", encoding="utf-8"), id="broken-graph"),
        pytest.param(lambda e: (e / "entry.json").unlink(), id="no-manifest"),
        pytest.param(lambda e: (e / "model.xml").unlink(), id="missing-file"),
        pytest.param(lambda e: zero_file(e / "head-0-weight.npy"), id="zeroed-dense-layer"),
        pytest.param(lambda e: np.save(e / "probe.npy", -np.load(e / "probe.npy")), id="other-probe-vectors"),
    ],
)
def test_a_damaged_cache_is_rebuilt(
    tiny_model: Path, converted: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, reference: np.ndarray, damage
) -> None:
    cache = copy_of(converted, tmp_path)
    [entry] = entries(cache)
    damage(entry)
    caplog.set_level(logging.INFO)
    encoder = Encoder(str(tiny_model), model_cache=cache)
    assert encoder.runtime == Runtime.OPENVINO
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"model cache entry {entry} is damaged" in w for w in warnings), warnings
    assert conversions(caplog) == 1
    assert entries(cache) == [entry] and (entry / "entry.json").exists()
    assert np.sum(encoder.encode(TEXTS) * reference, axis=1).min() >= 0.9999


def test_two_processes_converting_at_once_share_one_complete_entry(tiny_model: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    script = (
        "import sys; from pathlib import Path; from embeddings.encoder import Encoder\n"
        "e = Encoder(sys.argv[1], model_cache=Path(sys.argv[2]))\n"
        "print(e.runtime.value, float(e.encode(['Iran and Iraq'])[0][0]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tiny_model), str(cache)], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0].split() for p in processes]
    assert [p.returncode for p in processes] == [0, 0]
    assert [o[0] for o in outputs] == ["openvino", "openvino"] and outputs[0][1] == outputs[1][1]
    [entry] = entries(cache)
    assert not entry.name.startswith(".tmp") and (entry / "entry.json").exists()


def test_each_model_has_its_own_entry_and_crash_leftovers_are_cleared(
    converted: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = copy_of(converted, tmp_path)
    crashed = cache / ".tmp-openvino-0123-crashed"
    crashed.mkdir()
    (crashed / "model.bin").write_bytes(b"half")
    hour_ago = time.time() - 7200
    os.utime(crashed, (hour_ago, hour_ago))
    other = make_tiny_model(tmp_path / "other", "--seed", "1")
    caplog.set_level(logging.INFO)
    assert Encoder(str(other), model_cache=cache).runtime == Runtime.OPENVINO
    assert conversions(caplog) == 1, "a different model is converted, not served from the first one's entry"
    assert not crashed.exists() and len(entries(cache)) == 2


def test_an_unwritable_cache_converts_in_memory(
    tiny_model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    encoder = Encoder(str(tiny_model), model_cache=blocker / "cache")
    with caplog.at_level(logging.WARNING):
        assert encoder.runtime == Runtime.OPENVINO
    assert any("cannot write the model cache" in r.getMessage() for r in caplog.records)
