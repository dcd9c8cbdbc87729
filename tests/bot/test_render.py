"""The two faces of an answer: plain text for a terminal, embeds for Discord (within Discord's limits)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from bot.answer import NO_COVERAGE
from bot.answer_model import Answer, Citation, Passage
from bot.render_discord import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    ELLIPSIS,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    MESSAGE_EMBED_TOTAL,
    SOURCES_PER_PAGE,
    TITLE_LIMIT,
    answer_embed,
    fit_message,
    more_sources_embed,
    plain,
    safe,
    shorten,
    source_field,
)
from bot.render_text import render_answer, source_line

DAY = datetime(2023, 12, 6, 9, 30, tzinfo=timezone.utc)
EXCERPT = "Baqeri also proposed joint drills with Iraq."


def citation(n: int = 1, **fields: object) -> Citation:
    values: dict = {
        "n": n,
        "article_id": f"article-{n}",
        "title": "Iran, Iraq Discuss Border Security",
        "outlet": "Tasnim",
        "published": DAY,
        "url": f"https://example.org/{n}",
        "excerpt": EXCERPT,
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


def answer(citations: list[Citation], passages: list[Passage] | None = None, **fields: object) -> Answer:
    values: dict = {
        "question": "What did Baqeri propose?",
        "text": " ".join(f"{c.excerpt} [{c.n}]" for c in citations),
        "refused": False,
        "citations": citations,
        "passages": passages or [],
        **fields,
    }
    return Answer(**values)


# ---------------------------------------------------------------- terminal


def test_source_line_leaves_out_what_the_article_does_not_say() -> None:
    assert source_line(citation()) == "Iran, Iraq Discuss Border Security — Tasnim · 2023-12-06"
    assert source_line(citation(outlet="")) == "Iran, Iraq Discuss Border Security — 2023-12-06"
    assert source_line(citation(published=None)) == "Iran, Iraq Discuss Border Security — Tasnim"
    assert source_line(citation(title="", outlet="", published=None)) == "article-1"


def test_terminal_answer_lists_numbered_sources_with_links() -> None:
    text = render_answer(answer([citation(1), citation(2, url="", excerpt="Iraq agreed to talks.")]))
    lines = text.splitlines()
    assert lines[0] == f"{EXCERPT} [1] Iraq agreed to talks. [2]"
    assert lines[1:4] == ["", "Sources", f"[1] “{EXCERPT}”"]
    assert lines[4:6] == ["    Iran, Iraq Discuss Border Security — Tasnim · 2023-12-06", "    https://example.org/1"]
    assert lines[6:] == ["[2] “Iraq agreed to talks.”", "    Iran, Iraq Discuss Border Security — Tasnim · 2023-12-06"]


def test_terminal_answer_wraps_long_lines_and_indents_excerpts() -> None:
    long_excerpt = " ".join(["border"] * 60)
    text = render_answer(answer([citation(excerpt=long_excerpt)]), width=60)
    assert all(len(line) <= 60 for line in text.splitlines())
    excerpt_lines = text.split("Sources\n")[1].splitlines()
    assert excerpt_lines[0].startswith("[1] “border") and all(line.startswith("    ") for line in excerpt_lines[1:])


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


def test_source_field_names_outlet_and_date_and_links_the_headline() -> None:
    name, value = source_field(citation(), "[1]")
    assert name == "[1] Tasnim · 2023-12-06"
    assert value == f"> {EXCERPT}\n[Iran, Iraq Discuss Border Security](<https://example.org/1>)"


@pytest.mark.parametrize(
    "url",
    ["", "javascript:alert(1)", "https://example.org/a b", "https://example.org/<x>", "https://x.org/" + "a" * 600],
)
def test_source_field_links_only_plain_web_addresses(url: str) -> None:
    _, value = source_field(citation(url=url), "[1]")
    assert value.endswith("\n**Iran, Iraq Discuss Border Security**") and "](" not in value


def test_source_field_without_outlet_date_or_title() -> None:
    name, value = source_field(citation(outlet="", published=None, title=""), "#3")
    assert name == "#3 Unknown outlet · undated"
    assert "[article-1](<https://example.org/1>)" in value


def test_source_field_stays_within_limits_and_quotes_every_line() -> None:
    huge = citation(
        outlet="O" * 400,
        title="T" * 1000,
        url="https://example.org/" + "p" * 450,
        excerpt="First line of the excerpt.\n\n" + "word " * 1000,
    )
    name, value = source_field(huge, "[1]")
    assert len(name) <= FIELD_NAME_LIMIT and len(value) <= FIELD_VALUE_LIMIT
    quoted, link = value.rsplit("\n", 1)
    assert all(line.startswith("> ") for line in quoted.splitlines())
    assert link.startswith("[") and link.endswith(f"(<{huge.url}>)")


def test_answer_embed_within_limits_whatever_the_sizes() -> None:
    citations = [citation(n, title="T" * 300, excerpt="word " * 400, outlet="O" * 300) for n in range(1, 9)]
    big = answer(citations, question="why " * 200, text="Because. " * 1000)
    embed = answer_embed(big)
    assert len(embed.title or "") <= TITLE_LIMIT and len(embed.description or "") <= DESCRIPTION_LIMIT
    assert len(embed.fields) <= SOURCES_PER_PAGE
    assert all(len(f.name or "") <= FIELD_NAME_LIMIT and len(f.value or "") <= FIELD_VALUE_LIMIT for f in embed.fields)
    assert len(embed) <= MESSAGE_EMBED_TOTAL
    assert (embed.fields[0].name or "").startswith("[1] ")


def test_answer_embed_escapes_article_and_question_text() -> None:
    hostile = citation(title="**Breaking** @everyone", excerpt="Call <@&123456789012345678> now @here")
    embed = answer_embed(answer([hostile], question="What about @everyone and **this**?"))
    rendered = " ".join([embed.title or "", embed.description or ""] + [f"{f.name} {f.value}" for f in embed.fields])
    assert "@everyone" not in rendered and "@here" not in rendered and "<@&123456789012345678>" not in rendered
    assert "\\*\\*Breaking\\*\\*" in rendered and "\\*\\*this\\*\\*" in rendered


def test_refused_answer_embed_has_no_sources_and_no_verbatim_footer() -> None:
    refused = Answer(question="Who won?", text=NO_COVERAGE, refused=True, passages=[passage(1)])
    embed = answer_embed(refused)
    assert embed.description == NO_COVERAGE and embed.fields == [] and embed.footer.text is None
    assert answer_embed(answer([citation()])).footer.text == "Excerpts are quoted verbatim from the indexed articles."


def test_more_sources_pages_through_the_passages_not_already_cited() -> None:
    cited = citation(1, article_id="passage-0", excerpt="Passage number 0 says something.")
    passages = [passage(i) for i in range(12)]
    full = answer([cited], passages)
    first = more_sources_embed(full, 0)
    second = more_sources_embed(full, 1)
    third = more_sources_embed(full, 2)
    assert first is not None and second is not None and third is not None
    assert [f.name.split(" ")[0] for f in first.fields if f.name] == ["#1", "#2", "#3", "#4", "#5"]
    assert "Headline 1" in (first.fields[0].value or ""), "the cited passage is not shown again"
    assert [f.name.split(" ")[0] for f in third.fields if f.name] == ["#11"]
    assert more_sources_embed(full, 3) is None
    assert re.match(r"More sources — What did Baqeri propose\?", first.title or "")


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
