"""The two faces of an answer: plain text for a terminal, embeds for Discord (within Discord's limits)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from bot.answer import NO_COVERAGE
from bot.answer_model import Answer, AnswerSentence, Citation, Passage, source_name
from bot.render_discord import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    ELLIPSIS,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    MESSAGE_EMBED_TOTAL,
    TITLE_LIMIT,
    VERBATIM_FOOTER,
    answer_embed,
    fit_message,
    more_sources_embed,
    more_sources_pages,
    plain,
    safe,
    shorten,
    source_field,
)
from bot.render_text import render_answer, source_line

DAY = datetime(2023, 12, 6, 9, 30, tzinfo=timezone.utc)
EXCERPT = "Baqeri also proposed joint drills with Iraq."


def sentence(n: int, text: str, start: int = 0, article_id: str | None = None) -> AnswerSentence:
    return AnswerSentence(text=text, n=n, article_id=article_id or f"article-{n}", start=start, end=start + len(text))


def citation(n: int = 1, sentences: list[AnswerSentence] | None = None, **fields: object) -> Citation:
    spans = sentences if sentences is not None else [sentence(n, EXCERPT)]
    values: dict = {
        "n": n,
        "article_id": f"article-{n}",
        "title": "Iran, Iraq Discuss Border Security",
        "outlet": "Tasnim",
        "author": "Nigar Bayramli",
        "published": DAY,
        "url": f"https://example.org/{n}",
        "excerpt": " … ".join(s.text for s in spans),
        "sentences": spans,
        **fields,
    }
    return Citation(**values)


def passage(i: int, **fields: object) -> Passage:
    values: dict = {
        "article_id": f"passage-{i}",
        "title": f"Headline {i}",
        "outlet": "Wire",
        "published": DAY,
        "url": f"https://example.org/p/{i}",
        "text": f"Passage number {i} says something.",
        "score": 1.0 - i / 100,
        "start": 0,
        "end": 10,
        **fields,
    }
    return Passage(**values)


def answer(
    citations: list[Citation],
    passages: list[Passage] | None = None,
    shown: list[AnswerSentence] | None = None,
    **fields: object,
) -> Answer:
    """An answer citing `citations`; its text shows `shown` (default: every cited sentence)."""
    sentences = shown if shown is not None else [s for c in citations for s in c.sentences]
    values: dict = {
        "question": "What did Baqeri propose?",
        "text": " ".join(f"{s.text} [{s.n}]" for s in sentences),
        "refused": False,
        "citations": citations,
        "passages": passages or [],
        "sentences": sentences,
        **fields,
    }
    return Answer(**values)


# ---------------------------------------------------------------- the shared source name


def test_a_source_is_named_by_outlet_else_site_else_author_never_unknown() -> None:
    assert source_name(citation()) == "Tasnim"
    assert source_name(citation(outlet="", url="https://www.tehrantimes.com/news/1")) == "tehrantimes.com"
    assert source_name(citation(outlet="", url="file:///tmp/a.txt")) == "Nigar Bayramli"
    assert source_name(citation(outlet="", url="", author="")) == ""


# ---------------------------------------------------------------- terminal


def test_source_line_names_outlet_author_and_date_leaving_out_what_is_unknown() -> None:
    assert source_line(citation()) == "Iran, Iraq Discuss Border Security — Tasnim · Nigar Bayramli · 2023-12-06"
    assert source_line(citation(outlet="")) == (
        "Iran, Iraq Discuss Border Security — example.org · Nigar Bayramli · 2023-12-06"
    )
    assert (
        source_line(citation(outlet="", url="")) == "Iran, Iraq Discuss Border Security — Nigar Bayramli · 2023-12-06"
    )
    assert source_line(citation(author="", published=None)) == "Iran, Iraq Discuss Border Security — Tasnim"
    assert source_line(citation(title="", outlet="", author="", url="", published=None)) == "article-1"


def test_terminal_answer_then_one_line_per_source_without_repeating_the_answer() -> None:
    second = citation(2, [sentence(2, "Iraq agreed to talks.")], url="", title="Iraq agrees", author="")
    text = render_answer(answer([citation(1), second]))
    lines = text.splitlines()
    assert lines[0] == f"{EXCERPT} [1] Iraq agreed to talks. [2]"
    assert lines[1:] == [
        "",
        "Sources",
        "[1] Iran, Iraq Discuss Border Security — Tasnim · Nigar Bayramli · 2023-12-06",
        "    https://example.org/1",
        "[2] Iraq agrees — Tasnim · 2023-12-06",
    ]
    assert text.count(EXCERPT) == 1 and "Unknown outlet" not in text


def test_terminal_shows_once_the_cited_sentences_the_answer_text_does_not() -> None:
    other = "Iraq's minister welcomed the offer."
    cited = citation(1, [sentence(1, EXCERPT, 0), sentence(1, other, 100)])
    text = render_answer(answer([cited], shown=[cited.sentences[0]]))
    assert text.count(EXCERPT) == 1 and text.count(other) == 1
    assert text.splitlines()[-1] == f"    “{other}”"


def test_terminal_comparison_puts_date_and_outlet_beside_each_sentence() -> None:
    earlier = citation(
        2,
        [sentence(2, "Market Daily reported the sale first.")],
        outlet="Market Daily",
        published=datetime(2023, 11, 21),
    )
    text = render_answer(answer([citation(1), earlier]), width=200)
    lines = text.splitlines()
    assert lines[0] == f"2023-12-06 · Tasnim: {EXCERPT} [1]"
    assert lines[1] == "2023-11-21 · Market Daily: Market Daily reported the sale first. [2]"


def test_terminal_answer_wraps_long_lines() -> None:
    long_sentence = " ".join(["border"] * 60)
    text = render_answer(answer([citation(sentences=[sentence(1, long_sentence)])]), width=60)
    assert all(len(line) <= 60 for line in text.splitlines())


def test_terminal_refusal_has_no_sources() -> None:
    refused = Answer(question="Who won the bake-off?", text=NO_COVERAGE, refused=True, passages=[passage(1)])
    assert render_answer(refused) == NO_COVERAGE


# ---------------------------------------------------------------- Discord: text


def test_shorten_keeps_short_text_and_cuts_at_a_sentence_end() -> None:
    assert shorten("  A short answer.  ", 100) == "A short answer."
    text = "Baqeri proposed joint drills. Iraq agreed to discuss it at a later meeting in Baghdad."
    assert shorten(text, 60) == f"Baqeri proposed joint drills. {ELLIPSIS}"


def test_shorten_cuts_at_a_word_when_no_sentence_ends_late_enough() -> None:
    text = "Short. " + "border security cooperation " * 10
    cut = shorten(text, 60)
    assert len(cut) <= 60 and cut.endswith(f" {ELLIPSIS}")
    assert cut.removesuffix(f" {ELLIPSIS}") in text and not cut.startswith(f"Short. {ELLIPSIS}")
    assert text.startswith(cut.removesuffix(f" {ELLIPSIS}") + " ")


def test_shorten_cuts_a_single_long_word_anywhere() -> None:
    assert shorten("x" * 100, 20) == "x" * 18 + f" {ELLIPSIS}"


@pytest.mark.parametrize("limit", range(8, 60))
def test_a_cut_never_leaves_a_backslash_escaping_the_ellipsis(limit: int) -> None:
    escaped = safe("Totals: " + "*" * 40 + " and _under_ scores")
    cut = shorten(escaped, limit)
    assert len(cut) <= limit
    body = cut.removesuffix(f" {ELLIPSIS}")
    trailing = len(body) - len(body.rstrip("\\"))
    assert trailing % 2 == 0, repr(cut)


def test_safe_shows_markdown_as_written_and_defuses_mass_mentions() -> None:
    text = safe("**bold** _it_ `code` [link](https://x.org) @everyone @here <@&123456789012345678>")
    assert "\\*\\*bold\\*\\*" in text and "\\_it\\_" in text and "\\`code\\`" in text and "\\[link]" in text
    assert "@everyone" not in text and "@here" not in text
    assert "<@&123456789012345678>" not in text


def test_plain_content_fits_a_message() -> None:
    assert len(plain("word " * 1000)) <= CONTENT_LIMIT
    assert plain("Short reply.") == "Short reply."


# ---------------------------------------------------------------- Discord: embeds


def test_source_field_of_a_passage_names_outlet_author_and_date_and_links_the_headline() -> None:
    name, value = source_field(passage(1, author="Nigar Bayramli"), "#1")
    assert name == "#1 Wire · Nigar Bayramli · 2023-12-06"
    assert value == "> Passage number 1 says something.\n[Headline 1](<https://example.org/p/1>)"


@pytest.mark.parametrize(
    "url",
    ["", "javascript:alert(1)", "https://example.org/a b", "https://example.org/<x>", "https://x.org/" + "a" * 600],
)
def test_source_field_links_only_plain_web_addresses(url: str) -> None:
    _, value = source_field(passage(1, url=url), "#1")
    assert value.endswith("\n**Headline 1**") and "](" not in value


def test_source_field_without_outlet_date_or_title_says_what_is_known() -> None:
    name, value = source_field(passage(3, outlet="", published=None, title=""), "#3")
    assert name == "#3 example.org · undated"
    assert "[passage-3](<https://example.org/p/3>)" in value
    name, _ = source_field(passage(3, outlet="", url="", author="Nigar Bayramli"), "#3")
    assert name == "#3 Nigar Bayramli · 2023-12-06"


def test_source_field_stays_within_limits_and_quotes_every_line() -> None:
    huge = passage(
        1,
        outlet="O" * 400,
        title="T" * 1000,
        url="https://example.org/" + "p" * 450,
        text="First line of the passage.\n\n" + "word " * 1000,
    )
    name, value = source_field(huge, "#1")
    assert len(name) <= FIELD_NAME_LIMIT and len(value) <= FIELD_VALUE_LIMIT
    quoted, link = value.rsplit("\n", 1)
    assert all(line.startswith("> ") for line in quoted.splitlines())
    assert link.startswith("[") and link.endswith(f"(<{huge.url}>)")


def test_answer_card_shows_the_answer_then_one_line_per_source() -> None:
    second = citation(2, [sentence(2, "Iraq agreed to talks.")], title="Iraq agrees", author="")
    embed = answer_embed(answer([citation(1), second]))
    lines = (embed.description or "").splitlines()
    assert lines == [
        f"{EXCERPT} [1] Iraq agreed to talks. [2]",
        "",
        "**[1]** [Iran, Iraq Discuss Border Security](<https://example.org/1>) — Tasnim · Nigar Bayramli · 2023-12-06",
        "**[2]** [Iraq agrees](<https://example.org/2>) — Tasnim · 2023-12-06",
    ]
    assert embed.fields == [] and embed.footer.text == VERBATIM_FOOTER


def test_answer_card_quotes_once_the_cited_sentences_the_answer_text_does_not() -> None:
    other = "Iraq's minister welcomed the offer."
    cited = citation(1, [sentence(1, EXCERPT, 0), sentence(1, other, 100)])
    description = answer_embed(answer([cited], shown=[cited.sentences[0]])).description or ""
    assert description.count(EXCERPT) == 1 and description.count(safe(other)) == 1
    assert description.splitlines()[-1] == f"> “{safe(other)}”"


def test_answer_card_of_a_comparison_dates_each_sentence_and_names_its_outlet() -> None:
    earlier = citation(
        2,
        [sentence(2, "Market Daily reported the sale first.")],
        outlet="Market Daily",
        published=datetime(2023, 11, 21),
    )
    lines = (answer_embed(answer([citation(1), earlier])).description or "").splitlines()
    assert lines[0] == f"**2023-12-06 · Tasnim**: {EXCERPT} [1]"
    assert lines[1] == "**2023-11-21 · Market Daily**: Market Daily reported the sale first. [2]"
    same_day_same_outlet = citation(2, [sentence(2, "Iraq agreed to talks.")])
    assert not answer([citation(1), same_day_same_outlet]).is_comparison()


def test_answer_card_keeps_every_cited_sentence_when_they_cannot_all_fit_whole() -> None:
    sources = [
        citation(
            n,
            [
                sentence(n, f"Sentence {n}.{k} " + "about the border talks " * 40 + "ends here.", k * 2000)
                for k in range(2)
            ],
            title="T" * 300,
            outlet="O" * 200,
            url="https://example.org/" + "long/" * 80 + str(n),
        )
        for n in range(1, 9)
    ]
    big = answer(sources, question="why " * 200, shown=[s.sentences[0] for s in sources])
    embed = answer_embed(big)
    assert len(embed.title or "") <= TITLE_LIMIT and len(embed.description or "") <= DESCRIPTION_LIMIT
    assert len(embed) <= MESSAGE_EMBED_TOTAL
    description = embed.description or ""
    for source in sources:
        for cited in source.sentences:
            assert cited.text.split(" about")[0] in description, "every cited sentence shows (its start at least)"
        assert f"**[{source.n}]**" in description


def test_answer_card_escapes_article_and_question_text() -> None:
    hostile = citation(
        title="**Breaking** @everyone",
        author="<@&123456789012345678>",
        sentences=[sentence(1, "Call <@&123456789012345678> now @here")],
    )
    embed = answer_embed(answer([hostile], question="What about @everyone and **this**?"))
    rendered = " ".join([embed.title or "", embed.description or ""])
    assert "@everyone" not in rendered and "@here" not in rendered and "<@&123456789012345678>" not in rendered
    assert "\\*\\*Breaking\\*\\*" in rendered and "\\*\\*this\\*\\*" in rendered


def test_refused_answer_embed_has_no_sources_and_no_verbatim_footer() -> None:
    refused = Answer(question="Who won?", text=NO_COVERAGE, refused=True, passages=[passage(1)])
    embed = answer_embed(refused)
    assert embed.description == NO_COVERAGE and embed.fields == [] and embed.footer.text is None
    assert more_sources_embed(refused, 0) is None and more_sources_pages(refused) == 0


def test_more_sources_pages_through_the_passages_that_quote_no_cited_sentence() -> None:
    cited = citation(1, [sentence(1, "Passage number 0 says", 40, article_id="passage-0")])
    overlapping = passage(0, start=30, end=200)  # holds the cited sentence (40-61)
    before = passage(0, start=0, end=40, text="The same article, before the cited sentence.")
    other_article = passage(1, start=30, end=200)
    passages = [overlapping, before, other_article, *(passage(i) for i in range(2, 12))]
    full = answer([cited], passages)
    assert [p.text for p in full.uncited_passages()][:2] == [before.text, other_article.text]
    assert len(full.uncited_passages()) == 12 and more_sources_pages(full) == 3
    first, second, third = (more_sources_embed(full, page) for page in range(3))
    assert first is not None and second is not None and third is not None
    assert [f.name.split(" ")[0] for f in first.fields if f.name] == ["#1", "#2", "#3", "#4", "#5"]
    assert "before the cited sentence" in (first.fields[0].value or ""), "the cited passage is not shown again"
    assert [f.name.split(" ")[0] for f in third.fields if f.name] == ["#11", "#12"]
    assert more_sources_embed(full, 3) is None
    assert re.match(r"More sources — What did Baqeri propose\?", first.title or "")
    assert first.footer.text == "Page 1 of 3"


def test_fit_message_drops_trailing_fields_then_halves_the_description() -> None:
    import discord

    crowded = discord.Embed(title="t", description="d" * 1000)
    for i in range(10):
        crowded.add_field(name=f"field {i}", value="v" * 1000)
    (fitted,) = fit_message([crowded])
    assert len(fitted) <= MESSAGE_EMBED_TOTAL
    assert [f.name for f in fitted.fields] == [f"field {i}" for i in range(len(fitted.fields))]
    assert len(fitted.fields) == 4

    long_description = discord.Embed(title="t", description="word " * 1300)
    extra = discord.Embed(title="u", description="x " * 1000)
    fitted_pair = fit_message([long_description, extra])
    assert sum(len(e) for e in fitted_pair) <= MESSAGE_EMBED_TOTAL
    assert (fitted_pair[0].description or "").endswith(ELLIPSIS) or (fitted_pair[1].description or "").endswith(
        ELLIPSIS
    )
