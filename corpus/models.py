"""The one Article model every reader produces."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

PARAGRAPH_SEPARATOR = "\n\n"


class Article(BaseModel):
    """A news article, as parsed from one file (or one entry of a feed or JSONL file)."""

    id: str = Field(min_length=1)
    title: str = ""
    outlet: str = ""
    author: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    url: str = ""
    paragraphs: list[str] = Field(min_length=1)
    caption: str = ""
    source_file: str = ""

    @field_validator("paragraphs")
    @classmethod
    def _paragraphs_have_text(cls, paragraphs: list[str]) -> list[str]:
        kept = [p.strip() for p in paragraphs if p and p.strip()]
        if not kept:
            raise ValueError("article has no body text")
        return kept

    @property
    def body(self) -> str:
        """The body text; chunk offsets index into this string."""
        return PARAGRAPH_SEPARATOR.join(self.paragraphs)

    @property
    def content_hash(self) -> str:
        """Changes whenever anything that is indexed or shown changes."""
        return hashlib.sha256(self.model_dump_json(exclude={"source_file"}).encode()).hexdigest()

    @property
    def date_label(self) -> str:
        return self.published.date().isoformat() if self.published else ""


def article_id_from_path(path: Path, root: Path) -> str:
    """A stable id for a one-article file: its path inside the corpus, without the suffix."""
    return path.relative_to(root).with_suffix("").as_posix()
