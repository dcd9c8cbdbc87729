"""The answer store: answers kept for their buttons (pruned by age and count), votes, and the export."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.answer_model import Answer, Citation, Passage
from bot.answer_store import (
    ANSWERS_FILE,
    AnswerGoneError,
    AnswerStore,
    AnswerStoreError,
    FeedbackCounts,
    ForeignAnswerError,
    Retention,
    Vote,
    VoteOutcome,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
USER = 123456789012345678


def an_answer(question: str = "What did Baqeri propose?") -> Answer:
    citation = Citation(n=1, article_id="seed", title="Border talks", author="Nigar Bayramli", excerpt="Drills.")
    passage = Passage(article_id="seed", title="Border talks", text="Drills. More.", score=0.9, start=0, end=13)
    return Answer(question=question, text="Drills. [1]", refused=False, citations=[citation], passages=[passage])


@pytest.fixture
def store(tmp_path: Path) -> AnswerStore:
    return AnswerStore(tmp_path / "index" / ANSWERS_FILE)


def test_an_answer_is_read_back_whole_only_in_its_own_tenant(store: AnswerStore) -> None:
    answer = an_answer()
    store.save(answer, "guild-a", {"outlet": "Tasnim"}, at=T0)
    kept = store.answer_for(answer.answer_id, "guild-a")
    assert kept.answer == answer and kept.tenant == "guild-a" and kept.options == {"outlet": "Tasnim"}
    assert kept.asked_at == T0
    with pytest.raises(ForeignAnswerError, match="belongs to another server"):
        store.answer_for(answer.answer_id, "guild-b")
    with pytest.raises(AnswerGoneError, match="no longer kept"):
        store.answer_for("0" * 16, "guild-a")


def test_reading_before_anything_was_kept_finds_nothing_and_creates_no_file(store: AnswerStore) -> None:
    with pytest.raises(AnswerGoneError):
        store.answer_for("0" * 16, "")
    assert store.counts() == FeedbackCounts() and list(store.feedback()) == []
    assert not store.path.exists()


def test_old_answers_and_those_beyond_the_count_are_pruned(store: AnswerStore) -> None:
    retention = Retention(days=2, answers=3)
    answers = [an_answer(f"q{i}") for i in range(6)]
    moments = [T0 - timedelta(days=3), T0, T0 + timedelta(hours=1), T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    for answer, moment in zip(answers, moments):
        store.save(answer, "", retention=retention, at=moment)
    kept = [a.question for a in answers[:5] if _kept(store, a)]
    assert kept == ["q2", "q3", "q4"], "q0 was too old; q1 the oldest beyond three"
    store.save(answers[5], "", retention=retention, at=T0 + timedelta(days=2, hours=1, minutes=30))
    assert [a.question for a in answers if _kept(store, a)] == ["q4", "q5"], "two days after q2 and q3"
    assert store.counts().answers == 2


def _kept(store: AnswerStore, answer: Answer) -> bool:
    try:
        store.answer_for(answer.answer_id, "")
    except AnswerGoneError:
        return False
    return True


def test_one_vote_per_user_per_answer_which_a_second_click_confirms_or_changes(store: AnswerStore) -> None:
    answer = an_answer()
    store.save(answer, "guild-a", at=T0)
    assert store.vote(answer.answer_id, "guild-a", USER, Vote.UP, at=T0) == VoteOutcome(Vote.UP, None)
    assert store.vote(answer.answer_id, "guild-a", USER, Vote.UP) == VoteOutcome(Vote.UP, Vote.UP)
    assert store.vote(answer.answer_id, "guild-a", USER, Vote.DOWN) == VoteOutcome(Vote.DOWN, Vote.UP)
    assert store.vote(answer.answer_id, "guild-a", USER + 1, Vote.DOWN) == VoteOutcome(Vote.DOWN, None)
    assert store.counts("guild-a") == FeedbackCounts(up=0, down=2, answers=1)
    assert store.counts("guild-b") == FeedbackCounts()
    with pytest.raises(ForeignAnswerError):
        store.vote(answer.answer_id, "guild-b", USER, Vote.UP)
    with pytest.raises(AnswerGoneError):
        store.vote("f" * 16, "guild-a", USER, Vote.UP)


def test_feedback_outlives_its_answer_and_keeps_no_raw_user_id(store: AnswerStore) -> None:
    first, second = an_answer("first"), an_answer("second")
    store.save(first, "guild-a", {"author": "bayramli"}, at=T0)
    store.vote(first.answer_id, "guild-a", USER, Vote.DOWN, at=T0 + timedelta(minutes=1))
    store.save(second, "guild-a", retention=Retention(answers=1), at=T0 + timedelta(days=1))
    with pytest.raises(AnswerGoneError):
        store.answer_for(first.answer_id, "guild-a")
    (record,) = store.feedback()
    assert record["question"] == "first" and record["vote"] == "down" and record["options"] == {"author": "bayramli"}
    assert record["citations"] == [
        {
            "n": 1,
            "article_id": "seed",
            "title": "Border talks",
            "outlet": "",
            "author": "Nigar Bayramli",
            "published": None,
            "url": "",
            "excerpt": "Drills.",
        }
    ]
    assert record["passages"][0]["score"] == 0.9 and "text" not in record["passages"][0]
    assert record["asked_at"] == "2024-05-01T12:00:00+00:00" and record["voted_at"] == "2024-05-01T12:01:00+00:00"
    assert re.fullmatch(r"[0-9a-f]{32}", record["user"])
    raw = str(USER)
    assert raw not in json.dumps(record)
    with sqlite3.connect(store.path) as db:
        dumped = "\n".join(db.iterdump())
    assert raw not in dumped, "the user is kept only as a salted hash"


def test_the_same_user_hashes_alike_within_a_store_and_differently_in_another(tmp_path: Path) -> None:
    stores = [AnswerStore(tmp_path / name / ANSWERS_FILE) for name in ("one", "two")]
    hashes = []
    for store in stores:
        for question in ("a", "b"):
            answer = an_answer(question)
            store.save(answer, "", at=T0)
            store.vote(answer.answer_id, "", USER, Vote.UP, at=T0)
        hashes.append({r["user"] for r in store.feedback()})
    assert all(len(h) == 1 for h in hashes) and hashes[0] != hashes[1], "each store has its own salt"


def test_feedback_since_a_day_counts_votes_cast_or_changed_from_then(store: AnswerStore) -> None:
    answer = an_answer()
    store.save(answer, "", at=T0)
    store.vote(answer.answer_id, "", USER, Vote.UP, at=T0)
    store.vote(answer.answer_id, "", USER + 1, Vote.UP, at=T0)
    store.vote(answer.answer_id, "", USER + 1, Vote.DOWN, at=T0 + timedelta(days=3))
    assert len(list(store.feedback(date(2024, 5, 1)))) == 2
    (changed,) = store.feedback(date(2024, 5, 2))
    assert changed["vote"] == "down" and changed["first_voted_at"] < changed["voted_at"]


def test_a_store_that_cannot_be_written_says_so_in_one_line(tmp_path: Path) -> None:
    blocked = tmp_path / "index" / ANSWERS_FILE
    blocked.mkdir(parents=True)  # a folder where the file should be
    with pytest.raises(AnswerStoreError, match=rf"The answer store {re.escape(str(blocked))} cannot be written"):
        AnswerStore(blocked).save(an_answer(), "")
