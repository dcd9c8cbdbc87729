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


@pytest.mark.parametrize(
    "value, message",
    [
        ('[11, "x"]', "BYLINE_DISCORD_ADMIN_ROLE_IDS, item 2: Input should be a valid integer"),
        ("11, 22", "BYLINE_DISCORD_ADMIN_ROLE_IDS: must be a JSON list of ids"),
        ("[11,", "BYLINE_DISCORD_ADMIN_ROLE_IDS: must be a JSON list of ids"),
        ('{"a": 1}', "BYLINE_DISCORD_ADMIN_ROLE_IDS: Input should be a valid list"),
    ],
)
def test_a_bad_list_names_the_variable_that_exists_and_the_bad_item(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("BYLINE_DISCORD_ADMIN_ROLE_IDS", value)
    with pytest.raises(SettingsError) as raised:
        load_section(DiscordSettings)
    assert message in str(raised.value)
    assert "BYLINE_DISCORD_ADMIN_ROLE_IDS_" not in str(raised.value), "no variable that does not exist"


def test_a_bad_list_in_the_env_file_is_reported_the_same_way(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text('BYLINE_DISCORD_CHANNEL_IDS=[5, "news"]\n', encoding="utf-8")
    with pytest.raises(SettingsError, match=r"BYLINE_DISCORD_CHANNEL_IDS, item 2: .* \(got 'news'\)"):
        load_section(DiscordSettings)


def test_options_given_win_over_the_environment_and_keep_their_section_type(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BYLINE_INDEX_PATH", str(tmp_path / "from-env"))
    settings = load_section(IndexSettings, index_path=tmp_path / "given", corpus_path=None)
    assert isinstance(settings, IndexSettings)
    assert settings.index_path == tmp_path / "given" and settings.corpus_path is None
