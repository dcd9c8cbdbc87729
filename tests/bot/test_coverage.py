"""Finding the names a question asks about in the retrieved articles, whose words are read once and kept."""

from __future__ import annotations

from bot.coverage import EvidenceText
from bot.specifics import Mention
from corpus.models import Article


def article(body: str, id: str = "iraq-border") -> Article:
    return Article(id=id, outlet="Wire", title="Border talks", paragraphs=[body])


def mentioned(evidence: EvidenceText, *names: str) -> list[bool]:
    return [evidence.mentions(Mention(name, 0, len(name))) for name in names]


def test_names_are_found_as_words_phrases_or_each_of_their_words() -> None:
    evidence = EvidenceText(
        [
            article("Baqeri proposed joint drills with Iraq's army.", "a"),
            article("The CEO met investors in New York on Tuesday.", "b"),
        ]
    )
    assert mentioned(evidence, "Baqeri", "Baqeri's", "New York", "York New", "CEOs", "Wire") == [True] * 6
    assert mentioned(evidence, "Sudani", "New Jersey", "drill") == [False, False, False]


def test_an_article_changed_under_the_same_id_is_read_again() -> None:
    before = EvidenceText([article("Baqeri proposed joint drills with Iraq.")])
    assert mentioned(before, "Baqeri", "Sudani") == [True, False]
    after = EvidenceText([article("Sudani welcomed the proposal for joint drills.")])
    assert mentioned(after, "Baqeri", "Sudani") == [False, True]
    assert mentioned(EvidenceText([article("Baqeri proposed joint drills with Iraq.")]), "Baqeri") == [True]
