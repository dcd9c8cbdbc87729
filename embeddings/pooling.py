"""The model's own modules after the transformer (pooling, dense, normalize, ...) applied to token embeddings,
for whole texts and for character spans inside them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tokenizers import Encoding


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

    def pool(self, token_embeddings: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """One normalised vector per row of `mask`, pooling `token_embeddings` (rows, tokens, hidden)."""
        return self._pool(_tensor(token_embeddings, np.float32), _tensor(mask, np.int64))

    def pool_spans(self, token_embeddings: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """One normalised vector per row of `masks`, each pooling one text's `token_embeddings` (tokens, hidden)
        over that row's tokens."""
        tokens = _tensor(token_embeddings, np.float32)
        return self._pool(tokens.unsqueeze(0).expand(len(masks), -1, -1), _tensor(masks, np.int64))

    @torch.inference_mode()
    def _pool(self, token_embeddings: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        features: dict[str, torch.Tensor] = {"token_embeddings": token_embeddings, "attention_mask": mask}
        for module in self._modules:
            features = module(features)
        vectors = torch.nn.functional.normalize(features["sentence_embedding"].float(), p=2, dim=-1)
        return np.ascontiguousarray(vectors.numpy(), dtype=np.float32)


def _tensor(array: np.ndarray, dtype: type[np.generic]) -> torch.Tensor:
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
