"""Other outlets of a story ("also in") in the terminal answer and in the Discord embed (under its source line)."""

from __future__ import annotations

from bot.answer_model import AlsoInRef, Answer, Citation
from bot.render_discord import ALSO_IN_CHARS, answer_embed
from bot.render_text import render_answer


def answer_with(also_in: list[AlsoInRef]) -> Answer:
    citation = Citation(
        n=1,
        excerpt="Wall Street closed out its worst month of the year with more losses on Friday.",
        article_id="web-1",
        title="ASX set to open lower",
        outlet="The Sydney Morning Herald",
        url="https://www.smh.example/markets/asx",
        also_in=also_in,
    )
    return Answer(
        question="How did Wall Street end September?",
        text=f"{citation.excerpt} [1]",
        refused=False,
        citations=[citation],
    )


def test_the_terminal_names_each_other_outlet_with_its_address() -> None:
    text = render_answer(
        answer_with([AlsoInRef(outlet="The Age", url="https://www.age.example/markets"), AlsoInRef(outlet="AP News")])
    )
    assert "also in: The Age (https://www.age.example/markets), AP News" in text
    assert "also in" not in render_answer(answer_with([]))


def test_the_embed_links_other_outlets_and_never_cuts_a_link() -> None:
    two = answer_embed(answer_with([AlsoInRef(outlet="The Age", url="https://www.age.example/markets")]))
    assert "also in: [The Age](<https://www.age.example/markets>)" in (two.description or "").splitlines()
    many = [
        AlsoInRef(outlet=f"Regional Paper {n}", url=f"https://paper{n}.example/markets/wall-street-september")
        for n in range(40)
    ]
    line = (answer_embed(answer_with(many)).description or "").splitlines()[-1]
    assert line.startswith("also in: [Regional Paper 0]") and line.endswith(" more")
    assert line.count("[") == line.count("](<") == line.count(">)"), "only whole links"
    assert len(line) <= ALSO_IN_CHARS
