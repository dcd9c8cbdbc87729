"""The one Article model every reader produces."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from corpus.characters import replace_invalid

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


TEXT_FIELDS = ("title", "outlet", "author", "url", "caption")
ONE_LINE_FIELDS = ("id", "source_file")


class Article(BaseModel):
    """A news article, as parsed from one file (or one entry of a feed or JSONL file).

    No text field can hold a lone surrogate or a control character (nor an id or source file a
    line break): they are replaced with U+FFFD on construction and assignment, and `repairs`
    says how many were replaced in which field, so a reader can tell the user.
    """

    model_config = ConfigDict(validate_assignment=True)

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

    _repairs: dict[str, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _count_repairs(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Article:
        repairs = count_invalid_characters(data) if isinstance(data, Mapping) else {}
        article = handler(data)
        if repairs:
            article._repairs = repairs
        return article

    # "before": pydantic-core cannot even read a string holding a lone surrogate.
    @field_validator(*ONE_LINE_FIELDS, mode="before")
    @classmethod
    def _one_line_text(cls, value: object) -> object:
        return replace_invalid(value, one_line=True)[0] if isinstance(value, str) else value

    @field_validator(*TEXT_FIELDS, mode="before")
    @classmethod
    def _valid_text(cls, value: object) -> object:
        return replace_invalid(value)[0] if isinstance(value, str) else value

    @field_validator("paragraphs", mode="before")
    @classmethod
    def _paragraphs_valid_text(cls, value: object) -> object:
        if isinstance(value, list):
            return [replace_invalid(p)[0] if isinstance(p, str) else p for p in value]
        return value

    @field_validator("paragraphs")
    @classmethod
    def _paragraphs_have_text(cls, paragraphs: list[str]) -> list[str]:
        kept = [p.strip() for p in paragraphs if p and p.strip()]
        if not kept:
            raise ValueError("article has no body text")
        return kept

    def __eq__(self, other: object) -> bool:
        """Equal when the data is equal; how the data was repaired on the way in does not count."""
        if not isinstance(other, Article):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model

    @property
    def repairs(self) -> dict[str, int]:
        """Invalid characters replaced with U+FFFD when this article was made, by field."""
        return dict(self._repairs)

    @property
    def body(self) -> str:
        """The body text; chunk offsets index into this string."""
        return PARAGRAPH_SEPARATOR.join(self.paragraphs)

    @property
    def size(self) -> int:
        """Characters of text in the article (body and metadata), as bounded by the corpus limits."""
        return len(self.body) + sum(len(getattr(self, name)) for name in (*TEXT_FIELDS, "id"))

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


def count_invalid_characters(data: Mapping[str, Any]) -> dict[str, int]:
    """How many characters of each text field of raw Article data the validators will replace."""
    counts: dict[str, int] = {}
    for name in (*ONE_LINE_FIELDS, *TEXT_FIELDS, "paragraphs"):
        value = data.get(name)
        texts = value if isinstance(value, list) else [value]
        found = sum(
            replace_invalid(text, one_line=name in ONE_LINE_FIELDS)[1] for text in texts if isinstance(text, str)
        )
        if found:
            counts[name] = found
    return counts


def article_id_from_path(path: Path, root: Path) -> str:
    """A stable id for a one-article file: its path inside the corpus, without the suffix."""
    return path.relative_to(root).with_suffix("").as_posix()
