"""Durable writes of index files: each file flushed and fsynced, so a crash leaves whole files or none."""

from __future__ import annotations

import json
import os
import shutil
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

# numpy parses each .npy header with ast.literal_eval, and CPython 3.11's AST constructor keeps its
# recursion depth in state shared by all threads (python/cpython#106905): a thread that starts parsing
# while another is paused mid-parse (a garbage collection running a finalizer lets threads switch there)
# makes the paused one fail with "SystemError: AST constructor recursion depth mismatch". So Byline's
# threads read .npy files (and bm25s indexes, which are .npy files) one at a time: reading a header and
# mapping the file takes microseconds.
NPY_READS = threading.RLock()


class FilesDisagreeError(ValueError):
    """Files of an index that each read fine but do not agree (counts, ids, dimensions)."""


def write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_npy(path: Path, array: np.ndarray) -> None:
    """`array` as a .npy file (np.load reads it memory-mapped). The data is written by Python's file, not
    numpy's tofile, so that a write the disk refuses raises OSError with its errno (numpy's says only how
    many bytes were written)."""
    array = np.ascontiguousarray(array)
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, np.lib.format.header_data_from_array_1_0(array))
        handle.write(array.reshape(-1).data.cast("B"))
        handle.flush()
        os.fsync(handle.fileno())


def load_npy(path: Path, mmap: bool = True) -> np.ndarray:
    """A .npy file memory-mapped read-only, or (mmap=False) read whole. OSError when it cannot be read,
    ValueError when it is not a .npy file of plain numbers."""
    try:
        with NPY_READS:
            if mmap:
                return np.asarray(np.lib.format.open_memmap(path, mode="r"))
            with open(path, "rb") as handle:
                return np.lib.format.read_array(handle, allow_pickle=False)
    except ValueError as error:
        raise ValueError(f"{path.name} cannot be read ({error})") from error


class NpyRows:
    """A 2-D .npy file whose rows are read on demand with pread, for small scattered reads (a question
    reads a few dozen chunks' sentence vectors). A memory map of a file already in the page cache maps the
    neighbours of every page touched into the process (fault-around), so its resident memory grew with
    every question; pread copies only the rows asked for and leaves caching to the kernel."""

    def __init__(self, path: Path) -> None:
        with NPY_READS, open(path, "rb") as handle:
            try:
                version = np.lib.format.read_magic(handle)
                read_header = np.lib.format.read_array_header_1_0
                if version != (1, 0):
                    read_header = np.lib.format.read_array_header_2_0
                shape, fortran_order, dtype = read_header(handle)
            except ValueError as error:
                raise ValueError(f"{path.name} cannot be read ({error})") from error
            self.offset = handle.tell()
        if fortran_order or len(shape) != 2 or dtype.hasobject:
            raise ValueError(f"{path.name} cannot be read (not a 2-D array of plain numbers)")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.dtype = dtype
        self._row_bytes = self.shape[1] * dtype.itemsize
        self._fd = os.open(path, os.O_RDONLY)
        # A snapshot that is swapped out is dropped, not closed: its descriptor goes when it is collected.
        self._closed = weakref.finalize(self, os.close, self._fd)

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, first: int, last: int) -> np.ndarray:
        """Rows first..last-1 (OSError when the file is shorter than its header says, or closed)."""
        if not self._closed.alive:
            raise OSError(f"rows {first}:{last} asked for after the file was closed")
        size = (last - first) * self._row_bytes
        data = os.pread(self._fd, size, self.offset + first * self._row_bytes) if size else b""
        if len(data) != size:
            raise OSError(f"the file ends before row {last} of {self.shape[0]}")
        return np.frombuffer(data, self.dtype).reshape(last - first, self.shape[1])

    def close(self) -> None:
        self._closed()


def load_json(path: Path) -> Any:
    """A JSON file's value (OSError when it cannot be read, ValueError naming it when it is not JSON)."""
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except ValueError as error:
        raise ValueError(f"{path.name} cannot be read ({error})") from error


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
        fsync_path(path)


def fsync_path(path: Path) -> None:
    """Make a file's data, or a folder's entries, durable."""
    descriptor = os.open(path, os.O_RDONLY)
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
