"""Which sentence of a passage the answer quotes: the one that says it, not the one whose neighbours do
(real model, real index with its stored, in-context sentence vectors)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.service import Byline
from embeddings.encoder import Encoder
from tests.bot.test_question_parts import _article
from tests.conftest import make_byline, write_corpus

QUESTION = "Who designed the new city library?"
SAYS_IT = "The new city library was designed by Lena Park."
AMONG_RELATED = "Critics debated how well the new city library was designed."


@pytest.fixture(scope="module")
def library(encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Byline:
    """One passage: the sentence naming the designer between two about other things, and a sentence with the
    same words between two about the library's architects (which its pooled vector takes in)."""
    folder: Path = tmp_path_factory.mktemp("library")
    paragraph = " ".join(
        [
            "The weather on Saturday was sunny and warm.",
            SAYS_IT,
            "A brass band played in the square until noon.",
            "The building's architect chose glass and timber for the walls.",
            AMONG_RELATED,
            "Architects from four countries had competed to design a library there.",
        ]
    )
    files = {"library.md": _article("City library opens", "Valley Times", "Ann Lee", "2023-11-02", [paragraph])}
    byline = make_byline(encoder, write_corpus(folder / "corpus", files), folder / "index", sentences=1)
    byline.reindex()
    return byline


def test_the_sentence_that_says_it_is_quoted_not_the_one_its_neighbours_make_close(library: Byline) -> None:
    answer = library.ask(QUESTION)
    assert not answer.refused
    assert answer.text == f"{SAYS_IT} [1]"


def test_by_pooled_vectors_alone_the_sentence_among_related_ones_wins(library: Byline) -> None:
    # What the neighbour contrast corrects: pooled in its passage, the sentence between two about the
    # library's architects looks closer to the question than the one that answers it.
    shipped = library.composer.config
    library.composer.config = dataclasses.replace(shipped, neighbour_contrast=0.0)
    try:
        answer = library.ask(QUESTION)
    finally:
        library.composer.config = shipped
    assert answer.text == f"{AMONG_RELATED} [1]"
