"""Near-duplicate stories (the same wire copy run by several outlets), found with MinHash LSH (datasketch).

A text's signature is the MinHash of its word 5-grams. Two texts count as the same story when the
estimated Jaccard similarity of their 5-grams reaches NEAR_DUPLICATE_JACCARD: an outlet adding an
intro line or a closing paragraph to a wire story stays above it; two reports of the same event
written separately share far fewer 5-grams. Signatures are stored as plain bytes (no pickle).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

NUM_PERM = 128
SHINGLE_WORDS = 5
MIN_SHINGLES = 25  # shorter texts are too small to call near-duplicates; only their URL identifies them
NEAR_DUPLICATE_JACCARD = 0.7
SCHEME = "affine32"
# Stored with every signature: a library whose signatures were made another way recomputes them.
SIGNATURE_FORMAT = f"minhash-{SCHEME}-{NUM_PERM}-w{SHINGLE_WORDS}"
_DTYPE = np.dtype("<u4")
_SEED = MinHash().seed  # the seed signature_of hashes with (datasketch's default)
_WORD = re.compile(r"\w+")


def shingles(text: str) -> set[bytes]:
    words = _WORD.findall(text.lower())
    return {" ".join(words[i : i + SHINGLE_WORDS]).encode() for i in range(len(words) - SHINGLE_WORDS + 1)}


def signature_of(text: str) -> bytes | None:
    """The text's MinHash as bytes, or None when the text is too short to compare."""
    grams = shingles(text)
    if len(grams) < MIN_SHINGLES:
        return None
    minhash = MinHash(num_perm=NUM_PERM, scheme=SCHEME)
    minhash.update_batch(grams)
    return np.asarray(minhash.hashvalues, dtype=_DTYPE).tobytes()


def _minhash(signature: bytes) -> LeanMinHash:
    """The stored signature as a MinHash to compare (lean: no permutations, which only hashing new text needs)."""
    values = np.frombuffer(signature, dtype=_DTYPE)
    if values.shape != (NUM_PERM,):
        raise ValueError(f"a signature has {NUM_PERM} values, got {values.size}")
    return LeanMinHash(seed=_SEED, hashvalues=values.astype(np.uint64), scheme=SCHEME)


class NearDuplicates:
    """The signatures of stored articles, searchable for the closest near-duplicate of a new text."""

    def __init__(self, threshold: float = NEAR_DUPLICATE_JACCARD) -> None:
        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self._minhashes: dict[str, LeanMinHash] = {}

    def __len__(self) -> int:
        return len(self._minhashes)

    def add(self, key: str, signature: bytes | None) -> None:
        if signature is None or key in self._minhashes:
            return
        minhash = _minhash(signature)
        self._lsh.insert(key, minhash)
        self._minhashes[key] = minhash

    def add_all(self, items: Iterable[tuple[str, bytes | None]]) -> None:
        for key, signature in items:
            self.add(key, signature)

    def remove(self, key: str) -> None:
        if self._minhashes.pop(key, None) is not None:
            self._lsh.remove(key)

    def closest(self, signature: bytes | None, allowed: Callable[[str], bool] = lambda key: True) -> str | None:
        """The key of the most similar stored text at or above the threshold that `allowed` accepts."""
        found = self.best(signature, allowed)
        return found[1] if found else None

    def best(
        self, signature: bytes | None, allowed: Callable[[str], bool] = lambda key: True
    ) -> tuple[float, str] | None:
        """(similarity, key) of the most similar stored text at or above the threshold that `allowed` accepts
        (of equally similar ones, the greatest key)."""
        if signature is None or not self._minhashes:
            return None
        minhash = _minhash(signature)
        best: tuple[float, str] | None = None
        for key in self._lsh.query(minhash):
            if not allowed(key):
                continue
            similarity = minhash.jaccard(self._minhashes[key])
            if similarity >= self.threshold and (best is None or (similarity, key) > best):
                best = (similarity, key)
        return best
