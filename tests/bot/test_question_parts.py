"""Questions of several parts, specifics the evidence lacks, and authors named in a question (real model, real
index): each part gets its own cited sentence, a part no source covers is named, a question about an outlet or
a person the index does not have is refused while its answerable twin is answered, and a named author's
articles come first."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from bot.parts import question_parts
from bot.render_text import render_answer
from bot.service import Byline
from embeddings.encoder import Encoder
from tests.conftest import make_byline, write_corpus

COMPARISON = (
    "Did Tech Wire report that new rules restrict AI chip exports to China, did Market Daily report that "
    "Nvidia's revenue tripled, and did Sporting Ledger report who won the Rugby World Cup final?"
)
TEMPORAL = (
    "After the Tech Wire report on October 17, 2023, about new rules restricting AI chip exports to China, "
    "did the Market Daily report on November 21, 2023, say that Nvidia's quarterly revenue tripled?"
)


def test_a_comparison_question_is_cut_into_its_claims_each_with_its_outlet(news_byline: Byline) -> None:
    parts = question_parts(COMPARISON, news_byline.searcher().analyzer)
    assert [p.outlets for p in parts] == [["Tech Wire"], ["Market Daily"], ["Sporting Ledger"]]
    assert parts[0].text.startswith("Did Tech Wire report that new rules restrict AI chip exports")
    assert parts[2].text.startswith("did Sporting Ledger report who won the Rugby World Cup final")


def test_a_temporal_question_is_cut_into_its_reports_each_with_its_day_and_outlet(news_byline: Byline) -> None:
    parts = question_parts(TEMPORAL, news_byline.searcher().analyzer)
    dated = [(p.outlets, p.days) for p in parts if p.days]
    assert dated == [(["Tech Wire"], [date(2023, 10, 17)]), (["Market Daily"], [date(2023, 11, 21)])]
    assert any("restricting AI chip exports" in p.text for p in parts)
    assert any("revenue tripled" in p.text for p in parts)


def test_each_part_of_a_question_gets_its_own_cited_sentence(news_byline: Byline) -> None:
    answer = news_byline.ask(COMPARISON)
    assert not answer.refused and answer.not_covered == []
    cited = {c.article_id for c in answer.citations}
    assert cited == {"chip-exports", "chip-earnings", "rugby-final"}, "one source for each of the three claims"
    texts = [s.text for s in answer.sentences]
    assert any("restricting exports of advanced AI chips to China" in t for t in texts)
    assert any("triple the figure a year earlier" in t for t in texts)
    assert any("South Africa beat New Zealand" in t for t in texts)


def test_the_answer_says_which_part_no_source_covers(news_byline: Byline) -> None:
    question = (
        "Did Tech Wire report that new rules restrict AI chip exports to China, while Sporting Ledger reported "
        "on ticket prices for the concert season?"
    )
    answer = news_byline.ask(question)
    assert not answer.refused
    assert any("restricting exports of advanced AI chips" in s.text for s in answer.sentences)
    assert answer.not_covered == ["Sporting Ledger reported on ticket prices for the concert season?"]
    assert "No source covers: “Sporting Ledger reported on ticket prices for the concert season”" in render_answer(
        answer
    )


@pytest.mark.parametrize(
    "unanswerable, missing, answerable",
    [
        (
            "What did Bloomberg report about Nvidia's quarterly revenue?",
            ["Bloomberg"],
            "What did Market Daily report about Nvidia's quarterly revenue?",
        ),
        (
            "What did Jensen Huang say about export restrictions to China?",
            ["Jensen Huang"],
            "What did Nvidia say about export restrictions to China?",
        ),
    ],
)
def test_a_question_about_an_outlet_or_person_the_index_lacks_is_refused_its_twin_answered(
    news_byline: Byline, unanswerable: str, missing: list[str], answerable: str
) -> None:
    refused = news_byline.ask(unanswerable)
    assert refused.refused and refused.citations == []
    assert refused.not_covered == missing
    assert missing[0] in refused.text
    answered = news_byline.ask(answerable)
    assert not answered.refused and answered.citations


def _article(title: str, outlet: str, author: str, day: str, paragraphs: list[str]) -> str:
    return f'---\ntitle: "{title}"\noutlet: "{outlet}"\nauthor: "{author}"\ndate: {day}\n---\n\n' + "\n\n".join(
        paragraphs
    )


@pytest.fixture(scope="module")
def bylined(encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Byline:
    """Two outlets' articles that mention Iraq, by two authors: one mostly about Iraq, one only in passing."""
    folder: Path = tmp_path_factory.mktemp("bylines")
    files = {
        "border-pact.md": _article(
            "Iraq and Iran sign border security pact",
            "Gulf Courier",
            "Tom Hale",
            "2023-12-06",
            [
                "Iraq and Iran signed a pact on border security in Baghdad on Wednesday.",
                "Iraq agreed to disarm groups operating near the border, Iraqi officials said.",
                "The Iraq-Iran pact follows months of talks between the two neighbours over Iraq's northern region.",
            ],
        ),
        "energy-talks.md": _article(
            "Baku hosts regional energy talks",
            "Caspian Post",
            "Nigar Bayramli",
            "2023-12-07",
            [
                "Azerbaijan hosted ministers from the region for talks on gas pipelines and power lines.",
                "Delegates from Iraq asked about electricity imports to cover summer shortages.",
                "The talks ended with a pledge to meet again in the spring.",
            ],
        ),
    }
    byline = make_byline(encoder, write_corpus(folder / "corpus", files), folder / "index")
    byline.reindex()
    return byline


def test_an_author_named_in_the_question_leads_with_their_articles(bylined: Byline) -> None:
    answer = bylined.ask("What did Nigar Bayramli write about Iraq?")
    assert not answer.refused
    assert answer.passages[0].article_id == "energy-talks"
    assert answer.passages[0].author == "Nigar Bayramli"
    # By meaning alone "write about Iraq" is closer to the other article's sentences: the answer quotes
    # the named author because the question names them.
    assert answer.citations and {c.author for c in answer.citations} == {"Nigar Bayramli"}
    assert "Delegates from Iraq asked about electricity imports" in answer.text
    other = bylined.ask("What did Tom Hale write about Iraq?")
    assert other.passages[0].article_id == "border-pact"
    assert {c.article_id for c in other.citations} == {"border-pact"}


SOURCED = (
    "Between the Tech Wire article published on October 17, 2023, regarding new rules restricting AI chip exports "
    "to China, and the Market Daily article published on November 21, 2023, about Nvidia's quarterly revenue, did "
    "the reporting change?"
)


def test_a_clause_naming_only_its_source_joins_the_claim_after_it(news_byline: Byline) -> None:
    analyzer = news_byline.searcher().analyzer
    parts = question_parts(SOURCED, analyzer)
    assert [(p.outlets, p.days) for p in parts] == [
        (["Tech Wire"], [date(2023, 10, 17)]),
        (["Market Daily"], [date(2023, 11, 21)]),
    ]
    assert parts[0].text.endswith("regarding new rules restricting AI chip exports to China")
    assert "about Nvidia's quarterly revenue" in parts[1].text
    # Counting the outlet, the date and "article published" as a claim's words, each source was a part of
    # its own and each claim a part without a source.
    apart = question_parts(SOURCED, analyzer, source_clauses=False)
    assert [p.text for p in apart][:2] == [
        "Between the Tech Wire article published on October 17, 2023",
        "regarding new rules restricting AI chip exports to China",
    ]
    assert [(p.outlets, p.days) for p in apart][1] == ([], [])


def test_each_sourced_claim_is_answered_first_from_its_own_source(news_byline: Byline) -> None:
    answer = news_byline.ask(SOURCED)
    assert not answer.refused and answer.not_covered == []
    first, second = answer.sentences[:2]
    # One sentence per claim, in the claims' order (a part that only named "the Tech Wire article published
    # on October 17, 2023" was answered with whichever sentence of that article came closest).
    assert first.article_id == "chip-exports" and "restricting exports of advanced AI chips to China" in first.text
    assert second.article_id == "chip-earnings" and "triple the figure a year earlier" in second.text


def test_each_part_beyond_the_second_adds_a_sentence_so_every_claim_is_quoted(news_byline: Byline) -> None:
    shipped = news_byline.composer.config
    news_byline.composer.config = dataclasses.replace(shipped, sentences=2)
    try:
        three_parts = news_byline.ask(COMPARISON)
        one_claim = news_byline.ask("Who won the Rugby World Cup final?")
    finally:
        news_byline.composer.config = shipped
    assert len(three_parts.sentences) == 3
    assert {c.article_id for c in three_parts.citations} == {"chip-exports", "chip-earnings", "rugby-final"}
    assert three_parts.not_covered == []
    assert not one_claim.refused and len(one_claim.sentences) <= 2
