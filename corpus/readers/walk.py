"""Find the files of a corpus folder without ever leaving it unless allowed, and without hanging.

Files are listed recursively in sorted order, a folder's own files before its subfolders (as
os.walk does top-down); hidden files and folders (a leading ".") are ignored.

Symbolic links:
- to a file inside the corpus folder: read (under the link's name, unless the same file is also
  read under its own name: then the link is skipped as a duplicate);
- to a folder inside the corpus folder: not followed, since its files are read where they are;
- to anything outside the corpus folder: skipped with the target named, unless
  `follow_external_links` is set; then followed, each real folder at most once (no loops);
- broken, or a loop of links: skipped with the reason.

A folder that cannot be listed, and anything that is not a regular file (a named pipe, a
device), is skipped with the reason instead of silently or, for a pipe, hanging the load.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CorpusFile:
    """A file to read: `path` is where it appears in the corpus, `target` the real file behind it."""

    path: Path
    target: Path
    via_link: bool = False


@dataclass
class CorpusWalk:
    files: list[CorpusFile] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def walk_corpus(root: Path, follow_external_links: bool = False) -> CorpusWalk:
    """The files under root to read, and what was skipped on the way (with why)."""
    walker = _Walker(Path(os.path.realpath(root)), follow_external_links)
    walker.walk(root)
    walker.drop_duplicate_targets()
    return walker.result


class _Walker:
    def __init__(self, real_root: Path, follow_external_links: bool) -> None:
        self.real_root = real_root
        self.follow_external_links = follow_external_links
        self.result = CorpusWalk()
        self._visited: set[tuple[int, int]] = set()

    def walk(self, root: Path) -> None:
        pending = [root]  # a stack, so folders are visited depth-first in sorted order
        while pending:
            folder = pending.pop()
            subfolders = self._visit(folder)
            pending.extend(reversed(subfolders))

    def _visit(self, folder: Path) -> list[Path]:
        """Record the folder's files; return its subfolders to walk next."""
        try:
            identity = _identity(os.stat(folder))
            with os.scandir(folder) as listing:
                entries = sorted((entry for entry in listing if not entry.name.startswith(".")), key=lambda e: e.name)
        except OSError as error:
            self._skip(folder, f"cannot read folder ({_reason(error)})")
            return []
        if identity in self._visited:
            return []
        self._visited.add(identity)
        subfolders: list[Path] = []
        for entry in entries:
            path = Path(folder) / entry.name
            try:
                if entry.is_symlink():
                    subfolders.extend(self._link(path))
                elif entry.is_dir(follow_symlinks=False):
                    subfolders.append(path)
                else:
                    self._file(CorpusFile(path, Path(os.path.realpath(path))), entry.stat(follow_symlinks=False))
            except OSError as error:
                self._skip(path, f"cannot read ({_reason(error)})")
        return subfolders

    def _link(self, path: Path) -> list[Path]:
        try:
            target = Path(os.path.realpath(path, strict=True))
            target_stat = os.stat(target)
        except OSError as error:
            self._skip(path, f"broken symbolic link ({_broken_link_reason(path, error)})")
            return []
        inside = target == self.real_root or target.is_relative_to(self.real_root)
        kind = "folder" if stat.S_ISDIR(target_stat.st_mode) else "file"
        if not inside and not self.follow_external_links:
            self._skip(
                path,
                f"symbolic link to a {kind} outside the corpus folder ({target}); links out of it are not followed",
            )
            return []
        if kind == "folder":
            if inside:  # its files are read where they are; following it would read them twice
                return []
            if _identity(target_stat) in self._visited:
                self._skip(path, f"symbolic link to a folder already read ({target}); not read twice")
                return []
            return [path]
        self._file(CorpusFile(path, target, via_link=True), target_stat)
        return []

    def _file(self, file: CorpusFile, file_stat: os.stat_result) -> None:
        if stat.S_ISREG(file_stat.st_mode):
            self.result.files.append(file)
        else:
            self._skip(file.path, f"not a regular file ({_file_kind(file_stat.st_mode)})")

    def drop_duplicate_targets(self) -> None:
        """Read each real file once: under its own name if it is in the corpus, else its first link."""
        kept: dict[Path, CorpusFile] = {}
        for file in self.result.files:
            if file.target not in kept or (kept[file.target].via_link and not file.via_link):
                kept[file.target] = file
        for file in self.result.files:
            chosen = kept[file.target]
            if chosen is not file:
                self._skip(file.path, f"same file as {chosen.path} (read once)")
        self.result.files = [file for file in self.result.files if kept[file.target] is file]

    def _skip(self, path: Path, reason: str) -> None:
        self.result.skipped.append((path, reason))


def _identity(result: os.stat_result) -> tuple[int, int]:
    return result.st_dev, result.st_ino


def _broken_link_reason(path: Path, error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "a loop of symbolic links"
    try:
        return f"its target {os.readlink(path)} does not exist"
    except OSError:
        return _reason(error)


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_IFIFO: "a named pipe",
        stat.S_IFSOCK: "a socket",
        stat.S_IFCHR: "a character device",
        stat.S_IFBLK: "a block device",
        stat.S_IFDIR: "a folder",
    }
    return kinds.get(stat.S_IFMT(mode), "not a file")
