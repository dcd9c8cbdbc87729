"""Question hints: the outlets a question names (by their indexed names or short forms) and its dates."""

from __future__ import annotations

from datetime import date

import pytest

from embeddings.query import QueryAnalyzer

OUTLETS = [
    "The Independent - Sports",
    "The Independent - Life and Style",
    "Cnbc | World Business News Leader",
    "CBSSports.com",
    "The Age",
    "TechCrunch",
    "Fortune",
]
SPORTS, LIFE, CNBC, CBS, AGE, TECHCRUNCH, FORTUNE = OUTLETS


@pytest.fixture(scope="module")
def analyzer() -> QueryAnalyzer:
    return QueryAnalyzer(OUTLETS)


@pytest.mark.parametrize(
    "question, outlets",
    [
        ("What did TechCrunch report about the layoffs?", [TECHCRUNCH]),
        # A short form shared by two sections stands for both; a full name for its own section only.
        ("What did The Independent say about the final?", [LIFE, SPORTS]),
        ("What did The Independent - Sports say about the final?", [SPORTS]),
        ("How did Cnbc cover the rate decision?", [CNBC]),
        ("What did CBSSports say about the trade?", [CBS]),
        ("What did CBSSports.com say about the trade?", [CBS]),
        # In the order the question names them, each once.
        ("Did Cnbc and TechCrunch agree, and what did TechCrunch add?", [CNBC, TECHCRUNCH]),
        # Multi-word names in any case, with or without "the".
        ("what did the independent - life and style recommend?", [LIFE]),
        # One-word names only as written: "the age" and "fortune" are ordinary words.
        ("In the age of AI, who made a fortune?", []),
        ("What did The Age and Fortune report?", [AGE, FORTUNE]),
        # Inside another word is no mention.
        ("Is TechCrunchy a word?", []),
        ("What happened in Paris?", []),
    ],
)
def test_outlets_named_in_a_question(analyzer: QueryAnalyzer, question: str, outlets: list[str]) -> None:
    assert analyzer.analyze(question).outlets == outlets


@pytest.mark.parametrize(
    "question, days",
    [
        ("What happened on October 17, 2023?", [date(2023, 10, 17)]),
        ("News from 17 Oct 2023 and Sept. 5th, 2023", [date(2023, 10, 17), date(2023, 9, 5)]),
        ("Compare 2023-11-21 with November 21, 2023 and 2023-10-28", [date(2023, 11, 21), date(2023, 10, 28)]),
        ("What happened on February 30, 2023?", []),  # not a day: ignored, not an error
        ("What happened in 2023?", []),  # a year alone is no day
        ("What happened in October?", []),
        ("What did Fortune report?", []),
    ],
)
def test_days_given_in_a_question(analyzer: QueryAnalyzer, question: str, days: list[date]) -> None:
    assert analyzer.analyze(question).days == days


@pytest.mark.parametrize(
    "given, outlets",
    [
        ("TechCrunch", [TECHCRUNCH]),
        ("techcrunch", [TECHCRUNCH]),
        ("the age", [AGE]),
        ("Independent", [LIFE, SPORTS]),
        ("cnbc", [CNBC]),
        ("sports", [CBS, SPORTS]),  # no exact name: every outlet one of whose names contains it
        ("Daily Planet", []),
    ],
)
def test_an_outlet_filter_resolves_to_indexed_outlets(analyzer: QueryAnalyzer, given: str, outlets: list[str]) -> None:
    assert analyzer.resolve_outlet(given) == outlets


def test_no_indexed_outlets_means_no_outlet_hints() -> None:
    hints = QueryAnalyzer([]).analyze("What did TechCrunch report on 2023-10-17?")
    assert hints.outlets == [] and hints.days == [date(2023, 10, 17)]


def test_authors_named_in_a_question_longest_name_first_in_any_case() -> None:
    authors = ["Nigar Bayramli", "Nigar Bayramli Smith", "Nigel Bay", "Ann Lee", "Ann Leeds", "The Age"]
    analyzer = QueryAnalyzer(["The Age"], authors)
    question = "Did nigar bayramli smith and Ann Leeds agree with ANN LEE, or with Nigel?"
    mentions = analyzer.author_mentions(question)
    assert [question[m.start : m.end] for m in mentions] == ["nigar bayramli smith", "Ann Leeds", "ANN LEE"]
    assert analyzer.analyze(question).authors == ["Nigar Bayramli Smith", "Ann Leeds", "Ann Lee"]
    assert analyzer.author_mentions("What did Bayramli write?") == [], "a byline's second word alone is no mention"


def test_outlet_names_with_letters_beyond_ascii_are_found_in_any_case() -> None:
    analyzer = QueryAnalyzer(["Süddeutsche Zeitung", "Le Monde"])
    assert analyzer.analyze("What did SÜDDEUTSCHE ZEITUNG and LE MONDE report?").outlets == [
        "Süddeutsche Zeitung",
        "Le Monde",
    ]
    assert analyzer.analyze("what did süddeutsche zeitung say?").outlets == ["Süddeutsche Zeitung"]
