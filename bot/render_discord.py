"""The cited answer as Discord embeds, always within Discord's limits and readable on a phone.

Limits (Discord API): content 2,000 characters; embed title 256, description 4,096, field name 256,
field value 1,024, footer 2,048, 25 fields, 6,000 characters per message across its embeds.
Text is cut at a sentence or word boundary, after markdown is escaped, so no cut lands inside
an escape sequence or a link.

An answer is one embed: the question as its title; in its description the answer's sentences with
[n] markers (for a comparison, one per line after its date and outlet), then one line per source,
"[n] linked headline — outlet · author · date", with below it only the cited sentences the answer
text does not show. Every cited sentence is in the description; when they cannot all fit whole, the
longest are shortened first (never dropped).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import discord

from bot.answer_model import AlsoInRef, Answer, AnswerSentence, ArticleRef, Citation, Passage, source_name

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
MESSAGE_EMBED_TOTAL = 6000
CONTENT_LIMIT = 2000

# Shorter than the limits on purpose: a phone screen shows a few lines per source.
EXCERPT_CHARS = 300
ALSO_IN_CHARS = 300
HEADLINE_CHARS = 150
UNCOVERED_PART_CHARS = 120
NAME_CHARS = 100  # an outlet's or author's name
SHORT_HEADLINE_CHARS = 60  # when the sentences need the room
MIN_SENTENCE_CHARS = 40  # a shortened sentence keeps at least this much
SOURCES_PER_PAGE = 5
ELLIPSIS = "…"
ACCENT = discord.Colour.from_rgb(46, 94, 170)
VERBATIM_FOOTER = "Excerpts are quoted verbatim from the indexed articles."
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s")


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a sentence end, else at a word boundary."""
    text = text.strip()
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS) - 1
    ends = [m.end() for m in _SENTENCE_END.finditer(text[: room + 1])]
    if ends and ends[-1] > room // 2:
        cut = ends[-1]
    else:
        space = text.rfind(" ", 0, room + 1)
        cut = space if space > room // 2 else room
    return _drop_dangling_escape(text[:cut].rstrip().removesuffix(ELLIPSIS).rstrip()) + " " + ELLIPSIS


def _drop_dangling_escape(text: str) -> str:
    """A cut must not leave a lone backslash that would escape the ellipsis."""
    trailing = len(text) - len(text.rstrip("\\"))
    return text[: len(text) - trailing] if trailing % 2 else text


def safe(text: str) -> str:
    """Article or user text made inert: markdown shown as written, mentions not rendered as pings."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def _day(published: datetime | None) -> str:
    return published.date().isoformat() if published else "undated"


def source_details(ref: ArticleRef) -> list[str]:
    """Outlet (or what stands for it), author (once: it may stand for the outlet) and date, escaped."""
    name, author = source_name(ref), ref.author.strip()
    names = [shorten(safe(part), NAME_CHARS) for part in (name, "" if author == name else author) if part]
    return [*names, _day(ref.published)]


def source_field(passage: Passage, label: str) -> tuple[str, str]:
    """A retrieved passage as an embed field: "#n Outlet · author · date" and the quoted passage above
    its headline link."""
    name = shorten(f"{label} {' · '.join(source_details(passage))}", FIELD_NAME_LIMIT)
    link = _headline(passage, 200)
    if passage.also_in:
        link += "\n" + _also_in_line(passage.also_in)
    room = FIELD_VALUE_LIMIT - len(link) - 4
    excerpt = shorten(safe(passage.text), min(EXCERPT_CHARS, room))
    quoted = "\n".join("> " + line for line in excerpt.splitlines() if line.strip())
    return name, f"{quoted}\n{link}"


def _headline(ref: ArticleRef, limit: int, linked: bool = True) -> str:
    """The headline (or the article id), linked to the article when its address can be."""
    headline = shorten(safe(ref.title or ref.article_id), limit)
    return f"[{headline}](<{ref.url}>)" if linked and _linkable(ref.url) else f"**{headline}**"


def _also_in_line(others: list[AlsoInRef], limit: int = ALSO_IN_CHARS) -> str:
    """ "also in: A, B and 3 more": whole names only (a cut never lands inside a link)."""
    shown: list[str] = []
    for index, other in enumerate(others):
        name = _also_in_name(other)
        rest = len(others) - index - 1
        if shown and len("also in: " + ", ".join([*shown, name])) + (len(f" and {rest} more") if rest else 0) > limit:
            return f"also in: {', '.join(shown)} and {len(others) - len(shown)} more"
        shown.append(name if len(name) <= limit else shorten(safe(other.outlet or "another outlet"), 100))
    return "also in: " + ", ".join(shown)


def _also_in_name(other: AlsoInRef) -> str:
    """Another outlet that ran the story, linked when its address can be."""
    name = safe(other.outlet or other.url)
    return f"[{name}](<{other.url}>)" if other.outlet and _linkable(other.url) else name


def _linkable(url: str) -> bool:
    return url.startswith(("https://", "http://")) and len(url) <= 500 and not any(c in url for c in "<> ")


# ---------------------------------------------------------------- the answer card


@dataclass(frozen=True)
class _Style:
    """How much room the parts of the card take; tightened step by step until the card fits."""

    sentence_chars: int | None = None  # None: whole sentences
    headline_chars: int = HEADLINE_CHARS
    links: bool = True


def answer_embed(answer: Answer) -> discord.Embed:
    """The answer and its numbered sources in one embed."""
    embed = discord.Embed(title=shorten(safe(answer.question), TITLE_LIMIT), colour=ACCENT)
    if answer.refused or not answer.citations:
        embed.description = shorten(safe(answer.text), DESCRIPTION_LIMIT)
        return embed
    embed.set_footer(text=VERBATIM_FOOTER)
    budget = min(DESCRIPTION_LIMIT, MESSAGE_EMBED_TOTAL - len(embed.title or "") - len(VERBATIM_FOOTER))
    embed.description = _card_description(answer, budget)
    return fit_message([embed])[0]


def _card_description(answer: Answer, budget: int) -> str:
    """The card's text within `budget`: whole when it fits; else shorter headlines, then the longest
    sentences shortened evenly (each keeps its start and marker), then headlines without links."""
    whole = _Style()
    text = _describe(answer, whole)
    if len(text) <= budget:
        return text
    sentences = [safe(s.text) for s in _shown_sentences(answer)]
    for style in (
        _Style(headline_chars=SHORT_HEADLINE_CHARS),
        _Style(headline_chars=SHORT_HEADLINE_CHARS, links=False),
    ):
        fixed = len(_describe(answer, _Style(0, style.headline_chars, style.links)))
        cap = _water_level([len(s) for s in sentences], budget - fixed)
        text = _describe(answer, _Style(max(cap, MIN_SENTENCE_CHARS), style.headline_chars, style.links))
        if len(text) <= budget:
            return text
    return shorten(text, budget)


def _water_level(lengths: Sequence[int], room: int) -> int:
    """The largest cap such that the lengths, each cut to the cap, add up to at most `room`."""
    remaining, count = room, len(lengths)
    for length in sorted(lengths):
        if length * count > remaining:
            return max(remaining // max(count, 1), 0)
        remaining -= length
        count -= 1
    return max(lengths, default=0)


def _shown_sentences(answer: Answer) -> list[AnswerSentence]:
    """Every cited sentence the card shows: the answer's, then each source's others."""
    return [*answer.sentences, *(s for c in answer.citations for s in answer.extra_sentences(c))]


def _describe(answer: Answer, style: _Style) -> str:
    lines = _answer_lines(answer, style)
    lines.append("")
    for citation in answer.citations:
        lines += _source_lines(answer, citation, style)
    return "\n".join(lines)


def _sentence(sentence: AnswerSentence, style: _Style) -> str:
    text = safe(sentence.text)
    if style.sentence_chars is not None:
        text = shorten(text, style.sentence_chars) if style.sentence_chars else ""
    return text


def _answer_lines(answer: Answer, style: _Style) -> list[str]:
    if not answer.sentences:  # an answer made before sentences were recorded
        return [safe(answer.text)]
    if not answer.is_comparison():
        lines = [" ".join(f"{_sentence(s, style)} [{s.n}]" for s in answer.sentences)]
    else:
        lines = [f"**{_sentence_label(answer, s)}**: {_sentence(s, style)} [{s.n}]" for s in answer.sentences]
    if answer.not_covered:
        parts = "; ".join(f"“{shorten(safe(p.rstrip('?. ')), UNCOVERED_PART_CHARS)}”" for p in answer.not_covered)
        lines.append(f"*No source covers:* {parts}")
    return lines


def _sentence_label(answer: Answer, sentence: AnswerSentence) -> str:
    """ "2023-12-06 · Tasnim": when and where the sentence was published."""
    citation = answer.citation(sentence.n)
    if citation is None:
        return ""
    name = source_name(citation)
    return " · ".join(part for part in (_day(citation.published), safe(name) if name else "") if part)


def _source_lines(answer: Answer, citation: Citation, style: _Style) -> list[str]:
    """ "[n] linked headline — outlet · author · date", other outlets of the story, and the sentences of
    this source the answer text does not show (quoted)."""
    headline = _headline(citation, style.headline_chars, style.links)
    lines = [f"**[{citation.n}]** {headline} — {' · '.join(source_details(citation))}"]
    if citation.also_in:
        lines.append(_also_in_line(citation.also_in, ALSO_IN_CHARS if style.links else 100))
    lines += [f"> “{_sentence(s, style)}”" for s in answer.extra_sentences(citation)]
    return lines


# ---------------------------------------------------------------- more sources


def more_sources_pages(answer: Answer) -> int:
    """How many pages of passages beyond those cited there are (0 for a refusal)."""
    count = len(answer.uncited_passages())
    return (count + SOURCES_PER_PAGE - 1) // SOURCES_PER_PAGE


def more_sources_embed(answer: Answer, page: int) -> discord.Embed | None:
    """Page `page` (from 0) of the retrieved passages beyond those already cited, or None past the end."""
    rest = answer.uncited_passages()
    chunk = rest[page * SOURCES_PER_PAGE : (page + 1) * SOURCES_PER_PAGE] if page >= 0 else []
    if not chunk:
        return None
    embed = discord.Embed(title=shorten(f"More sources — {safe(answer.question)}", TITLE_LIMIT), colour=ACCENT)
    for offset, passage in enumerate(chunk, start=page * SOURCES_PER_PAGE + 1):
        name, value = source_field(passage, f"#{offset}")
        embed.add_field(name=name, value=value, inline=False)
    pages = more_sources_pages(answer)
    if pages > 1:
        embed.set_footer(text=f"Page {page + 1} of {pages}")
    return fit_message([embed])[0]


def fit_message(embeds: list[discord.Embed]) -> list[discord.Embed]:
    """Drop trailing fields until the message's embeds total at most 6,000 characters."""
    while sum(len(e) for e in embeds) > MESSAGE_EMBED_TOTAL:
        widest = max(embeds, key=lambda e: len(e.fields))
        if not widest.fields:
            widest.description = shorten(widest.description or "", max(len(widest.description or "") // 2, 1))
            continue
        widest.remove_field(len(widest.fields) - 1)
    return embeds


def plain(text: str) -> str:
    """Plain message content within the 2,000-character limit."""
    return shorten(text, CONTENT_LIMIT)
