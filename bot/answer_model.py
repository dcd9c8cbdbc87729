"""The shapes of what Byline returns: passages, citations and the cited answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


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
    published: datetime | None = None
    url: str = ""
    also_in: list[AlsoInRef] = []


class Passage(ArticleRef):
    """One retrieved chunk: its exact text and where it sits in its article."""

    text: str
    score: float
    start: int
    end: int


class Citation(ArticleRef):
    """A numbered source: a verbatim excerpt of an article."""

    n: int
    excerpt: str


class Answer(BaseModel):
    """A short extractive answer whose sentences each end with [n] markers into `citations`."""

    question: str
    text: str
    refused: bool
    citations: list[Citation] = []
    passages: list[Passage] = []
    # What the question asks about that no source covers: on a refusal, the sources and names absent from
    # the evidence ("Bloomberg"); on an answer, the parts of a multi-part question no cited sentence answers.
    not_covered: list[str] = []


def answer_record(answer: Answer, question_id: str | None = None) -> dict:
    """The JSON object of `byline ask --json` and of each line of `byline eval --output`."""
    return {
        "id": question_id,
        "question": answer.question,
        "passages": [p.model_dump(mode="json") for p in answer.passages],
        "answer": answer.model_dump(mode="json", include={"text", "refused", "citations"}),
    }
