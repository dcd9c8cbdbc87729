"""The one Article model every reader produces."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

PARAGRAPH_SEPARATOR = "\n\n"
SHARED_TENANT = ""  # articles every Discord server (and the command line) may see


class AlsoIn(BaseModel):
    """Another outlet (or address) that ran the same story, found when a duplicate was folded in.

    `tenant` is who added that copy: only that tenant (or everyone, for "") may be told about it.
    """

    outlet: str = ""
    url: str = ""
    title: str = ""
    published: datetime | None = None
    tenant: str = SHARED_TENANT


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
    tenant: str = SHARED_TENANT  # "" = shared by every server; else the Discord server id that added it
    also_in: list[AlsoIn] = Field(default_factory=list)

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
        # tenant and also_in are left out while empty, so articles indexed before they existed keep their hash.
        unset = {name for name in ("tenant", "also_in") if not getattr(self, name)}
        return hashlib.sha256(self.model_dump_json(exclude={"source_file", *unset}).encode()).hexdigest()

    def visible_to(self, tenant: str | None) -> bool:
        """Whether `tenant` may see this article (None: the operator, who sees everything)."""
        return tenant is None or self.tenant in (SHARED_TENANT, tenant)

    @property
    def date_label(self) -> str:
        return self.published.date().isoformat() if self.published else ""


def article_id_from_path(path: Path, root: Path) -> str:
    """A stable id for a one-article file: its path inside the corpus, without the suffix."""
    return path.relative_to(root).with_suffix("").as_posix()
