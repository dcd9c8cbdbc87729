"""Settings from the environment (and a .env file): one class per section, each with its own prefix."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from corpus.errors import BylineError
from embeddings.encoder import BUNDLED_MODEL, Runtime


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

    @model_validator(mode="after")
    def _overlap_below_size(self) -> IndexSettings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("BYLINE_CHUNK_OVERLAP must be smaller than BYLINE_CHUNK_TOKENS")
        return self

    @field_validator("corpus_path", mode="before")
    @classmethod
    def _empty_means_default(cls, value: object) -> object:
        return None if value in ("", None) else value


class AnswerSettings(BaseSettings):
    """How answers are composed (BYLINE_ANSWER_*)."""

    model_config = _section("BYLINE_ANSWER_")

    top_k: int = Field(10, ge=1, le=50, description="Passages retrieved per question.")
    sentences: int = Field(4, ge=1, le=8, description="Most sentences in a short answer.")
    min_relevance: float = Field(
        0.40, ge=-1.0, le=1.0, description="Below this question–sentence similarity Byline says it found no coverage."
    )
    max_question_chars: int = Field(1000, ge=20, le=20000, description="Longest question accepted.")


class DiscordSettings(BaseSettings):
    """The Discord bot (BYLINE_DISCORD_*)."""

    model_config = _section("BYLINE_DISCORD_")

    token: SecretStr | None = Field(None, description="Bot token from the Discord developer portal (a secret).")
    guild_id: int | None = Field(
        None, description="Sync slash commands to this server only (instant); empty syncs globally."
    )
    admin_role_ids: list[int] = Field(
        default_factory=list, description="Roles allowed to reindex besides Manage Server, as a JSON list."
    )
    channel_ids: list[int] = Field(
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

    @field_validator("guild_id", mode="before")
    @classmethod
    def _empty_guild(cls, value: object) -> object:
        return None if value == "" else value


class SettingsError(BylineError, ValueError):
    """Settings that cannot be used; the message names each bad setting and what is wrong."""


def describe_validation_error(error: ValidationError, prefix: str) -> str:
    lines = []
    for problem in error.errors():
        name = "_".join(str(part) for part in problem["loc"]) if problem["loc"] else ""
        setting = f"{prefix}{name.upper()}" if name else prefix.rstrip("_")
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{setting}: {message} (got {problem.get('input')!r})" if name else message)
    return "Invalid settings:\n  " + "\n  ".join(lines)


def load_section(section: type[BaseSettings], **overrides: object) -> BaseSettings:
    """Read one settings section, turning validation errors into a SettingsError naming the variables."""
    try:
        return section(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        prefix = section.model_config.get("env_prefix", "")
        raise SettingsError(describe_validation_error(error, prefix)) from error


def parse_day(value: str | None, name: str) -> date | None:
    """A YYYY-MM-DD date from the command line or Discord, with a clear error."""
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as error:
        raise SettingsError(f"{name} must be a date like 2023-12-06 (got {value!r})") from error


SECTIONS: tuple[type[BaseSettings], ...] = (IndexSettings, AnswerSettings, DiscordSettings)


def env_example() -> str:
    """The text of .env.example: every setting, its description and its default, from the classes above."""
    lines = [
        "# Byline settings. Copy to .env and fill in BYLINE_DISCORD_TOKEN. The others are optional and shown",
        "# commented out with their defaults: uncomment a line to change it. (In Docker, leave BYLINE_CORPUS_PATH,",
        "# BYLINE_INDEX_PATH and BYLINE_MODEL_CACHE out: the image points them into the /data volume.)",
        "",
    ]
    for section in SECTIONS:
        lines.append(f"# --- {section.__doc__.strip()}")
        prefix = section.model_config["env_prefix"]
        for name, field in section.model_fields.items():
            lines.append(f"# {field.description}")
            required = field.is_required() or name == "token"
            lines.append(f"{'' if required else '# '}{prefix}{name.upper()}={_example_value(field)}")
        lines.append("")
    return "\n".join(lines)


def _example_value(field) -> str:
    if field.default_factory is not None or field.default is None:
        return ""
    if isinstance(field.default, bool):
        return str(field.default).lower()
    return str(field.default)
