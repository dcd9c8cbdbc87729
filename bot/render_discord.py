"""The cited answer as Discord embeds, always within Discord's limits and readable on a phone.

Limits (Discord API): content 2,000 characters; embed title 256, description 4,096, field name 256,
field value 1,024, footer 2,048, 25 fields, 6,000 characters per message across its embeds.
Text is cut at a sentence or word boundary, after markdown is escaped, so no cut lands inside
an escape sequence or a link.
"""

from __future__ import annotations

import re
from datetime import datetime

import discord

from bot.answer_model import AlsoInRef, Answer, Citation, Passage

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
MESSAGE_EMBED_TOTAL = 6000
CONTENT_LIMIT = 2000

# Shorter than the limits on purpose: a phone screen shows a few lines per source.
ANSWER_CHARS = 1500
EXCERPT_CHARS = 300
ALSO_IN_CHARS = 300
SOURCES_PER_PAGE = 5
ELLIPSIS = "…"
ACCENT = discord.Colour.from_rgb(46, 94, 170)
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


def source_field(citation: Citation | Passage, label: str) -> tuple[str, str]:
    """A source as an embed field: "[n] Outlet · date" and the quoted excerpt above a headline link."""
    outlet = citation.outlet or "Unknown outlet"
    name = shorten(f"{label} {outlet} · {_day(citation.published)}", FIELD_NAME_LIMIT)
    headline = shorten(safe(citation.title or citation.article_id), 200)
    link = f"[{headline}](<{citation.url}>)" if _linkable(citation.url) else f"**{headline}**"
    if citation.also_in:
        link += "\n" + _also_in_line(citation.also_in)
    excerpt_text = citation.excerpt if isinstance(citation, Citation) else citation.text
    room = FIELD_VALUE_LIMIT - len(link) - 4
    excerpt = shorten(safe(excerpt_text), min(EXCERPT_CHARS, room))
    quoted = "\n".join("> " + line for line in excerpt.splitlines() if line.strip())
    return name, f"{quoted}\n{link}"


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


def answer_embed(answer: Answer) -> discord.Embed:
    """The answer and its numbered sources in one embed."""
    embed = discord.Embed(
        title=shorten(safe(answer.question), TITLE_LIMIT),
        description=shorten(safe(answer.text), ANSWER_CHARS),
        colour=ACCENT,
    )
    for citation in answer.citations[:SOURCES_PER_PAGE]:
        name, value = source_field(citation, f"[{citation.n}]")
        embed.add_field(name=name, value=value, inline=False)
    if not answer.refused:
        embed.set_footer(text="Excerpts are quoted verbatim from the indexed articles.")
    return fit_message([embed])[0]


def more_sources_embed(answer: Answer, page: int) -> discord.Embed | None:
    """Page `page` (from 0) of the retrieved passages beyond those already cited, or None past the end."""
    cited = {(c.article_id, c.excerpt) for c in answer.citations}
    rest = [p for p in answer.passages if (p.article_id, p.text) not in cited]
    chunk = rest[page * SOURCES_PER_PAGE : (page + 1) * SOURCES_PER_PAGE]
    if not chunk:
        return None
    embed = discord.Embed(title=shorten(f"More sources — {safe(answer.question)}", TITLE_LIMIT), colour=ACCENT)
    for offset, passage in enumerate(chunk, start=page * SOURCES_PER_PAGE + 1):
        name, value = source_field(passage, f"#{offset}")
        embed.add_field(name=name, value=value, inline=False)
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
