"""Real hostile file systems for tests: a read-only folder, a small disk, a file size limit.

Root ignores file permissions, so as root a read-only folder is a read-only bind mount and a small
disk is a tmpfs; a test that needs one and cannot mount it is skipped, saying why.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """`folder` and everything under it cannot be written, by this process or any other."""
    if os.geteuid() != 0:
        with _without_write_permission(folder):
            yield
        return
    _mount(["--bind", str(folder), str(folder)], "a bind mount")
    try:
        _mount(["-o", "remount,bind,ro", str(folder)], "a read-only remount")
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@contextmanager
def small_disk(folder: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `folder` (root only)."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    _mount(["-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], "a tmpfs")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def held_open(folder: Path) -> list[str]:
    """Files under `folder` this process has open or memory-mapped (what keeps a disk from unmounting)."""
    held = set()
    for descriptor in os.listdir("/proc/self/fd"):
        with suppress(OSError):  # closed meanwhile
            held.add(os.readlink(f"/proc/self/fd/{descriptor}"))
    with open("/proc/self/maps", encoding="utf-8") as maps:
        held.update(line.split(maxsplit=5)[-1].strip() for line in maps if len(line.split(maxsplit=5)) == 6)
    inside = str(folder.resolve()) + os.sep
    return sorted(path for path in held if path.startswith(inside))


def fill(disk: Path, leave: int) -> Path:
    """Fill `disk` with one file, then give back `leave` bytes: what a nearly full disk looks like."""
    filler = disk / "filler"
    block = b"\0" * 65536
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(block)
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
    os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def file_size_limit(limit: int) -> Callable[[], None]:
    """A subprocess `preexec_fn`: files cannot grow past `limit` bytes, and writes past it fail with EFBIG."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    return apply


def _mount(arguments: list[str], what: str) -> None:
    result = subprocess.run(["mount", *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"this test needs {what}, which is not allowed here: {result.stderr.strip()}")


@contextmanager
def _without_write_permission(folder: Path) -> Iterator[None]:
    modes = {path: path.stat().st_mode for path in [folder, *folder.rglob("*")]}
    for path, mode in modes.items():
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        yield
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
