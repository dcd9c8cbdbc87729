"""Answers and their feedback, kept in one SQLite file in the index folder (beside the embedding cache,
outliving index generations), so what an answer's buttons need survives restarts and hours.

Tables:
    meta       the salt of the user hashes (random, made once)
    answers    each answer given in Discord: its id, the tenant (server) it was given in, when, the options
               it was asked with, and the whole Answer (passages included) as compressed JSON; pruned by age
               and count
    feedback   one vote per user per answer (changeable): the user as a salted hash (never the raw id), the
               vote, when (and a counter ordering every change), and a copy of what was voted on (question, answer, citations, passages, options),
               so feedback outlives its answer's pruning

Each call opens its own connection (the file may be shared by threads and by the command line), in WAL
mode with a busy timeout; every change is one short transaction. Reads of a missing file find nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from bot.answer_model import Answer
from corpus.errors import BylineError
from corpus.sqlite_file import SqliteFile

ANSWERS_FILE = "answers.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    answer_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    asked_at TEXT NOT NULL,
    options TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_by_time ON answers (asked_at);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id TEXT NOT NULL,
    user_hash TEXT NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    tenant TEXT NOT NULL,
    asked_at TEXT NOT NULL,
    first_voted_at TEXT NOT NULL,
    voted_at TEXT NOT NULL,
    change INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (answer_id, user_hash)
);
CREATE INDEX IF NOT EXISTS feedback_by_change ON feedback (change);
"""


class AnswerStoreError(BylineError):
    """The answer store cannot be opened or written; the message says why."""


class AnswerGoneError(BylineError):
    """The answer was pruned (or never kept): its buttons cannot be served any more."""

    def __init__(self) -> None:
        super().__init__("This answer is no longer kept, so its buttons no longer work. Ask the question again.")


class ForeignAnswerError(BylineError):
    """The answer was given in another server, which alone may read it."""

    def __init__(self) -> None:
        super().__init__("This answer belongs to another server.")


class Vote(StrEnum):
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True)
class Retention:
    """How long answers are kept for their buttons, and how many at most."""

    days: float = 30.0
    answers: int = 10_000


@dataclass(frozen=True)
class StoredAnswer:
    answer: Answer
    tenant: str
    asked_at: datetime
    options: dict[str, str]


@dataclass(frozen=True)
class VoteOutcome:
    """The vote now recorded and the one it replaced (None: the user's first vote on this answer)."""

    vote: Vote
    previous: Vote | None


@dataclass(frozen=True)
class FeedbackCounts:
    up: int = 0
    down: int = 0
    answers: int = 0  # answers kept for their buttons


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class AnswerStore:
    """The SQLite file at `path` (created on the first write)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._connect = SqliteFile(self.path, _SCHEMA, "answer store", AnswerStoreError).connect

    # --- answers

    def save(
        self,
        answer: Answer,
        tenant: str,
        options: dict[str, str] | None = None,
        retention: Retention | None = None,
        at: datetime | None = None,
    ) -> None:
        """Keep `answer` as given in `tenant` (a Discord server id, "" outside one), then prune old answers."""
        at = at or now()
        data = zlib.compress(answer.model_dump_json().encode())
        with self._connect(write=True) as db:
            db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                (answer.answer_id, tenant, _stamp(at), json.dumps(options or {}), data),
            )
            if retention is not None:
                _prune(db, retention, at)

    def answer_for(self, answer_id: str, tenant: str) -> StoredAnswer:
        """The kept answer, for a button clicked in `tenant`: AnswerGoneError when it is not kept,
        ForeignAnswerError when another tenant's."""
        stored = self._load(answer_id)
        if stored is None:
            raise AnswerGoneError()
        if stored.tenant != tenant:
            raise ForeignAnswerError()
        return stored

    def _load(self, answer_id: str) -> StoredAnswer | None:
        if not self.path.exists():
            return None
        with self._connect() as db:
            row = db.execute(
                "SELECT tenant, asked_at, options, data FROM answers WHERE answer_id = ?", (answer_id,)
            ).fetchone()
        if row is None:
            return None
        tenant, asked_at, options, data = row
        answer = Answer.model_validate_json(zlib.decompress(data))
        return StoredAnswer(answer, tenant, datetime.fromisoformat(asked_at), json.loads(options))

    # --- feedback

    def vote(
        self, answer_id: str, tenant: str, user_id: int | str, vote: Vote, at: datetime | None = None
    ) -> VoteOutcome:
        """Record `user_id`'s vote on a kept answer (replacing their earlier one); the user is stored only
        as a salted hash."""
        stored = self.answer_for(answer_id, tenant)
        at = at or now()
        with self._connect(write=True) as db:
            user = _user_hash(_salt(db), user_id)
            row = db.execute(
                "SELECT vote FROM feedback WHERE answer_id = ? AND user_hash = ?", (answer_id, user)
            ).fetchone()
            (change,) = db.execute("SELECT COALESCE(MAX(change), 0) + 1 FROM feedback").fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        answer_id,
                        user,
                        vote.value,
                        tenant,
                        _stamp(stored.asked_at),
                        _stamp(at),
                        _stamp(at),
                        change,
                        json.dumps(_feedback_record(stored), ensure_ascii=False),
                    ),
                )
            elif row[0] != vote.value:
                db.execute(
                    "UPDATE feedback SET vote = ?, voted_at = ?, change = ? WHERE answer_id = ? AND user_hash = ?",
                    (vote.value, _stamp(at), change, answer_id, user),
                )
        return VoteOutcome(vote, Vote(row[0]) if row else None)

    def counts(self, tenant: str | None = None) -> FeedbackCounts:
        """Votes (and answers kept) in `tenant`; None: everywhere."""
        if not self.path.exists():
            return FeedbackCounts()
        where, args = ("WHERE tenant = ?", (tenant,)) if tenant is not None else ("", ())
        with self._connect() as db:
            votes = dict(db.execute(f"SELECT vote, COUNT(*) FROM feedback {where} GROUP BY vote", args).fetchall())
            (answers,) = db.execute(f"SELECT COUNT(*) FROM answers {where}", args).fetchone()
        return FeedbackCounts(up=votes.get("up", 0), down=votes.get("down", 0), answers=answers)

    def feedback(self, since: date | None = None) -> Iterator[dict[str, Any]]:
        """Every vote cast or changed on or after `since` (UTC), in the order of their last change, as
        export records."""
        if not self.path.exists():
            return
        start = _stamp(datetime.combine(since, time(), UTC)) if since else ""
        with self._connect() as db:
            rows = db.execute(
                "SELECT answer_id, user_hash, vote, tenant, asked_at, first_voted_at, voted_at, record "
                "FROM feedback WHERE voted_at >= ? ORDER BY change",
                (start,),
            ).fetchall()
        for answer_id, user, vote, tenant, asked_at, first_voted_at, voted_at, record in rows:
            yield {
                "answer_id": answer_id,
                "vote": vote,
                "voted_at": voted_at,
                "first_voted_at": first_voted_at,
                "user": user,
                "server": tenant,
                "asked_at": asked_at,
                **json.loads(record),
            }


def _prune(db: sqlite3.Connection, retention: Retention, at: datetime) -> None:
    """Forget answers older than the retention period, and all but the newest `retention.answers`."""
    cutoff = _stamp(at - timedelta(days=retention.days))
    db.execute("DELETE FROM answers WHERE asked_at < ?", (cutoff,))
    db.execute(
        "DELETE FROM answers WHERE rowid IN "
        "(SELECT rowid FROM answers ORDER BY asked_at DESC, rowid DESC LIMIT -1 OFFSET ?)",
        (retention.answers,),
    )


def _salt(db: sqlite3.Connection) -> bytes:
    """The store's own random salt, made the first time a user is hashed."""
    db.execute("INSERT OR IGNORE INTO meta VALUES ('user_salt', ?)", (secrets.token_hex(32),))
    (value,) = db.execute("SELECT value FROM meta WHERE key = 'user_salt'").fetchone()
    return bytes.fromhex(value)


def _user_hash(salt: bytes, user_id: int | str) -> str:
    return hmac.new(salt, str(user_id).encode(), hashlib.sha256).hexdigest()[:32]


def _feedback_record(stored: StoredAnswer) -> dict[str, Any]:
    """What an admin needs to see why an answer failed: the question and how it was asked, the answer, its
    citations and the passages it was chosen from."""
    answer = stored.answer
    return {
        "question": answer.question,
        "options": stored.options,
        "answer": answer.text,
        "refused": answer.refused,
        "citations": [
            c.model_dump(
                mode="json", include={"n", "article_id", "title", "outlet", "author", "published", "url", "excerpt"}
            )
            for c in answer.citations
        ],
        "passages": [
            p.model_dump(mode="json", include={"article_id", "title", "outlet", "url", "score", "start", "end"})
            for p in answer.passages
        ],
    }
