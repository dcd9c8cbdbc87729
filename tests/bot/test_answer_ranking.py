"""The passages an answer returns: the ones it quotes lead, the others follow in retrieval order (real model,
real index)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.service import Byline
from embeddings.encoder import Encoder
from tests.bot.test_question_parts import _article
from tests.conftest import make_byline, write_corpus

QUESTION = "How many megawatts will the Tallow Creek wind farm produce?"


@pytest.fixture(scope="module")
def wind_farm(encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Byline:
    """An article that names the wind farm in every sentence but never says its output, and one that says
    it once; answers quote one sentence."""
    folder: Path = tmp_path_factory.mktemp("wind")
    files = {
        "wind-protest.md": _article(
            "Tallow Creek wind farm protest draws crowd",
            "Valley Times",
            "Ann Lee",
            "2023-11-02",
            [
                "Residents gathered at Tallow Creek on Saturday to protest the wind farm planned on the ridge.",
                "The Tallow Creek wind farm has divided the valley since it was first proposed.",
                "Opponents of the wind farm say the turbines will spoil the view from Tallow Creek.",
                "Supporters of the Tallow Creek wind farm held a smaller rally across the road.",
            ],
        ),
        "grid-plan.md": _article(
            "Regional grid plan adds new sources",
            "Energy Desk",
            "Bob Smith",
            "2023-11-03",
            [
                "The regional grid operator published its ten-year plan on Friday.",
                "Once finished, the Tallow Creek turbines will produce 120 megawatts, enough for 40,000 homes.",
                "The plan also lists two solar parks and a battery store near the port.",
            ],
        ),
    }
    byline = make_byline(encoder, write_corpus(folder / "corpus", files), folder / "index", sentences=1)
    byline.reindex()
    return byline


def test_the_passage_the_answer_quotes_comes_first(wind_farm: Byline) -> None:
    answer = wind_farm.ask(QUESTION)
    assert answer.text.startswith("Once finished, the Tallow Creek turbines will produce 120 megawatts")
    assert [c.article_id for c in answer.citations] == ["grid-plan"]
    assert [p.article_id for p in answer.passages] == ["grid-plan", "wind-protest"]


def test_retrieval_ranks_the_article_naming_the_farm_throughout_first(wind_farm: Byline) -> None:
    # What the answer's order corrects: by passage score the article that never gives the output leads.
    shipped = wind_farm.composer.config
    wind_farm.composer.config = dataclasses.replace(shipped, cited_first=False)
    try:
        answer = wind_farm.ask(QUESTION)
    finally:
        wind_farm.composer.config = shipped
    assert [c.article_id for c in answer.citations] == ["grid-plan"]
    assert [p.article_id for p in answer.passages] == ["wind-protest", "grid-plan"]
    assert answer.passages[0].score > answer.passages[1].score
