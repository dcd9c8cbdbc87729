"""The cited answer as plain text for a terminal.

The answer's sentences with their [n] markers (for a comparison, one per line with its date and
outlet first), then one line per source: "[n] headline — outlet · author · date", its address below,
and only the cited sentences the answer text does not show already.
"""

from __future__ import annotations

import textwrap

from bot.answer_model import Answer, AnswerSentence, ArticleRef, Citation, source_name


def source_line(citation: ArticleRef) -> str:
    """Headline — outlet · author · date, leaving out what the article does not say."""
    details = " · ".join(part for part in (*_names(citation), _day(citation)) if part)
    headline = citation.title or citation.article_id
    return f"{headline} — {details}" if details else headline


def _names(ref: ArticleRef) -> tuple[str, str]:
    """The source's name and its author, the author once only (it may be the name already)."""
    name = source_name(ref)
    author = ref.author.strip()
    return name, "" if author == name else author


def also_in_line(citation: Citation) -> str:
    """The other outlets that ran the same story: "Outlet (url), Outlet"."""
    return ", ".join(
        f"{a.outlet or a.url} ({a.url})" if a.outlet and a.url else (a.outlet or a.url) for a in citation.also_in
    )


def _day(ref: ArticleRef) -> str:
    return ref.published.date().isoformat() if ref.published else ""


def sentence_label(answer: Answer, sentence: AnswerSentence) -> str:
    """ "2023-12-06 · Tasnim": when and where the sentence was published."""
    citation = answer.citation(sentence.n)
    if citation is None:
        return ""
    return " · ".join(part for part in (_day(citation) or "undated", source_name(citation)) if part)


def answer_lines(answer: Answer, width: int) -> list[str]:
    """The answer's text; a comparison's sentences one per line, each after its date and outlet."""
    if not answer.sentences or answer.refused:
        return [textwrap.fill(answer.text, width)]
    if not answer.is_comparison():
        return [textwrap.fill(" ".join(f"{s.text} [{s.n}]" for s in answer.sentences), width)]
    return [
        textwrap.fill(f"{sentence_label(answer, s)}: {s.text} [{s.n}]", width, subsequent_indent="  ")
        for s in answer.sentences
    ]


def uncovered_parts(answer: Answer) -> str:
    """The parts of the question no cited sentence answers, quoted: “…”; “…”."""
    return "; ".join(f"“{part.rstrip('?. ')}”" for part in answer.not_covered)


def render_answer(answer: Answer, width: int = 100) -> str:
    lines = answer_lines(answer, width)
    if answer.not_covered and not answer.refused:
        lines.append(textwrap.fill(f"No source covers: {uncovered_parts(answer)}", width, subsequent_indent="  "))
    if answer.citations and not answer.refused:
        lines += ["", "Sources"]
        for citation in answer.citations:
            lines.append(textwrap.fill(f"[{citation.n}] {source_line(citation)}", width, subsequent_indent="    "))
            if citation.url:
                lines.append(f"    {citation.url}")
            if citation.also_in:
                lines.append(
                    textwrap.fill(
                        f"also in: {also_in_line(citation)}", width, initial_indent="    ", subsequent_indent="    "
                    )
                )
            for sentence in answer.extra_sentences(citation):
                lines.append(
                    textwrap.fill(f"“{sentence.text}”", width, initial_indent="    ", subsequent_indent="    ")
                )
    return "\n".join(lines)
