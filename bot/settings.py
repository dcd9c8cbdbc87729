"""Settings from the environment (and a .env file): one class per section, each with its own prefix."""

from __future__ import annotations

import ipaddress
import json
import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from corpus.errors import BylineError
from corpus.fetch import FetchPolicy
from corpus.readers import CorpusOptions
from embeddings.encoder import BUNDLED_MODEL, Runtime
from embeddings.vectors import VectorStoreSettings

DEFAULT_USER_AGENT = "Byline/0.1 (news question-answering bot; +https://github.com/byline-bot/byline)"


def default_data_dir() -> Path:
    """Where an installed Byline keeps its index when no path is set."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "byline"


def _section(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix, env_file=".env", env_file_encoding="utf-8", env_ignore_empty=True, extra="ignore"
    )


class IndexSettings(BaseSettings):
    """What is indexed and how (BYLINE_*)."""

    model_config = _section("BYLINE_")

    corpus_path: Path | None = Field(
        None, description="Folder of articles to index; empty means the bundled default corpus."
    )
    index_path: Path = Field(
        default_factory=lambda: default_data_dir() / "index", description="Folder holding the index."
    )
    model: str = Field(
        BUNDLED_MODEL,
        min_length=1,
        description="sentence-transformers model name or path; the default is bundled and offline.",
    )
    runtime: Runtime = Field(
        Runtime.AUTO,
        description="What runs the model: openvino, torch, or auto (OpenVINO when it works here, else torch).",
    )
    model_cache: Path = Field(
        default_factory=lambda: default_data_dir() / "model-cache",
        description="Folder for the model converted to OpenVINO (made on first use, reused after).",
    )
    chunk_tokens: int = Field(
        254,
        ge=32,
        le=510,
        description="Most model tokens in one chunk (all-MiniLM-L6-v2 reads 254 plus two special tokens).",
    )
    chunk_overlap: int = Field(
        48, ge=0, le=256, description="Tokens of whole sentences repeated at the start of the next chunk."
    )
    library_path: Path | None = Field(
        None,
        description="SQLite file keeping fetched, linked and uploaded articles (and followed feeds); "
        "empty means library.sqlite beside the index folder.",
    )

    vector_store: Literal["faiss", "milvus"] = Field(
        "faiss",
        description="Where chunk vectors are searched: faiss (files in the index folder) or milvus (a Milvus "
        "server, or a local milvus-lite file, at BYLINE_MILVUS_URI).",
    )
    milvus_uri: str = Field(
        "",
        description="Milvus to use with BYLINE_VECTOR_STORE=milvus: a server URI (http://host:19530) or a local "
        "milvus-lite file ending in .db; empty means a milvus-lite file beside the index folder.",
    )
    milvus_collection: str = Field(
        "byline_chunks", min_length=1, description="Milvus collection holding this index's vectors."
    )
    milvus_token: SecretStr | None = Field(
        None, description="Milvus token (user:password), if the server asks for one."
    )

    @property
    def library_file(self) -> Path:
        return self.library_path or self.index_path.parent / "library.sqlite"

    @property
    def vector_settings(self) -> VectorStoreSettings:
        token = self.milvus_token.get_secret_value() if self.milvus_token else ""
        return VectorStoreSettings(self.vector_store, self.milvus_uri, self.milvus_collection, token)

    corpus_follow_external_links: bool = Field(
        False,
        description="Follow symbolic links in the corpus folder to files and folders outside it (off: they are skipped).",
    )
    corpus_max_file_mb: float = Field(
        100.0, gt=0, description="Corpus files larger than this many megabytes are skipped, with the reason."
    )
    corpus_max_article_chars: int = Field(
        1_000_000, ge=1, description="Articles longer than this many characters are skipped, with the reason."
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> IndexSettings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("BYLINE_CHUNK_OVERLAP must be smaller than BYLINE_CHUNK_TOKENS")
        return self

    @field_validator("corpus_path", "library_path", mode="before")
    @classmethod
    def _empty_means_default(cls, value: object) -> object:
        return None if value in ("", None) else value

    @property
    def corpus_options(self) -> CorpusOptions:
        return CorpusOptions(
            follow_external_links=self.corpus_follow_external_links,
            max_file_bytes=int(self.corpus_max_file_mb * 1_000_000),
            max_article_chars=self.corpus_max_article_chars,
        )


class AnswerSettings(BaseSettings):
    """How answers are composed (BYLINE_ANSWER_*)."""

    model_config = _section("BYLINE_ANSWER_")

    top_k: int = Field(10, ge=1, le=50, description="Passages retrieved per question.")
    sentences: int = Field(
        5,
        ge=1,
        le=8,
        description="Most sentences in an answer to one claim; each part of a question beyond its second adds one.",
    )
    min_relevance: float = Field(
        0.388, ge=-1.0, le=1.0, description="Below this question–sentence similarity Byline says it found no coverage."
    )
    max_question_chars: int = Field(1000, ge=20, le=20000, description="Longest question accepted.")


# Lists are JSON in the environment; decoded by the section's validator (not by pydantic-settings, whose
# error for bad JSON names no variable), so a bad value gets the same "VARIABLE: what is wrong" line.
IdList = Annotated[list[int], NoDecode]


class DiscordSettings(BaseSettings):
    """The Discord bot (BYLINE_DISCORD_*)."""

    model_config = _section("BYLINE_DISCORD_")

    token: SecretStr | None = Field(None, description="Bot token from the Discord developer portal (a secret).")
    guild_id: int | None = Field(
        None, description="Sync slash commands to this server only (instant); empty syncs globally."
    )
    admin_role_ids: IdList = Field(
        default_factory=list,
        description="Roles allowed to use the admin commands (reindex, feeds, add) besides Manage Server, as a JSON list.",
    )
    channel_ids: IdList = Field(
        default_factory=list, description="Answer only in these channels, as a JSON list; empty means everywhere."
    )
    cooldown_questions: int = Field(3, ge=1, description="Questions a user may ask per cooldown window.")
    cooldown_seconds: float = Field(30.0, gt=0, description="Length of the cooldown window in seconds.")
    message_content: bool = Field(
        False,
        description="Set true if the Message Content intent is enabled in the developer portal: thread follow-ups then need no mention.",
    )
    heartbeat_file: Path = Field(
        default_factory=lambda: default_data_dir() / "heartbeat",
        description="File the bot touches while connected (for health checks).",
    )
    announce_channel_id: int | None = Field(
        None,
        description="Channel where the bot posts the headlines its feed checks bring in (only those that "
        "channel's server may see); empty posts nothing.",
    )
    shards: Literal["auto"] | int = Field(
        1,
        description="Gateway shards: 1 (one connection), a number, or auto (as many as Discord recommends; "
        "needed past 2,500 servers).",
    )
    answers_kept_days: float = Field(
        30,
        gt=0,
        description="Days an answer's buttons (More sources, feedback) keep working; older answers are forgotten.",
    )
    answers_kept: int = Field(
        10_000, ge=1, description="Most answers kept for their buttons; the oldest beyond this are forgotten."
    )

    @field_validator("guild_id", "announce_channel_id", mode="before")
    @classmethod
    def _empty_guild(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("shards", mode="before")
    @classmethod
    def _shard_count(cls, value: object) -> object:
        text = str(value).strip().lower()
        if text == "auto":
            return "auto"
        if isinstance(value, int | str) and text.isdigit() and int(text) >= 1:
            return int(text)
        raise ValueError("must be auto or a number of shards (1 or more)")

    @field_validator("admin_role_ids", "channel_ids", mode="before")
    @classmethod
    def _json_list(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ValueError("must be a JSON list of ids, e.g. [123456789012345678]") from None


class FetchSettings(BaseSettings):
    """Fetching feeds and pages from the web (BYLINE_FETCH_*)."""

    model_config = _section("BYLINE_FETCH_")

    allow_private: bool = Field(
        False,
        description="Allow fetching from loopback, private, link-local and other non-public addresses "
        "(local test feeds); off by default so a link cannot reach internal services.",
    )
    allowed_networks: list[str] = Field(
        default_factory=list,
        description='Non-public networks that may be fetched anyway, as a JSON list of CIDRs, e.g. ["192.168.1.0/24"].',
    )
    user_agent: str = Field(
        DEFAULT_USER_AGENT,
        min_length=1,
        description="User-Agent sent with every request (name Byline and a contact URL).",
    )
    timeout_seconds: float = Field(20.0, gt=0, le=300, description="Most seconds to wait for one response.")
    max_bytes: int = Field(
        5_000_000, ge=10_000, description="Largest response accepted, in bytes (after decompression)."
    )
    max_redirects: int = Field(5, ge=0, le=20, description="Most redirects followed for one address.")
    host_interval_seconds: float = Field(
        1.0,
        ge=0,
        description="Least seconds between two requests to the same host (robots.txt Crawl-delay may ask for more).",
    )
    min_article_chars: int = Field(
        400, ge=0, description="A page with less article text than this is a stub (e.g. a paywall), not an article."
    )

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError as error:
                raise ValueError(f"{value!r} is not a network such as 192.168.1.0/24 ({error})") from None
        return values

    def policy(self) -> FetchPolicy:
        return FetchPolicy(
            user_agent=self.user_agent,
            allow_private=self.allow_private,
            allowed_networks=tuple(ipaddress.ip_network(n, strict=False) for n in self.allowed_networks),
            timeout_seconds=self.timeout_seconds,
            max_bytes=self.max_bytes,
            max_redirects=self.max_redirects,
            host_interval_seconds=self.host_interval_seconds,
        )


class FeedsSettings(BaseSettings):
    """Following feeds (BYLINE_FEEDS_*)."""

    model_config = _section("BYLINE_FEEDS_")

    interval_minutes: float = Field(
        30, ge=0, description="The bot checks every feed this often, in minutes (with some jitter); 0 turns that off."
    )
    max_entries_per_check: int = Field(
        50, ge=1, le=1000, description="Most new entries taken from one feed per check; the rest wait for later checks."
    )
    workers: int = Field(4, ge=1, le=16, description="Feeds checked at the same time (still one request per host).")


class SettingsError(BylineError, ValueError):
    """Settings that cannot be used; the message names each bad setting and what is wrong."""


def describe_validation_error(error: ValidationError, prefix: str) -> str:
    """One line per problem, naming the environment variable (and the bad item of a list)."""
    lines = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        if not problem["loc"]:  # a check across settings: its message names them
            lines.append(message)
            continue
        field, *inside = problem["loc"]
        where = "".join(f" item {part + 1}" if isinstance(part, int) else f" key {part!r}" for part in inside)
        where = f",{where}" if where else ""
        lines.append(f"{prefix}{str(field).upper()}{where}: {message} (got {problem.get('input')!r})")
    return "Invalid settings:\n  " + "\n  ".join(lines)


Section = TypeVar("Section", bound=BaseSettings)


def load_section(section: type[Section], **overrides: object) -> Section:
    """Read one settings section, turning validation errors into a SettingsError naming the variables.

    `overrides` (e.g. command-line options) win over the environment; None means "not given".
    """
    given: dict[str, Any] = {name: value for name, value in overrides.items() if value is not None}
    try:
        return section(**given)
    except ValidationError as error:
        prefix = section.model_config.get("env_prefix") or ""
        raise SettingsError(describe_validation_error(error, prefix)) from error


def parse_day(value: str | None, name: str) -> date | None:
    """A YYYY-MM-DD date from the command line or Discord, with a clear error."""
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as error:
        raise SettingsError(f"{name} must be a date like 2023-12-06 (got {value!r})") from error


SECTIONS: tuple[type[BaseSettings], ...] = (
    IndexSettings,
    AnswerSettings,
    DiscordSettings,
    FetchSettings,
    FeedsSettings,
)


def env_example() -> str:
    """The text of .env.example: every setting, its description and its default, from the classes above."""
    lines = [
        "# Byline settings. Copy to .env and fill in BYLINE_DISCORD_TOKEN. The others are optional and shown",
        "# commented out with their defaults: uncomment a line to change it. (In Docker, leave BYLINE_CORPUS_PATH,",
        "# BYLINE_INDEX_PATH, BYLINE_LIBRARY_PATH and BYLINE_MODEL_CACHE out: the image points them into the",
        "# /data volume.)",
        "",
    ]
    for section in SECTIONS:
        lines.append(f"# --- {(section.__doc__ or section.__name__).strip()}")
        prefix = section.model_config["env_prefix"]
        for name, field in section.model_fields.items():
            lines.append(f"# {field.description}")
            required = field.is_required() or name == "token"
            lines.append(f"{'' if required else '# '}{prefix}{name.upper()}={_example_value(field)}")
        lines.append("")
    return "\n".join(lines)


def _example_value(field: FieldInfo) -> str:
    if field.default_factory is not None or field.default is None:
        return ""
    if isinstance(field.default, bool):
        return str(field.default).lower()
    return str(field.default)
