"""A fingerprint of what an index is built from, taken without reading any article: each corpus file's
path, size and modification time (nanoseconds), the library file's, and the settings that shape the index.
Equal fingerprints mean the same articles, so a reindex can stop before reading anything."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from corpus.readers.folder import CorpusOptions
from corpus.readers.walk import walk_corpus


def corpus_fingerprint(root: Path, options: CorpusOptions, others: list[Path], settings: str) -> str:
    digest = hashlib.sha256(f"{settings}\x00{options!r}\x00{root}\n".encode())
    if root.is_file():
        _add(digest, root, root)
    elif root.is_dir():
        walk = walk_corpus(root, options.follow_external_links)
        for found in walk.files:
            _add(digest, found.path, found.target)
        for path, reason in walk.skipped:
            digest.update(f"skipped\x00{path}\x00{reason}\n".encode("utf-8", "surrogateescape"))
    for path in others:
        _add(digest, path, path)
    return digest.hexdigest()


def _add(digest: hashlib._Hash, path: Path, target: Path) -> None:
    try:
        status = os.stat(target)
        stamp = f"{status.st_size}\x00{status.st_mtime_ns}"
    except OSError as error:
        stamp = f"unreadable {error.errno}"
    digest.update(f"{path}\x00{stamp}\n".encode("utf-8", "surrogateescape"))
