"""A converted model served without torch: what a model cache entry holds beside the OpenVINO transformer.

When the model is converted (with torch, see openvino_runtime.py), its entry also gets the model's own
tokenizer (tokenizer.json), its window and inputs, the layers after its mean pooling as arrays (dense
layers and their activation; normalisation is always applied) and the vectors torch gave for the probe
texts (serving.json, head-*.npy, probe.npy). A later process loads all of that with OpenVINO, tokenizers
and numpy alone, and checks the probe texts against torch's vectors before serving, so torch,
transformers and sentence-transformers are never imported (about 0.48 GB of a serving process, benchmarks/RESULTS.md).
A model whose modules are not all known here (another pooling, an unknown layer) has no serving files
and loads torch as before.

The entry is keyed by the model folder's files (names and bytes), the converter versions and FORMAT, so
it can be found before anything is loaded.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from embeddings.model_cache import DamagedEntryError
from embeddings.model_inputs import InputBatch, InputTokenizer

FORMAT = "2"  # of an entry: bump when what is converted or stored changes
MODEL_FILE = "model.xml"
SERVING_FILE = "serving.json"
TOKENIZER_FILE = "tokenizer.json"
PROBE_FILE = "probe.npy"
MIN_PROBE_COSINE = 0.999
PROBE_TEXTS = [
    "What did the Federal Reserve signal about interest rates?",
    "Iran and Iraq agreed to strengthen security along their shared border, officials said on Wednesday, "
    "after talks in Baghdad that focused on armed groups operating in the mountains of the Kurdistan region.",
    "Hi.",
]
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "torch.nn.modules.linear.Identity": lambda x: x,
    "torch.nn.modules.activation.Tanh": np.tanh,
}
VERSIONED = ("openvino", "tokenizers", "transformers", "sentence-transformers")


class OpenVinoTokenModel:
    """Token embeddings from a compiled OpenVINO model; one inference at a time per encoder."""

    def __init__(self, compiled: Any) -> None:
        self._compiled = compiled
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()

    def __call__(self, batch: InputBatch) -> np.ndarray:
        with self._lock:
            result = self._request.infer(batch.inputs)
            return np.array(result[self._compiled.output(0)], dtype=np.float32, copy=True)


@dataclass(frozen=True)
class DenseLayer:
    weight: np.ndarray  # (out, in) float32
    bias: np.ndarray  # (out,) float32
    activation: str


class ArrayHead:
    """The model's mean pooling and the layers after it, in numpy (the same interface as SentencePooling)."""

    pools_spans = True

    def __init__(self, layers: list[DenseLayer]) -> None:
        self.layers = layers

    def pool(self, token_embeddings: np.ndarray, mask: np.ndarray) -> np.ndarray:
        weights = np.asarray(mask, dtype=np.float32)
        sums = np.einsum("rt,rth->rh", weights, np.asarray(token_embeddings, dtype=np.float32))
        return self._finish(sums / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9))

    def pool_spans(self, token_embeddings: np.ndarray, masks: np.ndarray) -> np.ndarray:
        weights = np.asarray(masks, dtype=np.float32)
        sums = np.einsum("st,th->sh", weights, np.asarray(token_embeddings, dtype=np.float32))
        return self._finish(sums / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9))

    def _finish(self, vectors: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            # einsum, not `@`: BLAS threads make a small product cost milliseconds on a busy machine.
            vectors = ACTIVATIONS[layer.activation](np.einsum("ni,oi->no", vectors, layer.weight) + layer.bias)
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(vectors / norms, dtype=np.float32)


@dataclass(frozen=True)
class ServedModel:
    """Everything the encoder needs of a converted model, loaded without torch."""

    tokenizer: InputTokenizer
    backend_tokenizer: Tokenizer  # the model's own, as its tokenizer.json has it
    token_model: OpenVinoTokenModel
    head: ArrayHead
    dimension: int
    max_length: int  # tokens the model reads, special tokens included


def folder_key(folder: Path) -> str | None:
    """The cache key of the model in `folder`, from its files and the converter versions (None: not a folder)."""
    if not folder.is_dir():
        return None
    digest = hashlib.sha256(f"{FORMAT};".encode())
    for name in VERSIONED:
        try:
            digest.update(f"{name}={importlib.metadata.version(name)};".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{name}=none;".encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts):
        digest.update(f"{path.relative_to(folder).as_posix()}\x00".encode("utf-8", "surrogateescape"))
        with open(path, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return f"openvino-{digest.hexdigest()[:32]}"


def write_serving_files(
    folder: Path,
    backend_tokenizer: Tokenizer,
    tokenizer: InputTokenizer,
    pad_id: int,
    layers: list[DenseLayer],
    dimension: int,
    probe_vectors: np.ndarray,
) -> None:
    """Write what serving without torch needs into the entry being built at `folder`."""
    (folder / TOKENIZER_FILE).write_text(backend_tokenizer.to_str(), encoding="utf-8")
    for i, layer in enumerate(layers):
        np.save(folder / f"head-{i}-weight.npy", layer.weight.astype(np.float32))
        np.save(folder / f"head-{i}-bias.npy", layer.bias.astype(np.float32))
    np.save(folder / PROBE_FILE, probe_vectors.astype(np.float32))
    serving = {
        "max_length": tokenizer.max_length,
        "input_names": list(tokenizer.input_names),
        "pad_id": pad_id,
        "dimension": dimension,
        "activations": [layer.activation for layer in layers],
    }
    (folder / SERVING_FILE).write_text(json.dumps(serving, indent=2), encoding="utf-8")


def has_serving_files(entry: Path) -> bool:
    return (entry / SERVING_FILE).is_file()


def load_served(entry: Path) -> ServedModel:
    """The model in `entry`, checked on the probe texts against torch's vectors stored at conversion
    (DamagedEntryError when its files are unreadable or compute something else)."""
    try:
        serving = json.loads((entry / SERVING_FILE).read_text(encoding="utf-8"))
        backend = Tokenizer.from_str((entry / TOKENIZER_FILE).read_text(encoding="utf-8"))
        layers = [
            DenseLayer(np.load(entry / f"head-{i}-weight.npy"), np.load(entry / f"head-{i}-bias.npy"), str(activation))
            for i, activation in enumerate(serving["activations"])
        ]
        expected = np.load(entry / PROBE_FILE)
        max_length, pad_id, dimension = int(serving["max_length"]), int(serving["pad_id"]), int(serving["dimension"])
        tokenizer = InputTokenizer(backend, max_length, list(serving["input_names"]), pad_id)
    except Exception as error:  # json, tokenizers and numpy raise many kinds for a damaged file
        raise DamagedEntryError(f"its serving files cannot be read ({type(error).__name__}: {error})") from error
    if any(layer.activation not in ACTIVATIONS for layer in layers):
        raise DamagedEntryError("its serving files name an unknown activation")
    token_model = OpenVinoTokenModel(compile_entry(entry))
    served = ServedModel(tokenizer, backend, token_model, ArrayHead(layers), dimension, max_length)
    check_probe(served.token_model, tokenizer, served.head.pool, expected)
    return served


def check_probe(
    token_model: Callable[[InputBatch], np.ndarray],
    tokenizer: InputTokenizer,
    pool: Callable[[np.ndarray, np.ndarray], np.ndarray],
    expected: np.ndarray,
) -> None:
    """DamagedEntryError unless the model gives `expected` (torch's vectors) for the probe texts."""
    probe = probe_batch(tokenizer)
    found = pool(token_model(probe), probe.attention_mask)
    cosine = float(np.min(np.sum(found * expected, axis=1))) if found.shape == expected.shape else float("nan")
    if not cosine >= MIN_PROBE_COSINE:
        raise DamagedEntryError(f"its vectors differ from torch's (cosine {cosine:.4f})")


def compile_entry(folder: Path) -> Any:
    """The converted model in a cache entry, compiled."""
    return compile_model(_core().read_model(str(folder / MODEL_FILE)))


def compile_model(model: Any) -> Any:
    return _core().compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY"})


_CORE_LOCK = threading.Lock()
_CORE: Any = None


def _core() -> Any:
    """The process's one OpenVINO Core, kept until exit.

    OpenVINO's CPU plugin (one per Core) swaps the calling thread's alternate signal stack for its own
    when it starts, and when it is destroyed puts back the one it found and unmaps its own. With one
    Core per encoder, encoders freed in another order than they were made leave a thread pointing at an
    unmapped stack, and the next signal handled on that thread (a SIGTERM to `byline run`) kills the
    process with SIGSEGV instead of running the handler. One Core that lives as long as the process
    never does that."""
    global _CORE
    with _CORE_LOCK:
        if _CORE is None:
            import openvino

            _CORE = openvino.Core()
        return _CORE


def probe_batch(tokenizer: InputTokenizer) -> InputBatch:
    return tokenizer.batch(list(range(len(PROBE_TEXTS))), tokenizer.encode(PROBE_TEXTS))
