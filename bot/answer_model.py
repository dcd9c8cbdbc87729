"""The shapes of what Byline returns: passages, citations and the cited answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class Passage(BaseModel):
    """One retrieved chunk: its exact text, where it sits in its article, and the article's metadata."""

    text: str
    article_id: str
    score: float
    start: int
    end: int
    title: str = ""
    outlet: str = ""
    published: datetime | None = None
    url: str = ""


class Citation(BaseModel):
    """A numbered source: a verbatim excerpt of an article, with where it comes from."""

    n: int
    article_id: str
    excerpt: str
    title: str = ""
    outlet: str = ""
    published: datetime | None = None
    url: str = ""


class Answer(BaseModel):
    """A short extractive answer whose sentences each end with [n] markers into `citations`."""

    question: str
    text: str
    refused: bool
    citations: list[Citation] = []
    passages: list[Passage] = []


def answer_record(answer: Answer, question_id: str | None = None) -> dict:
    """The JSON object of `byline ask --json` and of each line of `byline eval --output`."""
    return {
        "id": question_id,
        "question": answer.question,
        "passages": [
            {
                "text": p.text,
                "article_id": p.article_id,
                "score": p.score,
                "start": p.start,
                "end": p.end,
                "title": p.title,
                "outlet": p.outlet,
                "published": p.published.isoformat() if p.published else None,
                "url": p.url,
            }
            for p in answer.passages
        ],
        "answer": {
            "text": answer.text,
            "refused": answer.refused,
            "citations": [
                {
                    "n": c.n,
                    "article_id": c.article_id,
                    "excerpt": c.excerpt,
                    "title": c.title,
                    "outlet": c.outlet,
                    "published": c.published.isoformat() if c.published else None,
                    "url": c.url,
                }
                for c in answer.citations
            ],
        },
    }
