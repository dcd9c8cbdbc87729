"""The real Byline bot (discord.py) over real sockets against the Discord-protocol server in tests/."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.discord_bot import BylineBot
from bot.exts.admin import NOT_ADMIN
from bot.render_discord import safe
from bot.runner import serve_until_stopped
from bot.service import Byline
from bot.settings import DiscordSettings
from embeddings.encoder import Encoder
from embeddings.store import current_generation
from tests.conftest import front_matter_article, make_byline, news_files, write_corpus
from tests.discord_server import MODERATOR_ROLE_ID, DiscordTestServer, running_bot

SEED_TITLE = "Iran, Iraq Discuss Border Security, Military Cooperation"
EPHEMERAL = 1 << 6


def make_bot(service: Byline, server: DiscordTestServer, tmp_path: Path, **settings: Any) -> BylineBot:
    discord_settings = DiscordSettings(
        guild_id=server.config.guild_id,
        heartbeat_file=tmp_path / "heartbeat",
        **{"cooldown_questions": 20, **settings},
    )
    return BylineBot(service, discord_settings, guild_ready_timeout=0.05)


async def ask(
    server: DiscordTestServer,
    bot: BylineBot,
    question: str,
    user: str = "reader",
    channel_id: int | None = None,
    **options: Any,
):
    """Send /ask and return (interaction, its first callback, its first follow-up), once the bot is done."""
    done = command_done(bot, "ask")
    interaction = await server.send_interaction(
        "ask", {"question": question, **options}, user=user, channel_id=channel_id
    )
    callback = await server.wait_for_request("POST", rf"/interactions/{interaction.id}/.+/callback")
    follow_up = await server.wait_for_request("POST", rf"/webhooks/\d+/{interaction.token}$", timeout=60)
    await asyncio.wait_for(done, 30)
    return interaction, callback, follow_up


def command_done(bot: BylineBot, name: str) -> asyncio.Future:
    """Resolves when the bot has finished running /name (and so has registered its buttons)."""
    return asyncio.ensure_future(
        bot.wait_for("app_command_completion", check=lambda _interaction, command: command.name == name)
    )


def embed_text(body: dict) -> str:
    parts = []
    for embed in body.get("embeds") or []:
        parts += [embed.get("title", ""), embed.get("description", "")]
        parts += [f"{f['name']} {f['value']}" for f in embed.get("fields", [])]
    return "\n".join(parts)


def test_ask_defers_then_answers_with_the_cited_seed_article(
    news_byline: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_bot(make_bot(news_byline, discord_server, tmp_path), discord_server) as bot:
            _, callback, follow_up = await ask(discord_server, bot, "What did Baqeri propose?")
            assert callback.json["type"] == 5, "deferred at once"
            text = embed_text(follow_up.json)
            assert "proposed joint drills with Iraq" in text and "[1]" in text
            assert SEED_TITLE in text and "2023-12-06" in text
            assert follow_up.json["allowed_mentions"]["parse"] == []
            # "More sources" shows the next passages, privately.
            message_id = int(follow_up.response["id"])
            click = await discord_server.click_button(message_id, label="More sources")
            more = await discord_server.wait_for_request("POST", rf"/interactions/{click.id}/.+/callback")
            assert more.json["type"] == 4 and more.json["data"]["flags"] & EPHEMERAL
            assert "More sources" in embed_text(more.json["data"])
        discord_server.assert_clean()

    run(scenario(), timeout=90)


def test_mention_answers_in_a_thread_and_follow_ups_use_its_context(
    news_byline: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_bot(make_bot(news_byline, discord_server, tmp_path), discord_server):
            channel = discord_server.channel_id("general")
            bot_mention = f"<@{discord_server.config.bot_user.id}>"
            question = await discord_server.send_message_create(
                channel, "reader", f"{bot_mention} What was Nvidia's quarterly revenue?"
            )
            created = await discord_server.wait_for_request(
                "POST", rf"/channels/{channel}/messages/{question['id']}/threads"
            )
            thread_id = int(created.response["id"])
            assert created.json["name"] == "What was Nvidia's quarterly revenue?"
            answer = await discord_server.wait_for_request("POST", rf"/channels/{thread_id}/messages", timeout=60)
            assert "18.1 billion" in embed_text(answer.json)

            mark = discord_server.mark()
            await discord_server.send_message_create(
                thread_id, "reader", f"{bot_mention} and what did they warn about?"
            )
            follow_up = await discord_server.wait_for_request(
                "POST", rf"/channels/{thread_id}/messages", timeout=60, after=mark
            )
            # Alone, "and what did they warn about?" finds nothing; with the thread's question it does.
            text = embed_text(follow_up.json)
            assert "Nvidia revenue triples" in text and "[1]" in text

            # Without the Message Content intent, a follow-up without a mention is not answered.
            mark = discord_server.mark()
            await discord_server.send_message_create(thread_id, "reader", "and in Europe?")
            await asyncio.sleep(1.0)
            assert not discord_server.requests_matching("POST", rf"/channels/{thread_id}/messages", after=mark)
        discord_server.assert_clean()

    run(scenario(), timeout=120)


@pytest.fixture
def reindex_byline(encoder: Encoder, tmp_path: Path) -> Byline:
    """A Byline with its own index of the news corpus, and a corpus folder the test can change."""
    byline = make_byline(encoder, write_corpus(tmp_path / "corpus", news_files()), tmp_path / "index")
    byline.reindex()
    return byline


def add_articles(byline: Byline, count: int) -> None:
    """New articles, long enough that reindexing them takes several seconds of embedding."""
    write_corpus(
        byline.corpus_path,
        {
            f"council-{i}.md": front_matter_article(
                f"Council session {i}",
                "City Paper",
                "2023-11-20",
                [
                    f"In session {i}, item {j}, councillors debated the harbour budget line {i * 100 + j} at length. "
                    * 6
                    for j in range(5)
                ],
            )
            for i in range(count)
        },
    )


def test_reindex_is_for_admins_only_checked_by_the_bot(
    reindex_byline: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    served = current_generation(reindex_byline.index_settings.index_path)
    add_articles(reindex_byline, 1)

    async def scenario() -> None:
        bot = make_bot(reindex_byline, discord_server, tmp_path, admin_role_ids=[MODERATOR_ROLE_ID])
        async with running_bot(bot, discord_server) as bot:
            interaction = await discord_server.send_interaction("reindex", user="reader")
            refused = await discord_server.wait_for_request("POST", rf"/interactions/{interaction.id}/.+/callback")
            assert refused.json["type"] == 4 and refused.json["data"]["flags"] & EPHEMERAL
            assert refused.json["data"]["content"] == NOT_ADMIN
            await asyncio.sleep(0.5)
            assert current_generation(reindex_byline.index_settings.index_path) == served, "no reindex happened"

            # A configured admin role is enough, without Manage Server.
            interaction = await discord_server.send_interaction("reindex", user="moderator")
            await discord_server.wait_for_request("POST", rf"/interactions/{interaction.id}/.+/callback")
            await discord_server.wait_until(
                lambda: any(
                    "Reindex finished" in embed_text(r.json or {})
                    for r in discord_server.requests_matching(
                        "PATCH", rf"/webhooks/\d+/{interaction.token}/messages/.+"
                    )
                ),
                timeout=120,
                what="the final reindex report",
            )
        assert current_generation(reindex_byline.index_settings.index_path) != served
        discord_server.assert_clean()

    run(scenario(), timeout=180)


def test_reindex_reports_progress_while_questions_and_heartbeats_go_on(
    reindex_byline: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    add_articles(reindex_byline, 40)

    async def scenario() -> None:
        async with running_bot(make_bot(reindex_byline, discord_server, tmp_path), discord_server) as bot:
            reindex = await discord_server.send_interaction("reindex", user="owner")
            deferral = await discord_server.wait_for_request("POST", rf"/interactions/{reindex.id}/.+/callback")
            assert deferral.json["type"] == 5
            edits = rf"/webhooks/\d+/{reindex.token}/messages/.+"
            progress = await discord_server.wait_until(
                lambda: next(
                    (
                        r
                        for r in discord_server.requests_matching("PATCH", edits)
                        if "articles" in ((r.json or {}).get("content") or "")
                    ),
                    None,
                ),
                timeout=60,
                what="a progress edit",
            )
            assert "chunks/s" in progress.json["content"]

            # A question and a second reindex while the first one runs.
            _, _, answered = await ask(discord_server, bot, "What did Baqeri propose?")
            second = await discord_server.send_interaction("reindex", user="owner")
            busy = await discord_server.wait_for_request("POST", rf"/interactions/{second.id}/.+/callback")
            finished = [
                r
                for r in discord_server.requests_matching("PATCH", edits)
                if "Reindex finished" in embed_text(r.json or {})
            ]
            assert not finished, "the question was answered before the reindex ended"
            assert "proposed joint drills" in embed_text(answered.json)
            assert busy.json["data"]["flags"] & EPHEMERAL and "still running" in busy.json["data"]["content"]

            report = await discord_server.wait_until(
                lambda: next(
                    (
                        r
                        for r in discord_server.requests_matching("PATCH", edits)
                        if "Reindex finished" in embed_text(r.json or {})
                    ),
                    None,
                ),
                timeout=180,
                what="the final report",
            )
            text = embed_text(report.json)
            assert "Added (40)" in text and "Changed (0)" in text and "Removed (0)" in text
            gaps = discord_server.heartbeat_gaps(since=progress.time, until=report.time)
            interval = discord_server.config.heartbeat_interval_ms / 1000
            assert max(gaps) < 2.5 * interval, f"heartbeat gaps during the reindex: {gaps}"
        discord_server.assert_clean()

    run(scenario(), timeout=300)


def test_nothing_the_bot_posts_can_ping_anyone(
    encoder: Encoder, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    corpus = write_corpus(
        tmp_path / "corpus",
        {
            "pings.md": front_matter_article(
                "Moderators warn about @everyone spam",
                "Server News",
                "2023-11-03",
                [
                    "@everyone spam hit the community server on Friday, moderators said, and <@&123> role pings followed.",
                    "The moderators asked users not to post @here or <@456> mentions in the news channel.",
                ],
            )
        },
    )
    byline = make_byline(encoder, corpus, tmp_path / "index")
    byline.reindex()

    async def scenario() -> None:
        async with running_bot(make_bot(byline, discord_server, tmp_path), discord_server) as bot:
            await ask(discord_server, bot, "@everyone what did moderators say about @everyone spam? <@&123>")
            channel = discord_server.channel_id("general")
            await discord_server.send_message_create(
                channel, "reader", f"<@{discord_server.config.bot_user.id}> @everyone what happened with the spam?"
            )
            thread = await discord_server.wait_for_request("POST", rf"/channels/{channel}/messages/\d+/threads")
            await discord_server.wait_for_request("POST", rf"/channels/{thread.response['id']}/messages", timeout=60)
        posted = [
            r
            for r in discord_server.requests
            if r.method in ("POST", "PATCH")
            and isinstance(r.json, dict)
            and ("embeds" in r.json or "content" in r.json)
        ]
        assert posted
        for request in posted:
            allowed = request.json.get("allowed_mentions") or (request.json.get("data") or {}).get("allowed_mentions")
            assert (
                allowed is not None
                and allowed.get("parse") == []
                and not allowed.get("users")
                and not allowed.get("roles")
            ), request.path
        bot_messages = [
            m for m in discord_server.messages.values() if m["author"]["id"] == str(discord_server.config.bot_user.id)
        ]
        assert bot_messages and all(not m["mentions"] for m in bot_messages), "nobody was pinged"
        discord_server.assert_clean()

    run(scenario(), timeout=120)


def test_very_long_answers_stay_within_discord_limits(
    encoder: Encoder, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    sentence = "The **harbour** authority's _long_ report on dredging, `silt` and [tides](https://example.org) says the channel is {} metres deep and getting shallower every year near pier {}."
    corpus = write_corpus(
        tmp_path / "corpus",
        {
            f"harbour-{i}.md": front_matter_article(
                "Harbour dredging report " + "with a very long headline " * 12 + str(i),
                "Port Gazette " + "Weekly " * 20,
                "2023-11-10",
                [" ".join(sentence.format(i * 10 + j, j) for j in range(k, k + 12)) for k in range(0, 48, 12)],
                url="https://example.org/" + "long/" * 40 + str(i),
            )
            for i in range(8)
        },
    )
    byline = make_byline(encoder, corpus, tmp_path / "index", sentences=8, top_k=20)
    byline.reindex()

    async def scenario() -> None:
        async with running_bot(make_bot(byline, discord_server, tmp_path), discord_server) as bot:
            _, _, follow_up = await ask(
                discord_server,
                bot,
                "How deep is the harbour channel near the pier? " + "Please explain in detail. " * 30,
            )
            embed = follow_up.json["embeds"][0]
            assert len(embed["description"]) <= 4096 and len(embed["title"]) <= 256
            assert all(len(f["value"]) <= 1024 and len(f["name"]) <= 256 for f in embed.get("fields", []))
            # Every cited sentence still shows (its start at least, when they cannot all fit whole).
            votes = [c["custom_id"] for row in follow_up.json["components"] for c in row["components"]]
            answer_id = votes[-1].rsplit(":", 1)[1]
            answer = byline.answers.answer_for(answer_id, str(discord_server.config.guild_id)).answer
            assert answer.sentences and all(safe(s.text)[:40] in embed["description"] for s in answer.sentences)
            click = await discord_server.click_button(int(follow_up.response["id"]), label="More sources")
            await discord_server.wait_for_request("POST", rf"/interactions/{click.id}/.+/callback")
        assert not discord_server.violations, discord_server.violations
        discord_server.assert_clean()

    run(scenario(), timeout=120)


def test_bad_questions_get_an_ephemeral_error_and_cooldowns_apply(
    news_byline: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    async def scenario() -> None:
        bot = make_bot(news_byline, discord_server, tmp_path, cooldown_questions=2, cooldown_seconds=60)
        async with running_bot(bot, discord_server) as bot:
            for question, message in (("   ", "Ask a question"), ("x" * 3000, "keep it under")):
                interaction = await discord_server.send_interaction("ask", {"question": question})
                reply = await discord_server.wait_for_request("POST", rf"/interactions/{interaction.id}/.+/callback")
                assert reply.json["data"]["flags"] & EPHEMERAL and message in reply.json["data"]["content"]
            interaction = await discord_server.send_interaction(
                "ask", {"question": "What happened?", "since": "last week"}
            )
            reply = await discord_server.wait_for_request("POST", rf"/interactions/{interaction.id}/.+/callback")
            assert "since must be a date like 2023-12-06" in reply.json["data"]["content"]
            await ask(discord_server, bot, "What did Baqeri propose?", user="moderator")
            await ask(discord_server, bot, "What did Baqeri propose?", user="moderator")
            interaction = await discord_server.send_interaction(
                "ask", {"question": "What did Baqeri propose?"}, user="moderator"
            )
            reply = await discord_server.wait_for_request("POST", rf"/interactions/{interaction.id}/.+/callback")
            assert reply.json["data"]["flags"] & EPHEMERAL and "try again in" in reply.json["data"]["content"]
        discord_server.assert_clean()

    run(scenario(), timeout=120)


def test_status_and_paged_sources(
    reindex_byline: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    add_articles(reindex_byline, 9)
    reindex_byline.reindex()

    async def scenario() -> None:
        async with running_bot(make_bot(reindex_byline, discord_server, tmp_path), discord_server) as bot:
            status = await discord_server.send_interaction("status")
            reply = await discord_server.wait_for_request("POST", rf"/interactions/{status.id}/.+/callback")
            text = embed_text(reply.json["data"])
            assert "Articles 13" in text and "Reindex running No" in text and "bundled:all-MiniLM-L6-v2" in text

            done = command_done(bot, "sources")
            sources = await discord_server.send_interaction("sources")
            reply = await discord_server.wait_for_request("POST", rf"/interactions/{sources.id}/.+/callback")
            first_page = embed_text(reply.json["data"])
            assert "Indexed articles (13)" in first_page and first_page.index("2023-12-06") < first_page.index(
                "2023-11-21"
            )
            assert "2023-10-17" not in first_page, "the oldest articles are on page 2"
            await asyncio.wait_for(done, 30)
            message_id = discord_server.interactions[sources.id].original_message_id
            assert message_id is not None
            click = await discord_server.click_button(message_id, label="Next", user="reader")
            page_two = await discord_server.wait_for_request("POST", rf"/interactions/{click.id}/.+/callback")
            assert page_two.json["type"] == 7
            assert page_two.json["data"]["embeds"][0]["footer"]["text"] == "Page 2 of 2"
            assert "2023-10-17" in embed_text(page_two.json["data"])
        discord_server.assert_clean()

    run(scenario(), timeout=120)


def test_a_dropped_connection_resumes_and_answers_the_next_question(
    news_byline: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_bot(make_bot(news_byline, discord_server, tmp_path), discord_server) as bot:
            identifies = len(discord_server.gateway_received(op=2))
            await discord_server.drop_connection()
            await discord_server.wait_for_gateway(op=6, timeout=20)
            assert len(discord_server.gateway_received(op=2)) == identifies, "resumed, not re-identified"
            _, _, follow_up = await ask(discord_server, bot, "What did Baqeri propose?")
            assert "joint drills" in embed_text(follow_up.json)
        discord_server.assert_clean()

    run(scenario(), timeout=90)


def test_heartbeat_file_is_written_while_connected(
    news_byline: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_bot(make_bot(news_byline, discord_server, tmp_path), discord_server):
            await discord_server.wait_until(
                lambda: (tmp_path / "heartbeat").exists() or None, timeout=10, what="heartbeat file"
            )

    run(scenario(), timeout=30)
    assert float((tmp_path / "heartbeat").read_text()) > 0


def test_questions_outside_the_allowed_channels_are_declined(
    news_byline: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    news = discord_server.channel_id("news")

    async def scenario() -> None:
        async with running_bot(
            make_bot(news_byline, discord_server, tmp_path, channel_ids=[news]), discord_server
        ) as bot:
            declined = await discord_server.send_interaction("ask", {"question": "What did Baqeri propose?"})
            reply = await discord_server.wait_for_request("POST", rf"/interactions/{declined.id}/.+/callback")
            assert reply.json["data"]["flags"] & EPHEMERAL and "this channel" in reply.json["data"]["content"]
            mark = discord_server.mark()
            general = discord_server.channel_id("general")
            await discord_server.send_message_create(
                general, "reader", f"<@{discord_server.config.bot_user.id}> What did Baqeri propose?"
            )
            await asyncio.sleep(1.0)
            assert not discord_server.requests_matching("POST", r"/channels/.+", after=mark), "no reply outside"
            _, callback, follow_up = await ask(discord_server, bot, "What did Baqeri propose?", channel_id=news)
            assert callback.json["type"] == 5 and "joint drills" in embed_text(follow_up.json)
        discord_server.assert_clean()

    run(scenario(), timeout=90)


def test_sigterm_closes_the_connection_cleanly(
    news_byline: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    """`byline run`'s serving loop, in this process: SIGTERM ends it with a clean close, exit code 0."""
    settings = DiscordSettings(
        token=SecretStr(discord_server.config.token),
        guild_id=discord_server.config.guild_id,
        heartbeat_file=tmp_path / "hb",
    )

    async def scenario() -> tuple[int, float]:
        serving = asyncio.create_task(serve_until_stopped(news_byline, settings))
        await discord_server.wait_for_gateway(op=2, timeout=20)
        await discord_server.wait_until(lambda: discord_server.requests_matching("PUT", r"/applications/.+/commands"))
        os.kill(os.getpid(), signal.SIGTERM)
        code = await asyncio.wait_for(serving, 20)
        await asyncio.sleep(0.2)  # let the server notice the close
        return code, time.monotonic()

    code, stopped_at = run(scenario(), timeout=60)
    assert code == 0
    assert len(discord_server.connections) == 1, "no reconnection after SIGTERM"
    closed_at = discord_server.connections[0].closed_at
    assert closed_at is not None and closed_at <= stopped_at, "the bot closed the gateway connection itself"
    discord_server.assert_clean()


def _reindex_reply(server: DiscordTestServer, token: str, text: str) -> Any:
    """The follow-up to /reindex whose content contains `text`, once there is one."""
    return next(
        (
            r
            for r in server.requests_matching("POST", rf"/webhooks/\d+/{token}")
            if text in ((r.json or {}).get("content") or "")
        ),
        None,
    )


def test_an_unexpected_failure_is_logged_and_the_user_gets_an_apology(
    encoder: Encoder, news_corpus: Path, discord_server: DiscordTestServer, run, tmp_path: Path, caplog
) -> None:
    # An encoder misconfigured in code (batch size 0 on the torch runtime): the build fails deep in
    # sentence-transformers with a ValueError nobody planned for.
    broken = Encoder(encoder.model_name, batch_size=0, runtime="torch")
    byline = make_byline(broken, news_corpus, tmp_path / "index")

    async def scenario() -> None:
        async with running_bot(make_bot(byline, discord_server, tmp_path), discord_server):
            reindex = await discord_server.send_interaction("reindex", user="owner")
            await discord_server.wait_until(
                lambda: _reindex_reply(discord_server, reindex.token, "Sorry, something went wrong"),
                timeout=60,
                what="an apology",
            )

    run(scenario(), timeout=90)
    logged = [r for r in caplog.records if r.name == "bot.exts.errors" and r.levelname == "ERROR"]
    assert logged and logged[0].exc_info is not None, "the traceback is logged"


def test_an_index_folder_that_cannot_be_used_is_one_line_naming_the_setting(
    encoder: Encoder, news_corpus: Path, discord_server: DiscordTestServer, run, tmp_path: Path, caplog
) -> None:
    blocked = tmp_path / "index-is-a-file"
    blocked.write_text("not a folder")
    byline = make_byline(encoder, news_corpus, blocked / "index")
    expected = f"The index folder {blocked / 'index'} (BYLINE_INDEX_PATH) cannot be used: {blocked} is a file"

    async def scenario() -> None:
        async with running_bot(make_bot(byline, discord_server, tmp_path), discord_server):
            reindex = await discord_server.send_interaction("reindex", user="owner")
            await discord_server.wait_until(
                lambda: _reindex_reply(discord_server, reindex.token, expected), timeout=60, what="the reason"
            )
            assert _reindex_reply(discord_server, reindex.token, "Sorry, something went wrong") is None

    run(scenario(), timeout=90)
    assert not [r for r in caplog.records if r.levelname == "ERROR"], "an expected error is no bug"
