"""A SQLite file that threads and processes share: the library and the bot's answer store use it.

Each call gets its own short-lived connection (so threads never share one), in WAL mode with a
busy timeout (so a CLI command and the bot can use the file at once); writes run in one
BEGIN IMMEDIATE transaction. The file and its schema are created on first use. Every SQLite or
file-system failure becomes the owner's BylineError subclass, one line naming the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from corpus.errors import BylineError

BUSY_TIMEOUT_MS = 30_000


class SqliteFile:
    """`path`, created with `schema` (then `setup` statements) on first use; errors raise `error`,
    whose message names the file as `label` ("The library …")."""

    def __init__(
        self,
        path: Path,
        schema: str,
        label: str,
        error: type[BylineError],
        setup: Sequence[tuple[str, tuple[object, ...]]] = (),
        pragmas: Sequence[str] = (),
    ) -> None:
        self.path = Path(path)
        self._schema = schema
        self._label = label
        self._error = error
        self._setup = setup
        self._pragmas = pragmas
        self._ready = False

    def exists(self) -> bool:
        return self.path.is_file()

    @contextmanager
    def connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode; with write=True, inside one BEGIN IMMEDIATE transaction."""
        self._create()
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as error:
            raise self._error(f"The {self._label} {self.path} cannot be opened ({error}).") from error
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            for pragma in self._pragmas:
                db.execute(pragma)
            if not write:
                yield db
                return
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.DatabaseError as error:
            raise self._error(f"The {self._label} {self.path} cannot be used ({error}).") from error
        finally:
            db.close()

    def _create(self) -> None:
        if self._ready:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            try:
                db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                db.execute("PRAGMA journal_mode = WAL")
                db.executescript(self._schema)
                for statement, parameters in self._setup:
                    db.execute(statement, parameters)
            finally:
                db.close()
        except (OSError, sqlite3.Error) as error:
            raise self._error(f"The {self._label} {self.path} cannot be written ({error}).") from error
        self._ready = True
