"""Proves tests/discord_server.py against the real discord.py client over real sockets.

The bot below is a deliberately tiny stand-in defined here (not project code): a
deferring ``/ping``, a ``/sources`` command with buttons, and an ``on_message`` that
answers a mention in a thread created from the message.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.discord_server import (
    ApiError,
    DiscordServerConfig,
    DiscordTestServer,
    Op,
    Perm,
    running_bot,
    second_guild,
    validate_message,
)

Run = Callable[..., Any]


# --------------------------------------------------------------------------- the probe bot


class ProbeBot(commands.Bot):
    """Minimal bot: what the project's bot will do, in miniature."""

    def __init__(self, guild_id: int) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),  # no message_content: mentions still carry content
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=0.05,  # default 2 s wait after the last GUILD_CREATE
        )
        self.guild_scope = discord.Object(id=guild_id)
        self.seen: list[discord.Message] = []  # human messages as the bot received them
        self.resumed = asyncio.Event()
        self._add_commands()

    async def setup_hook(self) -> None:
        await self.tree.sync(guild=self.guild_scope)

    async def on_resumed(self) -> None:
        self.resumed.set()

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return  # the server echoes the bot's own messages, as Discord does
        self.seen.append(message)
        if self.user in message.mentions:
            thread = await message.create_thread(name="Byline answer")
            await thread.send(f"{message.author.mention} here is what I found.")

    def _add_commands(self) -> None:
        @self.tree.command(name="ping", description="Check the bot answers", guild=self.guild_scope)
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.followup.send(embed=discord.Embed(title="Pong", description="Still here."))

        @self.tree.command(name="sources", description="Show sources with paging", guild=self.guild_scope)
        @app_commands.describe(topic="What to look up")
        async def sources(interaction: discord.Interaction, topic: str) -> None:
            await interaction.response.send_message(f"Sources for {topic}: page 1", view=SourcesView())


class SourcesView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=30)

    @discord.ui.button(label="More sources", custom_id="sources:more")
    async def more(self, interaction: discord.Interaction, button: discord.ui.Button[SourcesView]) -> None:
        await interaction.response.edit_message(content="Sources: page 2", view=self)

    @discord.ui.button(label="Next", custom_id="sources:next")
    async def next_page(self, interaction: discord.Interaction, button: discord.ui.Button[SourcesView]) -> None:
        await interaction.response.defer()


def token_path(prefix: str, token: str, suffix: str = "") -> str:
    return prefix + re.escape(token) + suffix


# --------------------------------------------------------------------------- tests


def test_slash_command_is_synced_deferred_and_followed_up(discord_server: DiscordTestServer, run: Run) -> None:
    server, cfg = discord_server, discord_server.config

    async def scenario() -> None:
        async with running_bot(ProbeBot(cfg.guild_id), server):
            guild_sync = server.requests_matching(
                "PUT", rf"/applications/{cfg.application_id}/guilds/{cfg.guild_id}/commands"
            )
            assert len(guild_sync) == 1 and guild_sync[0].status == 200
            assert sorted(c["name"] for c in guild_sync[0].json) == ["ping", "sources"]
            assert not server.requests_matching("PUT", rf"/applications/{cfg.application_id}/commands")

            record = await server.send_interaction("ping")
            callback = await server.wait_for_request(
                "POST", token_path(rf"/interactions/{record.id}/", record.token, "/callback")
            )
            followup = await server.wait_for_request(
                "POST", token_path(rf"/webhooks/{cfg.application_id}/", record.token)
            )

        assert callback.json["type"] == 5 and callback.query.get("with_response") == "1"
        assert record.ack_latency is not None and record.ack_latency < cfg.interaction_ack_deadline_s
        assert followup.time > callback.time and followup.status == 200
        assert followup.json["embeds"][0]["title"] == "Pong"
        assert followup.json["allowed_mentions"] == {"parse": []}
        # The first follow-up after a deferral resolves the "thinking..." message, like Discord.
        assert record.original_message_id is not None
        assert followup.response["id"] == str(record.original_message_id)
        assert server.messages[record.original_message_id]["flags"] == 0
        server.assert_clean()

    run(scenario())


def test_mention_gets_an_answer_in_a_thread(discord_server: DiscordTestServer, run: Run) -> None:
    server = discord_server
    general = server.channel_id("general")

    async def scenario() -> None:
        async with running_bot(ProbeBot(server.config.guild_id), server) as bot:
            await server.send_message_create(general, "reader", "just chatting")
            asked = await server.send_message_create(general, "reader", f"<@{server.config.bot_user.id}> what is new?")
            started = await server.wait_for_request("POST", rf"/channels/{general}/messages/{asked['id']}/threads")
            thread_id = started.response["id"]
            answer = await server.wait_for_request("POST", rf"/channels/{thread_id}/messages")
            await server.wait_until(lambda: len(server.messages_in(int(thread_id))) == 1)

            # Without the message_content intent, Discord blanks content unless the bot is mentioned.
            assert [m.content for m in bot.seen] == ["", f"<@{server.config.bot_user.id}> what is new?"]
            assert bot.get_channel(int(thread_id)) is not None  # THREAD_CREATE reached the cache

        assert thread_id == asked["id"]  # a thread started from a message shares its id
        assert server.channels[int(thread_id)]["type"] == 11
        assert [f.data["id"] for f in server.gateway_sent("THREAD_CREATE")] == [thread_id]
        assert answer.json["allowed_mentions"] == {"parse": []}
        assert answer.response["mentions"] == []  # AllowedMentions.none(): nobody pinged
        server.assert_clean()

    run(scenario())


def test_button_click_updates_the_message(discord_server: DiscordTestServer, run: Run) -> None:
    server = discord_server

    async def scenario() -> None:
        async with running_bot(ProbeBot(server.config.guild_id), server) as bot:
            # discord.py registers the view only once the callback response is back, so wait
            # for the command to finish before a (superhumanly fast) user clicks.
            completed = asyncio.ensure_future(bot.wait_for("app_command_completion", timeout=5))
            command = await server.send_interaction("sources", {"topic": "elections"})
            await completed
            message_id = command.original_message_id
            assert message_id is not None
            assert server.messages[message_id]["content"] == "Sources for elections: page 1"

            click = await server.click_button(message_id, label="More sources")
            callback = await server.wait_for_request(
                "POST", token_path(rf"/interactions/{click.id}/", click.token, "/callback")
            )

        assert callback.json["type"] == 7  # UPDATE_MESSAGE
        assert click.payload["message"]["id"] == str(message_id)
        assert server.messages[message_id]["content"] == "Sources: page 2"
        labels = [b["label"] for row in server.messages[message_id]["components"] for b in row["components"]]
        assert labels == ["More sources", "Next"]
        server.assert_clean()

    run(scenario())


@pytest.mark.parametrize("discord_config", [DiscordServerConfig(heartbeat_interval_ms=250)])
def test_heartbeats_follow_the_hello_interval(discord_server: DiscordTestServer, run: Run) -> None:
    server = discord_server
    interval = server.config.heartbeat_interval_ms / 1000

    async def scenario() -> None:
        async with running_bot(ProbeBot(server.config.guild_id), server):
            await server.wait_until(lambda: len(server.heartbeats) >= 6)

        assert server.largest_heartbeat_gap() < 3 * interval
        acks = [f for f in server.gateway_log if f.direction == "sent" and f.op == Op.HEARTBEAT_ACK]
        assert len(acks) >= len(server.heartbeats) - 1
        server.assert_clean()

    run(scenario())


@pytest.mark.parametrize("close_code", [4000, None], ids=["close-4000", "abort"])
def test_dropped_connection_resumes_and_keeps_answering(
    discord_server: DiscordTestServer, run: Run, close_code: int | None
) -> None:
    server, cfg = discord_server, discord_server.config

    async def answered(record_token: str) -> None:
        await server.wait_for_request("POST", token_path(rf"/webhooks/{cfg.application_id}/", record_token))

    async def scenario() -> None:
        async with running_bot(ProbeBot(cfg.guild_id), server) as bot:
            await server.drop_connection(close_code)
            missed = await server.send_interaction("ping")  # sent while disconnected: replayed on RESUME
            await server.wait_for_gateway(Op.RESUME)
            await asyncio.wait_for(bot.resumed.wait(), 10)
            await answered(missed.token)

            fresh = await server.send_interaction("ping")
            await answered(fresh.token)

        assert len(server.gateway_received(Op.IDENTIFY)) == 1  # resumed, never re-identified
        resume = server.gateway_received(Op.RESUME)[0]
        assert resume.data["session_id"] == server.gateway_sent("READY")[0].data["session_id"]
        assert server.connections[1].path == "/resume"  # READY's resume_gateway_url was used
        # Asked for (zstd-stream when the zstandard package is installed), never used.
        assert server.connections[1].query["compress"] in ("zlib-stream", "zstd-stream")
        server.assert_clean()

    run(scenario())


def test_injected_failures_answer_as_asked_drop_the_connection_and_are_not_violations(
    discord_server: DiscordTestServer, run: Run
) -> None:
    server = discord_server
    general = server.channel_id("general")
    messages = rf"/channels/{general}/messages"

    async def scenario() -> None:
        async with running_bot(ProbeBot(server.config.guild_id), server) as bot:
            channel = bot.get_channel(general)
            assert isinstance(channel, discord.TextChannel)
            server.fail_requests("POST", messages, status=503)
            with pytest.raises(discord.DiscordServerError) as unavailable:
                await channel.send("first")
            assert unavailable.value.status == 503
            server.fail_requests("POST", messages, status=429, body="<html>error code: 1015</html>")
            with pytest.raises(discord.HTTPException) as banned:
                await channel.send("second")
            assert banned.value.status == 429 and "1015" in banned.value.text  # Cloudflare's page: not retried
            server.fail_requests("POST", messages)  # no status: the connection is dropped
            with pytest.raises(aiohttp.ClientError):
                await channel.send("third")
            sent = await channel.send("fourth")  # each failure was used up once
            assert sent.content == "fourth"

        statuses = [(r.status, r.injected) for r in server.requests_matching("POST", messages)]
        assert statuses == [(503, True), (429, True), (0, True), (200, False)]
        assert server.injected == server.requests_matching("POST", messages)[:3]
        server.assert_clean()  # injected failures are not the bot's violations

    run(scenario())


@pytest.mark.parametrize(
    "discord_config", [DiscordServerConfig(bot_denied_permissions=Perm.CREATE_PUBLIC_THREADS)], ids=["no-threads"]
)
def test_denied_permissions_are_reported_and_thread_creation_needs_its_permission(
    discord_server: DiscordTestServer, run: Run
) -> None:
    server = discord_server
    general = server.channel_id("general")

    async def scenario() -> None:
        async with running_bot(ProbeBot(server.config.guild_id), server) as bot:
            channel = bot.get_channel(general)
            assert isinstance(channel, discord.TextChannel) and bot.user is not None
            permissions = channel.permissions_for(channel.guild.me)
            assert not permissions.create_public_threads and permissions.send_messages
            await server.send_message_create(general, "reader", f"{bot.user.mention} what is new?")
            await server.wait_for_request("POST", rf"/channels/{general}/messages/\d+/threads")
            await server.wait_until(lambda: server.client_errors, what="discord.py's Forbidden")

        assert [(v.status, v.code, v.message) for v in server.violations] == [(403, 50013, "Missing Permissions")]
        assert not server.threads()

    run(scenario())


def test_oversize_embed_is_rejected_like_discord_would(discord_server: DiscordTestServer, run: Run) -> None:
    server = discord_server
    general = server.channel_id("general")

    async def scenario() -> None:
        async with running_bot(ProbeBot(server.config.guild_id), server) as bot:
            channel = bot.get_channel(general)
            assert isinstance(channel, discord.TextChannel)
            with pytest.raises(discord.HTTPException) as rejected:
                await channel.send(embed=discord.Embed(description="x" * 4097))
            with pytest.raises(discord.NotFound):
                await bot.http.request(discord.http.Route("GET", "/guilds/{guild_id}/bans", guild_id=1))

        assert rejected.value.status == 400 and rejected.value.code == 50035
        assert "embeds.0.description" in rejected.value.text
        (violation,) = server.violations
        assert violation.path == f"/channels/{general}/messages"
        assert violation.errors == {
            "embeds": {
                "0": {
                    "description": {
                        "_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 4096 or fewer in length."}]
                    }
                }
            }
        }
        assert [r.path for r in server.unknown_routes] == ["/guilds/1/bans"]
        assert not server.messages_in(general) and not server.client_errors

    run(scenario())


# --------------------------------------------------------------------------- validator unit checks


def _embed(**overrides: Any) -> dict[str, Any]:
    return {"title": "t", "description": "d", **overrides}


def _buttons(n: int, label: str = "b", start: int = 0) -> dict[str, Any]:
    """An action row of ``n`` buttons with custom ids c{start}..c{start+n-1}."""
    ids = range(start, start + n)
    return {"type": 1, "components": [{"type": 2, "style": 1, "label": label, "custom_id": f"c{i}"} for i in ids]}


@pytest.mark.parametrize(
    ("body", "error_path"),
    [
        ({"content": "x" * 2001}, ("content",)),
        ({"embeds": [_embed()] * 11}, ("embeds",)),
        ({"embeds": [_embed(title="x" * 257)]}, ("embeds", "0", "title")),
        ({"embeds": [_embed(fields=[{"name": "n", "value": "v"}] * 26)]}, ("embeds", "0", "fields")),
        ({"embeds": [_embed(fields=[{"name": "n", "value": "v" * 1025}])]}, ("embeds", "0", "fields", "0", "value")),
        ({"embeds": [_embed(fields=[{"name": "", "value": "v"}])]}, ("embeds", "0", "fields", "0", "name")),
        ({"embeds": [_embed(footer={"text": "x" * 2049})]}, ("embeds", "0", "footer", "text")),
        ({"embeds": [_embed(author={"name": "x" * 257})]}, ("embeds", "0", "author", "name")),
        ({"embeds": [_embed(description="x" * 4000), _embed(description="x" * 2100)]}, ("embeds",)),
        ({"content": "c", "components": [_buttons(1, start=i) for i in range(6)]}, ("components",)),
        ({"content": "c", "components": [_buttons(6)]}, ("components", "0", "components")),
        (
            {"content": "c", "components": [_buttons(1, label="x" * 81)]},
            ("components", "0", "components", "0", "label"),
        ),
        (
            {"content": "c", "components": [_buttons(1), _buttons(1)]},
            ("components", "1", "components", "0", "custom_id"),
        ),
    ],
)
def test_validator_rejects_what_discord_rejects(body: dict[str, Any], error_path: tuple[str, ...]) -> None:
    with pytest.raises(ApiError) as rejected:
        validate_message(body, creating=True)
    assert rejected.value.status == 400 and rejected.value.code == 50035
    node: Any = rejected.value.errors
    for part in error_path:
        node = node[part]
    assert node["_errors"]


def test_validator_accepts_limits_exactly_and_rejects_empty_messages() -> None:
    full_embed = _embed(title="x" * 256, description="x" * 4096, fields=[{"name": "n", "value": "v" * 60}] * 25)
    validate_message({"content": "x" * 2000, "embeds": [full_embed], "components": [_buttons(5)]}, creating=True)
    with pytest.raises(ApiError) as rejected:
        validate_message({"content": ""}, creating=True)
    assert rejected.value.code == 50006
    validate_message({"content": ""}, creating=False)  # edits may clear content


# --------------------------------------------------------------------------- two guilds, groups, attachments


class UploadBot(commands.Bot):
    """Global commands: a group with a subcommand, and a command taking an uploaded file."""

    def __init__(self) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=0.05,
        )
        self.seen: list[tuple[int | None, str]] = []  # (guild id, what was run)
        group = app_commands.Group(name="things", description="Things")

        @group.command(name="add", description="Add a thing")
        async def things_add(interaction: discord.Interaction, name: str) -> None:
            self.seen.append((interaction.guild_id, f"things add {name}"))
            await interaction.response.send_message(f"added {name}")

        @self.tree.command(name="upload", description="Upload a file")
        async def upload(interaction: discord.Interaction, file: discord.Attachment) -> None:
            data = await file.read()
            self.seen.append((interaction.guild_id, f"{file.filename} {file.size} {data.decode()}"))
            await interaction.response.send_message(f"read {len(data)} bytes")

        self.tree.add_command(group)

    async def setup_hook(self) -> None:
        await self.tree.sync()


@pytest.mark.parametrize("discord_config", [DiscordServerConfig(other_guilds=(second_guild(),))])
def test_two_guilds_subcommands_and_attachments(discord_server: DiscordTestServer, run: Run) -> None:
    server = discord_server
    second = server.config.other_guilds[0]

    async def scenario() -> None:
        async with running_bot(UploadBot(), server) as bot:
            assert sorted(g.id for g in bot.guilds) == sorted([server.config.guild_id, second.id])
            guild_b = bot.get_guild(second.id)
            assert guild_b is not None and guild_b.owner_id == second.owner.id
            assert {c.name for c in guild_b.text_channels} == {"b-general", "b-news"}

            record = await server.send_interaction(
                "things add", {"name": "kettle"}, user="reader-b", channel_id=server.channel_id("b-general")
            )
            reply = await server.wait_for_request("POST", rf"/interactions/{record.id}/.+/callback")
            assert reply.json["data"]["content"] == "added kettle"
            assert record.payload["guild_id"] == str(second.id)

            upload = server.attachment("notes.txt", b"hello from the CDN")
            record = await server.send_interaction("upload", {"file": upload}, user="owner")
            reply = await server.wait_for_request("POST", rf"/interactions/{record.id}/.+/callback")
            assert reply.json["data"]["content"] == "read 18 bytes"
        assert bot.seen == [
            (second.id, "things add kettle"),
            (server.config.guild_id, "notes.txt 18 hello from the CDN"),
        ]
        assert len(server.attachment_downloads) == 1 and server.attachment_downloads[0].endswith("/notes.txt")
        server.assert_clean()

    run(scenario())
