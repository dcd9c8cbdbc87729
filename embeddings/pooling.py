"""The model's own modules after the transformer (pooling, dense, normalize, ...) applied to token embeddings,
for whole texts and for character spans inside them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from tokenizers import Encoding

if TYPE_CHECKING:  # imported when first used: a model served without torch never loads it
    import torch


class EmptySpanError(ValueError):
    """A span that is empty, reversed, outside its text or holds no token."""


class SentencePooling:
    """Turns token embeddings into sentence vectors exactly as the sentence-transformers model does,
    by calling its post-transformer modules, then L2-normalising."""

    def __init__(self, modules: Sequence[torch.nn.Module]) -> None:
        self._modules = list(modules)

    @property
    def pools_spans(self) -> bool:
        """Whether a span's vector can be taken from the text's token embeddings: only when the model
        mean-pools its tokens (a span's mean is then what the model would pool over those tokens)."""
        if not self._modules:
            return False
        mode = getattr(self._modules[0], "pooling_mode", None)
        modes = (mode,) if isinstance(mode, str) else tuple(mode or ())
        return modes == ("mean",)

    def pool_spans(self, token_embeddings: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """One normalised vector per row of `masks`, each the mean of one text's `token_embeddings`
        (tokens, hidden) over that row's tokens (the model's mean pooling as one matrix product), then
        the modules after the pooling. Only for models that mean-pool (`pools_spans`)."""
        weights = np.asarray(masks, dtype=np.float32)
        # einsum, not `@`: numpy's BLAS threads and torch's OpenMP ones make a small matmul take ~10 ms.
        sums = np.einsum("st,th->sh", weights, np.asarray(token_embeddings, dtype=np.float32))
        means = sums / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
        return self._finish({"sentence_embedding": _tensor(means, np.float32)}, self._modules[1:])

    def pool(self, token_embeddings: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """One normalised vector per row of `mask`, pooling `token_embeddings` (rows, tokens, hidden)."""
        if self.pools_spans:  # the model's mean pooling in numpy: torch's costs milliseconds on a busy machine
            weights = np.asarray(mask, dtype=np.float32)
            sums = np.einsum("rt,rth->rh", weights, np.asarray(token_embeddings, dtype=np.float32))
            means = sums / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
            return self._finish({"sentence_embedding": _tensor(means, np.float32)}, self._modules[1:])
        features = {
            "token_embeddings": _tensor(token_embeddings, np.float32),
            "attention_mask": _tensor(mask, np.int64),
        }
        return self._finish(features, self._modules)

    @staticmethod
    def _finish(features: dict[str, torch.Tensor], modules: Sequence[torch.nn.Module]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            for module in modules:
                features = module(features)
            vectors = torch.nn.functional.normalize(features["sentence_embedding"].float(), p=2, dim=-1)
            return np.ascontiguousarray(vectors.numpy(), dtype=np.float32)


def _tensor(array: np.ndarray, dtype: type[np.generic]) -> torch.Tensor:
    import torch

    return torch.from_numpy(np.ascontiguousarray(array, dtype=dtype))


def span_masks(encoding: Encoding, width: int, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """One 0/1 row per span over the (padded) `width` tokens: the text's tokens whose characters
    overlap the span. Special tokens never count. A span past the truncated window gets an empty row."""
    offsets = np.array(encoding.offsets, dtype=np.int64).reshape(-1, 2)
    real = np.array(encoding.special_tokens_mask, dtype=bool) == 0
    masks = np.zeros((len(spans), width), dtype=np.int64)
    for row, (start, end) in enumerate(spans):
        inside = real & (offsets[:, 0] < end) & (offsets[:, 1] > start)
        masks[row, : len(inside)] = inside
    return masks


def check_spans(text: str, spans: Sequence[tuple[int, int]]) -> None:
    for start, end in spans:
        if not 0 <= start < end <= len(text):
            raise EmptySpanError(f"span ({start}, {end}) is empty or outside a text of {len(text)} characters")
        if not text[start:end].strip():
            raise EmptySpanError(f"span ({start}, {end}) holds only whitespace")
