"""The cited answer as plain text for a terminal."""

from __future__ import annotations

import textwrap

from bot.answer_model import Answer, Citation


def source_line(citation: Citation) -> str:
    """Headline — outlet · date, leaving out what the article does not say."""
    details = " · ".join(part for part in (citation.outlet, _day(citation)) if part)
    headline = citation.title or citation.article_id
    return f"{headline} — {details}" if details else headline


def also_in_line(citation: Citation) -> str:
    """The other outlets that ran the same story: "Outlet (url), Outlet"."""
    return ", ".join(
        f"{a.outlet or a.url} ({a.url})" if a.outlet and a.url else (a.outlet or a.url) for a in citation.also_in
    )


def _day(citation: Citation) -> str:
    return citation.published.date().isoformat() if citation.published else ""


def render_answer(answer: Answer, width: int = 100) -> str:
    lines = [textwrap.fill(answer.text, width)]
    if answer.citations:
        lines += ["", "Sources"]
        for citation in answer.citations:
            lines.append(textwrap.fill(f"[{citation.n}] “{citation.excerpt}”", width, subsequent_indent="    "))
            lines.append(f"    {source_line(citation)}")
            if citation.url:
                lines.append(f"    {citation.url}")
            if citation.also_in:
                lines.append(
                    textwrap.fill(
                        f"also in: {also_in_line(citation)}", width, initial_indent="    ", subsequent_indent="    "
                    )
                )
    return "\n".join(lines)
