"""Hostile questions: the core refuses what is not text with one clear line, and keeps real questions in any language."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.question_text import QuestionError, clean_context, clean_question, without_emphasis
from bot.service import Byline

LIMIT = 1000
REAL_QUESTIONS = [
    "What did Baqeri propose?",
    "Qu'a proposé Baqeri à l'Irak ?",
    "¿Qué propuso Baqeri sobre la frontera?",
    "Что предложил Багери?",
    "巴盖里提出了什么建议？",
    "バゲリは何を提案しましたか？",
    "바게리는 무엇을 제안했나요?",
    "ماذا اقترح باقري؟",
    "باقری می\u200cخواهد چه کند؟",  # the zero-width non-joiner is part of the Persian word
    "बाघेरी ने क्या प्रस्ताव रखा?",
    "क्\u200dष क्या है?",  # a joiner inside a Devanagari cluster
    "บาเกรีเสนออะไร",
    "מה הציע באקרי?",
    "Τι πρότεινε ο Μπαγκερί;",
    "Baqeri đã đề xuất điều gì?",
    "Who is the family in 👨\u200d👩\u200d👧 emoji news?",
    "What did C++ and C# users say about 2*3 and snake_case?",
]
# Text that any language's question can contain around or inside its words and that is never part of it.
HIDDEN = [
    "\x00",
    "\x07",
    "\x1b",
    "\x7f",
    "\x9b",
    "\u200b",
    "\u2060",
    "\ufeff",
    "\u00ad",
    "\u202e",
    "\u202c",
    "\u2066",
    "\u2069",
    "\u200e",
    "\u200f",
    "\U000e0041",
    "\x1b[31m",
    "\x1b]0;owned\x07",
    "\x1b[2J",
]
ANY_TEXT = st.text(st.characters(exclude_categories=()) | st.characters(categories=["Cs"]), max_size=300)


def one_line_message(error: QuestionError) -> str:
    message = str(error)
    assert message and "\n" not in message and len(message) <= 200, message
    return message


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT)
def test_any_text_is_either_clean_plain_text_or_refused_in_one_line(text: str) -> None:
    try:
        cleaned = clean_question(text, LIMIT)
    except QuestionError as error:
        one_line_message(error)
        return
    cleaned.encode("utf-8")  # strict: no lone surrogate survives
    assert cleaned == cleaned.strip() and "  " not in cleaned and len(cleaned) <= LIMIT
    assert not any(unicodedata.category(ch) == "Cc" for ch in cleaned)
    assert not any(unicodedata.category(ch) == "Cf" and ch not in "\u200c\u200d" for ch in cleaned)
    assert any(ch.isalnum() for ch in cleaned)
    assert clean_question(cleaned, LIMIT) == cleaned, "cleaning is idempotent"


@pytest.mark.parametrize("question", REAL_QUESTIONS)
def test_real_questions_in_any_language_are_kept_as_written(question: str) -> None:
    assert clean_question(question, LIMIT) == question


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(REAL_QUESTIONS),
    st.lists(st.tuples(st.integers(min_value=0), st.sampled_from(HIDDEN)), min_size=1, max_size=8),
)
def test_hidden_characters_anywhere_are_dropped_and_the_words_kept(question: str, insertions) -> None:
    hostile = question
    for at, hidden in sorted(
        ((position % (len(question) + 1), hidden) for position, hidden in insertions), reverse=True
    ):
        hostile = hostile[:at] + hidden + hostile[at:]
    assert clean_question(hostile, LIMIT) == question


@pytest.mark.parametrize(
    "question, cleaned",
    [
        ("  What\tdid\r\nBaqeri\u2028propose?\u3000", "What did Baqeri propose?"),
        (
            "Ｗｈａｔ ｄｉｄ Ｂａｑｅｒｉ ｐｒｏｐｏｓｅ？",
            "What did Baqeri propose？",
        ),  # full-width letters, not punctuation
        ("What did 𝐁𝐚𝐪𝐞𝐫𝐢 propose?", "What did Baqeri propose?"),
        ("What did Ba\u200dqeri propose?", "What did Baqeri propose?"),  # a joiner hidden in a Latin word
        ("What did \ud83e\udd14 Baqeri propose?", "What did 🤔 Baqeri propose?"),  # an emoji as a UTF-16 pair
        ("   " + "\n" * 5000 + "What did Baqeri propose?", "What did Baqeri propose?"),
    ],
)
def test_whitespace_look_alikes_and_surrogate_pairs_are_normalised(question: str, cleaned: str) -> None:
    assert clean_question(question, LIMIT) == cleaned


@pytest.mark.parametrize(
    "question, reason",
    [
        ("What did Apple \udcff\udcfe do?", "character 16 is an undecodable byte or a lone surrogate (U+DCFF)"),
        ("What did Baqeri propose?\ud800", "character 25 is an undecodable byte or a lone surrogate (U+D800)"),
        ("", "Ask a question"),
        ("\u200b\u202e \x00\ufeff\u2066", "Ask a question"),
        ("🤔🔥 ?! 👍🏽 …", "has no words in it"),
        ("<> ** __ ~~ || ``", "has no words in it"),
        ("why " * 300, "1,199 characters long; keep it under 1,000"),
        ("why " * 1_000_000, "4,000,000 characters long; keep it under 1,000"),
    ],
)
def test_what_is_not_a_question_is_refused_with_one_clear_line(question: str, reason: str) -> None:
    with pytest.raises(QuestionError) as refused:
        clean_question(question, LIMIT)
    assert reason in one_line_message(refused.value)


def test_the_core_leaves_discord_syntax_to_the_discord_layer() -> None:
    # A CLI question is taken as written: <@123> is only a mention in Discord, which cleans its own syntax.
    assert clean_question("What did <@123456> say in <#42> about <@&7>?", LIMIT) == (
        "What did <@123456> say in <#42> about <@&7>?"
    )
    assert clean_question("<@123456>", LIMIT) == "<@123456>"


def test_a_conversation_context_is_cleaned_not_refused() -> None:
    assert clean_context("Nvidia\ud800 \u202erevenue\x00?", LIMIT) == "Nvidia\ufffd revenue?"
    assert clean_context("\u200b 🤔", LIMIT) is None
    assert clean_context(None, LIMIT) is None


def test_the_service_refuses_a_lone_surrogate_instead_of_crashing(news_byline: Byline) -> None:
    with pytest.raises(QuestionError, match="not valid text"):
        news_byline.ask("What did Apple \udcff\udcfe do?")
    # A hostile earlier question (e.g. a thread renamed by anyone) does not break the follow-up.
    answer = news_byline.ask("and what did they warn about?", context="What was Nvidia's \ud800 revenue?\x00")
    assert "Nvidia" in answer.text and not answer.refused


def test_byline_ask_with_undecodable_bytes_exits_2_with_one_line(tmp_path: Path) -> None:
    """The shell passes bytes: Python turns undecodable ones into lone surrogates (surrogateescape)."""
    env = {**os.environ, "BYLINE_INDEX_PATH": str(tmp_path / "index"), "XDG_DATA_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", b"What did Apple \xff\xfe do?"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, stderr
    assert stderr.strip().splitlines() == [
        "error: That question is not valid text: character 16 is an undecodable byte or a lone surrogate (U+DCFF)."
    ]


@pytest.mark.parametrize(
    ("asked", "searched"),
    [
        ("What did **Baqeri** _propose_?", "What did Baqeri propose?"),
        ("Did ~~Apple~~ `Nvidia` ***really*** say that?", "Did Apple Nvidia really say that?"),
        ("What is snake_case_name or 2*3*4?", "What is snake_case_name or 2*3*4?"),
    ],
)
def test_emphasis_markers_are_not_searched_for(asked: str, searched: str) -> None:
    assert without_emphasis(asked) == searched
