"""The index folder as a place on disk: what a failed read or write there means, in one line.

A failure of the folder itself (it is a file, cannot be created, is read-only) or of the disk (full,
over quota, file size limit) is not damage to the index: rebuilding would not help, so these errors
carry no remedy and say what is wrong instead.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from corpus.errors import BylineError

# A write refused for lack of room: a full disk, an exhausted quota, or a file size limit.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# SQLite's primary result codes for a write that did not happen (as opposed to a damaged file).
_SQLITE_WRITE_FAILURES = frozenset(
    {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN}
)
# How far past the end of a database a write is tried, to learn why SQLite could not grow it.
_PROBE_MARGIN = 1 << 20


class IndexLocationError(BylineError):
    """The index folder cannot be used where it is; `setting` names where its path came from, if known."""

    def __init__(self, path: Path, problem: str, setting: str | None = None) -> None:
        self.path, self.problem, self.setting = path, problem, setting
        where = f"The index folder {path} ({setting})" if setting else f"The index folder {path}"
        super().__init__(f"{where} {problem}.")

    def naming(self, setting: str) -> IndexLocationError:
        """The same error, saying which setting holds the path."""
        return IndexLocationError(self.path, self.problem, setting)


class IndexDiskFullError(BylineError):
    """No room to write the index; whatever was served before is still served."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(
            f"The disk is full: the index at {path} could not be written ({reason}). "
            "The last complete index is still served."
        )


def location_error(index_path: Path, error: OSError, doing: str = "written") -> BylineError:
    """The one-line error for an OSError met while using the index folder (`doing`: "read" or "written")."""
    if error.errno in DISK_FULL_ERRNOS:
        return IndexDiskFullError(index_path, error.strerror or str(error))
    blocker = _not_a_folder(index_path)
    if blocker is not None:
        return IndexLocationError(index_path, blocker)
    reason = error.strerror or type(error).__name__
    if error.filename and os.fspath(error.filename) != os.fspath(index_path):
        reason = f"{reason}: {error.filename}"
    if error.errno == errno.ENOENT and not os.path.isdir(index_path):
        return IndexLocationError(index_path, f"cannot be created ({reason})")
    return IndexLocationError(index_path, f"cannot be {doing} ({reason})")


@contextmanager
def writing_to(index_path: Path) -> Iterator[None]:
    """Turn an OSError raised while writing under the index folder into a clear BylineError."""
    try:
        yield
    except OSError as error:
        raise location_error(index_path, error) from error


@contextmanager
def writing_database(index_path: Path, database: Path) -> Iterator[None]:
    """Like `writing_to`, for an SQLite `database` in the index folder that SQLite itself writes."""
    with writing_to(index_path):
        try:
            yield
        except sqlite3.OperationalError as error:
            if not _sqlite_write_failed(error):
                raise
            raise _sqlite_write_error(index_path, database, error) from error


def _sqlite_write_failed(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in _SQLITE_WRITE_FAILURES


def _sqlite_write_error(index_path: Path, database: Path, error: sqlite3.OperationalError) -> BylineError:
    """SQLite says "database or disk is full" only for ENOSPC; other refusals are a bare I/O error, so
    the same kind of write is tried again here to learn the reason."""
    if error.sqlite_errorcode == sqlite3.SQLITE_FULL:
        return IndexDiskFullError(index_path, str(error))
    size = database.stat().st_size if database.exists() else 0
    refused = _refused_write(index_path, size + _PROBE_MARGIN)
    if refused is not None:
        return location_error(index_path, refused)
    return IndexLocationError(index_path, f"cannot be written ({error}: {database.name})")


def _refused_write(folder: Path, offset: int) -> OSError | None:
    """Write one byte at `offset` of a scratch file in `folder`: the OSError the disk gives, if any.

    A sparse write at `offset` meets the same limits as growing a file to that size: a full disk, a
    quota, a file size limit, a read-only folder.
    """
    try:
        descriptor, name = tempfile.mkstemp(prefix=".probe-", dir=folder)
    except OSError as error:
        return error
    try:
        os.pwrite(descriptor, b"\0", offset)
    except OSError as error:
        return error
    finally:
        os.close(descriptor)
        os.unlink(name)
    return None


def _not_a_folder(index_path: Path) -> str | None:
    """What is wrong when something other than a folder stands on the way to `index_path`."""
    for candidate in (index_path, *index_path.parents):
        if os.path.lexists(candidate) and not os.path.isdir(candidate):
            kind = "a file, not a folder" if os.path.isfile(candidate) else "not a folder"
            return f"is {kind}" if candidate == index_path else f"cannot be used: {candidate} is {kind}"
    return None
