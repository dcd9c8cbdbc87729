"""Settings: .env.example never drifts from the settings classes; bad values name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import DiscordSettings, IndexSettings, SettingsError, env_example, load_section

REPO = Path(__file__).resolve().parents[2]


def test_env_example_lists_every_setting_as_generated() -> None:
    assert (REPO / ".env.example").read_text(encoding="utf-8") == env_example(), (
        "regenerate it: byline env-example > .env.example"
    )
    assert "\nBYLINE_DISCORD_TOKEN=\n" in env_example()
    for name in ("BYLINE_MODEL", "BYLINE_ANSWER_MIN_RELEVANCE", "BYLINE_DISCORD_ADMIN_ROLE_IDS", "BYLINE_INDEX_PATH"):
        assert f"\n# {name}=" in env_example(), "optional settings are commented out"


def test_empty_values_mean_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYLINE_INDEX_PATH", "")
    monkeypatch.setenv("BYLINE_DISCORD_GUILD_ID", "")
    assert load_section(IndexSettings).index_path.name == "index"
    assert load_section(DiscordSettings).guild_id is None


def test_lists_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYLINE_DISCORD_TOKEN", "super-secret-token")
    monkeypatch.setenv("BYLINE_DISCORD_ADMIN_ROLE_IDS", "[11, 22]")
    settings = load_section(DiscordSettings)
    assert settings.admin_role_ids == [11, 22]
    assert "super-secret-token" not in repr(settings) and "super-secret-token" not in str(settings.model_dump())


def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYLINE_DISCORD_COOLDOWN_SECONDS", "-1")
    with pytest.raises(SettingsError, match="BYLINE_DISCORD_COOLDOWN_SECONDS: Input should be greater than 0"):
        load_section(DiscordSettings)
