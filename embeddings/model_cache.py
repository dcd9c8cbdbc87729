"""A folder of converted models on disk, one sub-folder per key, each written whole or not at all.

A model is built into a temporary folder beside the cache and renamed into place when complete, so a
crash never leaves a half-written entry under a key, and two processes building the same key at
once both end up using one complete entry. An entry that fails to load is moved aside, deleted and
built again.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from embeddings.files import fsync_path

log = logging.getLogger(__name__)

T = TypeVar("T")
MANIFEST = "entry.json"
_STALE_SECONDS = 3600


class DamagedEntryError(Exception):
    """A cache entry whose files are missing, truncated or do not load."""


class ModelCache:
    """Converted models under `root`, keyed by whatever identifies model, converter and format."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def entry(self, key: str) -> Path:
        return self.root / key

    def load_or_build(self, key: str, build: Callable[[Path], None], load: Callable[[Path], T]) -> T:
        """`load` the entry for `key`, building it first with `build(folder)` when it is missing or
        damaged. `load` raises DamagedEntryError (or any error) for an entry it cannot use."""
        entry = self.entry(key)
        if entry.exists():
            try:
                return load(_checked(entry))
            except Exception as error:  # whatever a damaged file makes the loader raise
                log.warning("model cache entry %s is damaged (%s); converting the model again", entry, error)
                self._discard(entry)
        self._build(key, build)
        return load(_checked(entry))

    def load_existing(self, key: str, load: Callable[[Path], T]) -> T | None:
        """`load` the entry for `key` if there is one that loads; None otherwise (a damaged one is removed,
        so that the next `load_or_build` builds it again)."""
        entry = self.entry(key)
        if not entry.exists():
            return None
        try:
            return load(_checked(entry))
        except Exception as error:  # whatever a damaged file makes the loader raise
            log.warning("model cache entry %s is damaged (%s); converting the model again", entry, error)
            self._discard(entry)
            return None

    def _build(self, key: str, build: Callable[[Path], None]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()
        temporary = self.root / f".tmp-{key}-{uuid.uuid4().hex}"
        temporary.mkdir()
        try:
            build(temporary)
            _write_manifest(temporary)
            try:
                temporary.rename(self.entry(key))
            except OSError:
                if not self.entry(key).exists():
                    raise
                # Another process finished the same entry first: use theirs.
        finally:
            shutil.rmtree(temporary, ignore_errors=True)

    def _discard(self, entry: Path) -> None:
        """Move a damaged entry out of the way first (a rename is atomic), then delete it; a process that
        has its files open keeps reading them."""
        trash = self.root / f".tmp-damaged-{uuid.uuid4().hex}"
        try:
            entry.rename(trash)
        except OSError:
            return  # already moved by another process
        shutil.rmtree(trash, ignore_errors=True)

    def _remove_stale_temporaries(self) -> None:
        """Temporary folders left by builds that crashed more than an hour ago."""
        now = time.time()
        for folder in self.root.glob(".tmp-*"):
            try:
                if now - folder.stat().st_mtime > _STALE_SECONDS:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue


def _write_manifest(folder: Path) -> None:
    """Record every file's size, fsync the files, and write the manifest last."""
    sizes = {}
    for path in sorted(folder.iterdir()):
        if path.is_file():
            fsync_path(path)
            sizes[path.name] = path.stat().st_size
    manifest = folder / MANIFEST
    manifest.write_text(json.dumps({"files": sizes}, indent=2), encoding="utf-8")
    fsync_path(manifest)


def _checked(entry: Path) -> Path:
    """The entry, if its manifest is readable and every file it lists has its recorded size."""
    try:
        sizes = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DamagedEntryError(f"no readable {MANIFEST}") from error
    for name, size in sizes.items():
        path = entry / name
        if not path.is_file() or path.stat().st_size != size:
            raise DamagedEntryError(f"{name} is missing or not {size} bytes")
    return entry
