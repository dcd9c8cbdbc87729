"""The shapes of what Byline returns: passages, citations and the cited answer, and what both faces read
off them (a source's display name, the sentences a reply must show, the passages not cited yet)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, Field


def new_answer_id() -> str:
    """A random 16-hex-digit id, fixed when the answer is composed (it names the answer in storage and in
    Discord's button ids, so it cannot be guessed from another answer's)."""
    return secrets.token_hex(8)


class AlsoInRef(BaseModel):
    """Another outlet that ran the same story (kept once in the index)."""

    outlet: str = ""
    url: str = ""
    title: str = ""
    published: datetime | None = None


class ArticleRef(BaseModel):
    """Which article a passage or citation comes from, with what a reader needs to find it."""

    article_id: str
    title: str = ""
    outlet: str = ""
    author: str = ""
    published: datetime | None = None
    url: str = ""
    also_in: list[AlsoInRef] = []


class Passage(ArticleRef):
    """One retrieved chunk: its exact text and where it sits in its article."""

    text: str
    score: float
    start: int
    end: int


class AnswerSentence(BaseModel):
    """One cited sentence, verbatim: source number `n`, and its character span in the article body."""

    text: str
    n: int
    article_id: str
    start: int
    end: int

    def overlaps(self, article_id: str, start: int, end: int) -> bool:
        return self.article_id == article_id and self.start < end and start < self.end


class Citation(ArticleRef):
    """A numbered source: a verbatim excerpt of an article.

    `excerpt` is the cited sentences joined with " … " (in article order); `sentences` are the same
    sentences with their spans, so a face can show those the answer text does not (see `extra_sentences`).
    """

    n: int
    excerpt: str
    sentences: list[AnswerSentence] = []


class Answer(BaseModel):
    """A short extractive answer whose sentences each end with [n] markers into `citations`.

    `sentences` are the answer's sentences in order (`text` is them joined, each with its marker);
    `answer_id` is fixed when the answer is made."""

    question: str
    text: str
    refused: bool
    citations: list[Citation] = []
    passages: list[Passage] = []
    sentences: list[AnswerSentence] = []
    answer_id: str = Field(default_factory=new_answer_id)
    # What the question asks about that no source covers: on a refusal, the sources and names absent from
    # the evidence ("Bloomberg"); on an answer, the parts of a multi-part question no cited sentence answers.
    not_covered: list[str] = []

    def citation(self, n: int) -> Citation | None:
        return next((c for c in self.citations if c.n == n), None)

    def extra_sentences(self, citation: Citation) -> list[AnswerSentence]:
        """The sentences `citation` contributes that the answer's text does not already show."""
        shown = {(s.article_id, s.start, s.end) for s in self.sentences}
        return [s for s in citation.sentences if (s.article_id, s.start, s.end) not in shown]

    def is_comparison(self) -> bool:
        """Whether the answer cites two or more sources with different dates or outlets: then each
        sentence's date and outlet belong beside it, so "who reported first?" can be read off."""
        if len(self.citations) < 2:
            return False
        days = {c.published.date() if c.published else None for c in self.citations}
        names = {source_name(c) for c in self.citations}
        return len(days) > 1 or len(names) > 1

    def uncited_passages(self) -> list[Passage]:
        """Retrieved passages that quote none of the cited sentences; none for a refusal."""
        if self.refused:
            return []
        cited = [*self.sentences, *(s for c in self.citations for s in c.sentences)]
        return [p for p in self.passages if not any(s.overlaps(p.article_id, p.start, p.end) for s in cited)]


class Attributed(Protocol):
    """Anything that names its outlet, address and author (an ArticleRef, an Article)."""

    @property
    def outlet(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def author(self) -> str: ...


def source_name(ref: Attributed) -> str:
    """What to call a source: its outlet (for a web page, the site's own name), else the host of its
    address, else its author; "" when none is known (a face then leaves the name out)."""
    return ref.outlet.strip() or _host(ref.url) or ref.author.strip()


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https"):
        return ""
    return (parts.hostname or "").removeprefix("www.")


def answer_record(answer: Answer, question_id: str | None = None) -> dict:
    """The JSON object of `byline ask --json` and of each line of `byline eval --output`."""
    return {
        "id": question_id,
        "question": answer.question,
        "passages": [p.model_dump(mode="json") for p in answer.passages],
        "answer": answer.model_dump(mode="json", include={"answer_id", "text", "refused", "citations", "sentences"}),
    }
