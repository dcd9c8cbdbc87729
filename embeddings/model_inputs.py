"""Model inputs made with the model's own fast tokenizer: truncated at the model's window, batched by length."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from tokenizers import Encoding, Tokenizer

SUPPORTED_INPUTS = ("input_ids", "token_type_ids", "attention_mask")


class UnsupportedInputsError(ValueError):
    """The model wants inputs other than token ids, token types and an attention mask."""


@dataclass(frozen=True)
class InputBatch:
    """Padded model inputs for some of the texts, `rows[i]` being the index of row i's text."""

    rows: list[int]
    inputs: dict[str, np.ndarray]
    attention_mask: np.ndarray
    encodings: list[Encoding]


class InputTokenizer:
    """Tokenizes as sentence-transformers does (special tokens, truncation at `max_length` tokens in all),
    and keeps each token's character offsets."""

    def __init__(self, tokenizer: Tokenizer, max_length: int, input_names: Sequence[str], pad_id: int) -> None:
        unsupported = sorted(set(input_names) - set(SUPPORTED_INPUTS))
        if unsupported or "input_ids" not in input_names:
            raise UnsupportedInputsError(f"model inputs {list(input_names)} are not plain token ids and masks")
        self._tokenizer = copy.deepcopy(tokenizer)
        # The tokenizer file may carry its own, shorter truncation (the bundled one says 128) and padding.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_length)
        self.max_length = max_length
        self.input_names = tuple(input_names)
        self._pad_id = pad_id

    def encode(self, texts: Sequence[str]) -> list[Encoding]:
        return self._tokenizer.encode_batch(list(texts), add_special_tokens=True)

    def batches(self, encodings: Sequence[Encoding], token_budget: int, max_rows: int) -> Iterator[InputBatch]:
        """Batches of texts of similar length (longest first), each at most `max_rows` texts and
        `token_budget` padded tokens (but always at least one text), so padding stays small."""
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i].ids))
        start = 0
        while start < len(order):
            longest = len(encodings[order[start]].ids)
            rows = max(1, min(max_rows, token_budget // max(longest, 1)))
            chosen = order[start : start + rows]
            yield self.batch(chosen, [encodings[i] for i in chosen])
            start += rows

    def batch(self, rows: list[int], encodings: list[Encoding]) -> InputBatch:
        width = max(1, max(len(e.ids) for e in encodings))
        ids = np.full((len(encodings), width), self._pad_id, dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            ids[row, :length] = encoding.ids
            types[row, :length] = encoding.type_ids
            mask[row, :length] = 1
        arrays = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}
        return InputBatch(rows, {name: arrays[name] for name in self.input_names}, mask, list(encodings))
