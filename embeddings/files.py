"""Durable writes of index files: each file flushed and fsynced, so a crash leaves whole files or none."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np


def write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_npy(path: Path, array: np.ndarray) -> None:
    """`array` as a .npy file (np.load reads it memory-mapped)."""
    with open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())


def load_npy(path: Path) -> np.ndarray:
    """A .npy file memory-mapped read-only (an empty array is read whole: it cannot be mapped)."""
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    return np.asarray(array)


def fsync_tree(folder: Path) -> None:
    """fsync every file under `folder` (written by a library that does not), then the folders."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
    for path in [folder, *sorted(p for p in folder.rglob("*") if p.is_dir())]:
        fsync_dir(path)


def fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def link_tree(source: Path, target: Path) -> None:
    """Give `target` the files of `source` (a finished, never-changed folder) as hard links, copying only
    where the file system cannot link. Costs no disk space and no time proportional to the data."""
    target.mkdir()
    for path in source.iterdir():
        destination = target / path.name
        if path.is_dir():
            link_tree(path, destination)
            continue
        try:
            os.link(path, destination)
        except OSError as error:
            if error.errno in _CANNOT_LINK:
                shutil.copy2(path, destination)
            else:
                raise


_CANNOT_LINK = {getattr(__import__("errno"), name) for name in ("EXDEV", "EPERM", "ENOTSUP", "EMLINK", "EOPNOTSUPP")}


@contextmanager
def removed_on_failure(path: Path) -> Iterator[None]:
    """Remove `path` (a file or a folder) if the block fails, so no half-written file stays behind."""
    try:
        yield
    except BaseException:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with suppress(OSError):
                path.unlink()
        raise
