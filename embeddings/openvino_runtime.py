"""The transformer of a sentence-transformers model run by OpenVINO: converted from torch once, kept on disk.

Only the transformer (token embeddings) is converted; pooling and whatever follows it stay the model's
own torch modules (see pooling.py). The conversion is checked against torch on probe texts before it
is used, so a conversion or cache entry that computes something else is never served.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from embeddings.model_cache import ModelCache
from embeddings.model_inputs import InputBatch, InputTokenizer
from embeddings.openvino_serving import (
    MIN_PROBE_COSINE,
    MODEL_FILE,
    OpenVinoTokenModel,
    compile_entry,
    compile_model,
    probe_batch,
)

log = logging.getLogger(__name__)

FORMAT_VERSION = "1"  # bump when what is converted or how changes


class OpenVinoUnavailableError(Exception):
    """OpenVINO cannot run this model here; the message says why."""


class TokenEmbeddingModule(torch.nn.Module):
    """The sentence-transformers Transformer module as a function of tensors, for tracing."""

    def __init__(self, transformer: torch.nn.Module, input_names: tuple[str, ...]) -> None:
        super().__init__()
        self.transformer = transformer
        self.input_names = input_names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        features = dict(zip(self.input_names, inputs))
        return self.transformer(features)["token_embeddings"]


class TorchTokenModel:
    """Token embeddings from the model's own torch Transformer module (the reference)."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        self._transformer = transformer

    @torch.inference_mode()
    def __call__(self, batch: InputBatch) -> np.ndarray:
        features = {name: torch.from_numpy(array) for name, array in batch.inputs.items()}
        return self._transformer(features)["token_embeddings"].float().numpy()


def openvino_version() -> str:
    try:
        return importlib.metadata.version("openvino")
    except importlib.metadata.PackageNotFoundError as error:
        raise OpenVinoUnavailableError("the openvino package is not installed") from error


def model_identity(transformer: torch.nn.Module) -> str:
    """A digest of what the conversion depends on: architecture, configuration and every weight."""
    digest = hashlib.sha256()
    digest.update(type(transformer).__qualname__.encode())
    config = getattr(getattr(transformer, "auto_model", None), "config", None)
    if config is not None:
        digest.update(config.to_json_string(use_diff=False).encode())
    for name, tensor in transformer.state_dict().items():
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{name}:{array.dtype}:{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def cache_key(transformer: torch.nn.Module) -> str:
    versions = f"openvino={openvino_version()};transformers={importlib.metadata.version('transformers')}"
    key = hashlib.sha256(f"{FORMAT_VERSION};{versions};{model_identity(transformer)}".encode()).hexdigest()
    return f"openvino-{key[:32]}"


def load_openvino(
    transformer: torch.nn.Module,
    tokenizer: InputTokenizer,
    reference: Callable[[InputBatch], np.ndarray],
    pool: Callable[[np.ndarray, np.ndarray], np.ndarray],
    cache: ModelCache | None,
    key: str | None = None,
    serving_files: Callable[[Path, np.ndarray], None] | None = None,
) -> OpenVinoTokenModel:
    """The OpenVINO model for `transformer`, from `cache` under `key` (default: a digest of its weights;
    converted and stored there when missing, with `serving_files(folder, probe vectors)` written beside it).
    Raises OpenVinoUnavailableError when OpenVINO cannot reproduce the torch model's vectors."""
    try:
        import openvino  # noqa: F401
    except ImportError as error:
        raise OpenVinoUnavailableError(f"openvino cannot be imported ({error})") from error
    probe = probe_batch(tokenizer)
    expected = pool(reference(probe), probe.attention_mask)

    def checked(model: OpenVinoTokenModel) -> OpenVinoTokenModel:
        cosine = float(np.min(np.sum(pool(model(probe), probe.attention_mask) * expected, axis=1)))
        if not cosine >= MIN_PROBE_COSINE:
            raise OpenVinoUnavailableError(f"its vectors differ from torch's (cosine {cosine:.4f})")
        return model

    def build(folder: Path) -> None:
        import openvino

        started = time.monotonic()
        openvino.save_model(_convert(transformer, probe), str(folder / MODEL_FILE), compress_to_fp16=False)
        if serving_files is not None:
            serving_files(folder, expected)
        log.info("converted the embedding model to OpenVINO in %.1f s", time.monotonic() - started)

    def load(folder: Path) -> OpenVinoTokenModel:
        return checked(OpenVinoTokenModel(compile_entry(folder)))

    try:
        if cache is None:
            return checked(OpenVinoTokenModel(compile_model(_convert(transformer, probe))))
        try:
            return cache.load_or_build(key or cache_key(transformer), build, load)
        except OSError as error:
            log.warning("cannot write the model cache at %s (%s); converting the model in memory", cache.root, error)
            return checked(OpenVinoTokenModel(compile_model(_convert(transformer, probe))))
    except OpenVinoUnavailableError:
        raise
    except Exception as error:  # conversion and compilation raise many kinds; each means "not here"
        raise OpenVinoUnavailableError(f"conversion failed ({type(error).__name__}: {error})") from error


def _convert(transformer: torch.nn.Module, example: InputBatch) -> Any:
    import openvino

    module = TokenEmbeddingModule(transformer, tuple(example.inputs)).eval()
    inputs = tuple(torch.from_numpy(array) for array in example.inputs.values())
    with torch.inference_mode(False), torch.no_grad(), _quiet_tracing():
        model = openvino.convert_model(module, example_input=inputs)
    for port, name in zip(model.inputs, example.inputs):
        port.get_tensor().set_names({name})
    return model


@contextmanager
def _quiet_tracing() -> Iterator[None]:
    """Tracing warns about the Python conditions it freezes (the probe check proves the result), and
    transformers about training-only settings the tracer touches: none of it concerns a user."""
    from transformers.utils import logging as transformers_logging

    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        transformers_logging.set_verbosity(verbosity)
