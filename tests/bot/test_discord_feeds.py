"""Taking in news from Discord: the real bot (discord.py over sockets to the protocol test server), the
real model and index, and a news site on 127.0.0.1 serving feeds and article pages."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.discord_bot import BylineBot
from bot.exts.feeds import NOT_ADMIN
from bot.ingest import FeedsUpdated, IngestService
from bot.service import Byline
from bot.settings import AnswerSettings, DiscordSettings, FeedsSettings, IndexSettings
from embeddings.encoder import Encoder
from tests.conftest import news_files, write_corpus
from tests.discord_server import (
    GUILD_ID,
    MODERATOR_ROLE_ID,
    SECOND_GUILD_ID,
    DiscordServerConfig,
    DiscordTestServer,
    InteractionRecord,
    running_bot,
    second_guild,
)
from tests.ingest.conftest import local_fetch_settings
from tests.ingest.news_site import NewsSite, article_page, feed_item, load_articles, rss_feed

ARTICLES = load_articles()
BEEPER, SPOTIFY, APPLE, ASX, KING, HYDROGEL = (
    "mhrag-0402",
    "mhrag-0461",
    "mhrag-0287",
    "mhrag-0087",
    "mhrag-0412",
    "mhrag-0285",
)
EPHEMERAL = 1 << 6
SHARED_ARTICLES = len(news_files())
TWO_GUILDS = DiscordServerConfig(other_guilds=(second_guild(),))


# --- the news site and the service


@pytest.fixture
def site() -> Iterator[NewsSite]:
    """A news site on 127.0.0.1 that serves requests in parallel (one may be held while others go on)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield NewsSite(server)
    server.clear()
    server.stop()


def make_ingest(encoder: Encoder, root: Path, interval_minutes: float = 0.0, **fetch: Any) -> IngestService:
    """Byline over the shared news corpus (indexed), with a library, fetching from 127.0.0.1 only."""
    corpus = write_corpus(root / "corpus", news_files())
    byline = Byline(IndexSettings(corpus_path=corpus, index_path=root / "index"), AnswerSettings(), encoder)
    byline.reindex()
    feeds = FeedsSettings(workers=2, interval_minutes=interval_minutes)
    return IngestService(byline, local_fetch_settings(**fetch), feeds)


@pytest.fixture
def desk(encoder: Encoder, tmp_path: Path) -> Iterator[IngestService]:
    service = make_ingest(encoder, tmp_path)
    yield service
    service.close()


def publish(site: NewsSite, article_id: str, path: str | None = None, **page: Any) -> str:
    path = path or f"/news/{article_id}"
    canonical = str(page.pop("canonical", site.url(path)))
    return site.serve(path, article_page(ARTICLES[article_id], canonical=canonical, **page))


def publish_feed(site: NewsSite, path: str, article_ids: list[str], title: str) -> str:
    items = [feed_item(ARTICLES[i], site.url(f"/news/{i}")) for i in article_ids]
    return site.serve_feed(path, rss_feed(title, site.base, items))


def held_page(site: NewsSite, article_id: str, release: threading.Event) -> str:
    """The article's page, answered only once `release` is set (the test sees the request arrive)."""
    page = article_page(ARTICLES[article_id], canonical=site.url(f"/news/{article_id}"))

    def answer(request: Request) -> Response:
        release.wait(60)
        return Response(page, content_type="text/html; charset=utf-8")

    return site.handle(f"/news/{article_id}", answer)


def markdown_article(article_id: str, outlet: str) -> bytes:
    record = ARTICLES[article_id]
    day = record["published_at"][:10]
    return (
        f"---\ntitle: {json.dumps(record['title'])}\noutlet: {outlet}\ndate: {day}\n---\n\n{record['body']}\n".encode()
    )


# --- the bot


def make_bot(ingest: IngestService, server: DiscordTestServer, tmp_path: Path, **settings: Any) -> BylineBot:
    values: dict[str, Any] = {"guild_id": server.config.guild_id, "cooldown_questions": 50, **settings}
    discord_settings = DiscordSettings(heartbeat_file=tmp_path / "heartbeat", **values)
    bot = BylineBot(ingest.byline, discord_settings, ingest=ingest, guild_ready_timeout=0.05)
    completions(bot)  # listening from the start
    return bot


class Completions:
    """Which interactions the bot has finished handling (app_command_completion), by interaction id."""

    def __init__(self, bot: BylineBot) -> None:
        self.done: set[int] = set()
        self._changed = asyncio.Event()
        bot.add_listener(self._record, "on_app_command_completion")

    async def _record(self, interaction: Any, _command: Any) -> None:
        self.done.add(interaction.id)
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, interaction_id: int, timeout: float = 120) -> None:
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed  # captured before checking: no lost wake-ups
                if interaction_id in self.done:
                    return
                await changed.wait()


def completions(bot: BylineBot) -> Completions:
    if not hasattr(bot, "test_completions"):
        bot.test_completions = Completions(bot)  # type: ignore[attr-defined]
    return bot.test_completions  # type: ignore[attr-defined]


class Caller(TypedDict):
    """Who runs a command and in which channel: command(..., **caller)."""

    user: str
    channel: str


async def command(
    server: DiscordTestServer,
    bot: BylineBot,
    name: str,
    options: dict[str, Any] | None = None,
    user: str = "owner",
    channel: str | None = None,
) -> InteractionRecord:
    """Run /name (e.g. "feeds add") and return once the bot has finished with it."""
    finished = completions(bot)
    channel_id = server.channel_id(channel) if channel else None
    interaction = await server.send_interaction(name, options, user=user, channel_id=channel_id)
    await finished.wait(interaction.id)
    return interaction


def first_reply(server: DiscordTestServer, interaction: InteractionRecord) -> dict:
    [callback] = server.requests_matching("POST", rf"/interactions/{interaction.id}/.+/callback")
    return callback.json


def refused_privately(server: DiscordTestServer, interaction: InteractionRecord) -> str:
    reply = first_reply(server, interaction)
    assert reply["type"] == 4 and reply["data"]["flags"] & EPHEMERAL, reply
    return reply["data"]["content"]


def posted(server: DiscordTestServer, interaction: InteractionRecord) -> list[dict]:
    """Everything the bot sent for an interaction (callback data, follow-ups, edits), in order."""
    callbacks = server.requests_matching("POST", rf"/interactions/{interaction.id}/.+/callback")
    bodies = [callback.json.get("data") or {} for callback in callbacks]
    token = interaction.token
    for request in server.requests:
        if request.method in ("POST", "PATCH") and request.path.startswith("/webhooks/") and token in request.path:
            bodies.append(request.json or {})
    return bodies


def final_text(server: DiscordTestServer, interaction: InteractionRecord) -> str:
    """The last state the bot gave its reply (content or embed)."""
    return text_of(posted(server, interaction)[-1])


def text_of(body: dict) -> str:
    parts = [body.get("content") or ""]
    for embed in body.get("embeds") or []:
        parts += [embed.get("title", ""), embed.get("description", "")]
        parts += [f"{f['name']} {f['value']}" for f in embed.get("fields", [])]
        parts.append((embed.get("footer") or {}).get("text", ""))
    return "\n".join(parts)


async def ask(server: DiscordTestServer, bot: BylineBot, question: str, user: str = "owner", **kw: Any) -> str:
    interaction = await command(server, bot, "ask", {"question": question}, user=user, **kw)
    return final_text(server, interaction)


# --- tests


def test_every_new_command_is_for_admins_only(
    desk: IngestService, site: NewsSite, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    feed = publish_feed(site, "/feed.xml", [BEEPER], "Tech Desk")
    page = publish(site, APPLE)
    upload = discord_server.attachment("king.md", markdown_article(KING, "Fortune"))

    async def scenario() -> None:
        bot = make_bot(desk, discord_server, tmp_path, admin_role_ids=[MODERATOR_ROLE_ID])
        async with running_bot(bot, discord_server) as bot:
            for name, options in (
                ("feeds add", {"url": feed}),
                ("feeds list", None),
                ("feeds remove", {"url": feed}),
                ("add", {"url": page}),
                ("add", {"file": upload}),
            ):
                refused = await command(discord_server, bot, name, options, user="reader")
                assert refused_privately(discord_server, refused) == NOT_ADMIN, name
            assert site.page_requests() == [] and discord_server.attachment_downloads == [], "nothing was fetched"
            assert desk.feeds(None) == [] and desk.library.articles() == []

            # A configured admin role is enough (without Manage Server); Manage Server is too.
            listed = await command(discord_server, bot, "feeds list", user="moderator")
            assert "Feeds of this server (0)" in final_text(discord_server, listed)
            added = await command(discord_server, bot, "add", {"file": upload}, user="owner")
            assert "**added**" in final_text(discord_server, added)
        discord_server.assert_clean()

    run(scenario(), timeout=180)


def test_feeds_add_list_remove_with_progress(
    desk: IngestService, site: NewsSite, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    publish(site, BEEPER)
    release = threading.Event()
    held_page(site, SPOTIFY, release)
    feed = publish_feed(site, "/feed.xml", [BEEPER, SPOTIFY], "Tech Desk")
    tenant = str(discord_server.config.guild_id)

    async def scenario() -> None:
        async with running_bot(make_bot(desk, discord_server, tmp_path), discord_server) as bot:
            adding = await discord_server.send_interaction(
                "feeds add", {"url": feed, "name": "Desk <@&1> @everyone"}, user="owner"
            )
            token = adding.token
            # The second entry's page is held: the progress message shows the first one fetched.
            progress = await discord_server.wait_until(
                lambda: next(
                    (
                        r
                        for r in discord_server.requests_matching("PATCH", rf"/webhooks/\d+/{token}/messages/\d+")
                        if "Fetching: 1/2 new entries" in ((r.json or {}).get("content") or "")
                    ),
                    None,
                ),
                timeout=30,
                what="a progress edit while fetching",
            )
            assert progress is not None
            first = discord_server.requests_matching("POST", rf"/webhooks/\d+/{token}")[0]
            assert first.json["content"] == "Fetching the feed…"
            release.set()
            await completions(bot).wait(adding.id)
            report = final_text(discord_server, adding)
            assert "Feed added" in report and "Now following **Desk <@&1> @\u200beveryone**" in report
            for article_id in (BEEPER, SPOTIFY):
                assert ARTICLES[article_id]["title"][:40] in report
            assert report.count("**added**") == 2 and "can be asked about now" in report

            again = await command(discord_server, bot, "feeds add", {"url": feed})
            assert "Failed:" in final_text(discord_server, again) and "followed already" in final_text(
                discord_server, again
            )

            listed = final_text(discord_server, await command(discord_server, bot, "feeds list"))
            assert "Feeds of this server (1)" in listed and feed in listed and "2 articles taken" in listed

            answer = await ask(discord_server, bot, "Why did Apple shut down Beeper Mini?")
            assert ARTICLES[BEEPER]["title"][:30] in answer

            removed = await command(discord_server, bot, "feeds remove", {"url": feed})
            assert "No longer following" in final_text(discord_server, removed)
            listed = final_text(discord_server, await command(discord_server, bot, "feeds list"))
            assert "Feeds of this server (0)" in listed
        assert desk.feeds(None) == [] and {a.article.tenant for a in desk.library.articles()} == {tenant}
        assert not discord_server.violations
        discord_server.assert_clean()

    try:
        run(scenario(), timeout=240)
    finally:
        release.set()


def test_add_links_and_files_one_line_per_outcome(
    desk: IngestService, site: NewsSite, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    original = publish(site, ASX, "/business/asx-open")
    copy = publish(
        site, ASX, "/markets/wall-street", outlet="The Age", intro="From our markets desk, with AP wire copy."
    )
    missing = site.url("/news/gone")
    king = discord_server.attachment("king.md", markdown_article(KING, "Fortune"))
    picture = discord_server.attachment("chart.png", b"\x89PNG not an article")
    huge = discord_server.attachment("huge.txt", b"x" * (desk.fetch_settings.max_bytes + 1))
    empty = discord_server.attachment("empty.md", b"  \n")

    async def scenario() -> None:
        async with running_bot(make_bot(desk, discord_server, tmp_path), discord_server) as bot:
            added = await command(discord_server, bot, "add", {"url": f"{original} {copy} {original}#top {missing}"})
            assert first_reply(discord_server, added)["type"] == 5, "deferred at once"
            lines = final_text(discord_server, added).splitlines()
            outcomes = [line.split("**")[1] for line in lines if line.startswith("**")]
            assert outcomes == ["added", "also in", "known", "failed"], lines
            assert any("404" in line for line in lines if line.startswith("**failed**"))
            added_line = next(line for line in lines if line.startswith("**added**"))
            assert "The Sydney Morning Herald" in added_line and "`2023-10-01`" in added_line

            answer = await ask(
                discord_server, bot, "How did Wall Street close out September, and what dragged the ASX?"
            )
            assert "also in: [The Age]" in answer

            uploaded = await command(discord_server, bot, "add", {"file": king})
            report = final_text(discord_server, uploaded)
            assert "File added: king.md" in report and "**added**" in report and "Fortune" in report
            assert len(discord_server.attachment_downloads) == 1
            answer = await ask(discord_server, bot, "Where has Billie Jean King travelled for women's sports?")
            assert ARTICLES[KING]["title"][:30] in answer

            # Refused before anything is downloaded: the wrong type, too large, both options or neither.
            for options, reason in (
                ({"file": picture}, "chart.png: unsupported file type"),
                ({"file": huge}, "huge.txt: too large"),
                ({"file": king, "url": original}, "either links"),
                ({}, "either links"),
            ):
                refused = await discord_server.send_interaction("add", options, user="owner")
                await discord_server.wait_for_request("POST", rf"/interactions/{refused.id}/.+/callback")
                assert reason in refused_privately(discord_server, refused)
            assert len(discord_server.attachment_downloads) == 1

            # A file read and found empty: one clear line in the progress message.
            emptied = await command(discord_server, bot, "add", {"file": empty})
            assert final_text(discord_server, emptied) == "Failed: empty.md: empty file"
        discord_server.assert_clean()

    run(scenario(), timeout=240)


@pytest.mark.parametrize("discord_config", [TWO_GUILDS])
def test_the_scheduler_checks_feeds_by_itself_while_questions_are_answered(
    encoder: Encoder, site: NewsSite, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    ingest = make_ingest(encoder, tmp_path, interval_minutes=0.02, timeout_seconds=60.0)
    guild_a = str(GUILD_ID)
    for article_id in (SPOTIFY, APPLE, ASX, KING):
        publish(site, article_id)
    shared = publish_feed(site, "/shared.xml", [SPOTIFY], "Shared Desk")
    own = publish_feed(site, "/a.xml", [APPLE], "Server A Desk")
    broken = publish_feed(site, "/broken.xml", [SPOTIFY], "Flaky Desk")
    ingest.add_feed(shared)  # from the command line: every server's
    ingest.add_feed(own, tenant=guild_a)
    ingest.add_feed(broken, tenant=guild_a)
    # Since then: a new shared entry (its page held until the test lets it go), a new entry of
    # server A's feed, and a feed that now fails.
    release = threading.Event()
    held_page(site, BEEPER, release)
    publish_feed(site, "/shared.xml", [BEEPER, SPOTIFY], "Shared Desk")
    publish_feed(site, "/a.xml", [ASX, APPLE], "Server A Desk")
    site.serve("/broken.xml", "server error", status=500, content_type="text/plain")
    announce = discord_server.channel_id("b-news")

    async def scenario() -> None:
        bot = make_bot(ingest, discord_server, tmp_path, guild_id=None, announce_channel_id=announce)
        async with running_bot(bot, discord_server) as bot:
            checked = asyncio.ensure_future(bot.wait_for("feeds_checked", check=lambda r: bool(r.checks)))
            await discord_server.wait_until(lambda: site.hits(f"/news/{BEEPER}"), timeout=30, what="a feed check")
            check_started = time.monotonic()

            # While the check runs: questions are answered, a reindex is refused, an /add waits its turn.
            answer = await ask(discord_server, bot, "How is Spotify using AI for podcasts?")
            assert ARTICLES[SPOTIFY]["title"][:30] in answer
            reindex = await command(discord_server, bot, "reindex")
            assert refused_privately(discord_server, reindex) == (
                "A scheduled feed check is still running; wait for it to finish."
            )
            during_check = await command(discord_server, bot, "status")
            assert "Reindex running Yes: a scheduled feed check" in final_text(discord_server, during_check)
            adding = await discord_server.send_interaction("add", {"url": site.url(f"/news/{KING}")}, user="owner")
            await discord_server.wait_until(
                lambda: (
                    any("Waiting for a scheduled feed check" in text_of(b) for b in posted(discord_server, adding))
                    or None
                ),
                timeout=30,
                what="the /add waiting its turn",
            )
            assert not checked.done() and adding.id not in completions(bot).done

            release.set()
            result: FeedsUpdated = await asyncio.wait_for(checked, 120)
            check_ended = time.monotonic()
            await completions(bot).wait(adding.id)
            statuses = {check.feed.name: check.status for check in result.checks}
            assert statuses == {"Shared Desk": "new", "Server A Desk": "new", "Flaky Desk": "failed"}
            assert "**added**" in final_text(discord_server, adding), "the /add ran after the check"

            # The digest in server B's channel: the shared headline, linked, with outlet and date;
            # not server A's.
            digest = await discord_server.wait_for_request("POST", rf"/channels/{announce}/messages")
            text = text_of(digest.json)
            beeper = ARTICLES[BEEPER]
            assert f"[{beeper['title'][:20]}" in text and f"(<{site.url(f'/news/{BEEPER}')}>)" in text
            assert "TechCrunch" in text and "`2023-12-11`" in text
            assert ARTICLES[ASX]["title"][:20] not in text
            assert digest.json["allowed_mentions"]["parse"] == []

            # Questions went on, and so did heartbeats.
            gaps = discord_server.heartbeat_gaps(since=check_started, until=check_ended)
            interval = discord_server.config.heartbeat_interval_ms / 1000
            assert max(gaps) < 2.5 * interval, gaps

            # The failing feed shows in /status and /feeds list of its server.
            status = final_text(discord_server, await command(discord_server, bot, "status"))
            assert "Feeds 3, 1 failing" in status and "Newest article 2023-12-11" in status
            listed = final_text(discord_server, await command(discord_server, bot, "feeds list"))
            assert "Flaky Desk" in listed and "last error" in listed and "500" in listed
            assert "Shared feeds (1)" in listed and "Shared Desk" in listed
        discord_server.assert_clean()

    try:
        run(scenario(), timeout=300)
    finally:
        release.set()
        ingest.close()


@pytest.mark.parametrize("discord_config", [TWO_GUILDS])
def test_what_a_server_adds_is_answered_only_there(
    desk: IngestService, site: NewsSite, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    publish(site, BEEPER)
    feed = publish_feed(site, "/a-feed.xml", [BEEPER], "Server A Desk")
    hydrogel = publish(site, HYDROGEL)
    beeper_title = ARTICLES[BEEPER]["title"]
    hydrogel_title = ARTICLES[HYDROGEL]["title"]
    beeper_question = "Why did Apple shut down Beeper Mini?"

    def leaks(text: str) -> bool:
        """Anything of server A's articles (headline, outlet, words of the text), not of the questions."""
        markers = (beeper_title[:30], hydrogel_title[:30], "TechCrunch", "Science News", "blue bubble", "salty gel")
        return any(marker in text for marker in markers)

    async def scenario() -> None:
        async with running_bot(make_bot(desk, discord_server, tmp_path, guild_id=None), discord_server) as bot:
            await command(discord_server, bot, "feeds add", {"url": feed})
            await command(discord_server, bot, "add", {"url": hydrogel})

            # Server A finds its articles.
            answer_a = await ask(discord_server, bot, beeper_question)
            assert beeper_title[:30] in answer_a and "TechCrunch" in answer_a and leaks(answer_a)
            sources_a = final_text(discord_server, await command(discord_server, bot, "sources"))
            assert beeper_title[:30] in sources_a and hydrogel_title[:30] in sources_a
            status_a = final_text(discord_server, await command(discord_server, bot, "status"))
            assert f"Articles {SHARED_ARTICLES + 2}" in status_a and "Feeds 1" in status_a

            # Server B: not by /ask, More sources, the outlet filter, /sources, /status or /feeds list.
            b: Caller = {"user": "owner-b", "channel": "b-general"}
            asked = await command(discord_server, bot, "ask", {"question": beeper_question}, **b)
            answer_b = final_text(discord_server, asked)
            assert not leaks(answer_b)
            answer_message = next(
                body for body in posted(discord_server, asked) if body.get("embeds")
            )  # the follow-up that carries the answer
            buttons = [c.get("label") for row in answer_message.get("components", []) for c in row["components"]]
            assert "couldn't find coverage" in answer_b and "More sources" not in buttons, "a refusal lists none"
            # Server A's Apple article does not make B's question about Apple answerable.
            asked = await command(
                discord_server, bot, "ask", {"question": "What did Nvidia say about exports, and about Apple?"}, **b
            )
            assert "no indexed article mentions Apple" in final_text(discord_server, asked)
            # The passages retrieved in server B can be paged through, and are B's too.
            asked = await command(
                discord_server,
                bot,
                "ask",
                {"question": "What did Nvidia say about export restrictions to China, and about the rugby final?"},
                **b,
            )
            follow_up = discord_server.requests_matching("POST", rf"/webhooks/\d+/{asked.token}")[0]
            assert not leaks(final_text(discord_server, asked))
            click = await discord_server.click_button(
                int(follow_up.response["id"]), label="More sources", user="reader-b"
            )
            more = await discord_server.wait_for_request("POST", rf"/interactions/{click.id}/.+/callback")
            assert "More sources" in text_of(more.json["data"]) and not leaks(text_of(more.json["data"]))
            by_outlet = await discord_server.send_interaction(
                "ask",
                {"question": beeper_question, "outlet": "TechCrunch"},
                user="owner-b",
                channel_id=discord_server.channel_id("b-general"),
            )
            refused = await discord_server.wait_for_request("POST", rf"/webhooks/\d+/{by_outlet.token}", timeout=60)
            known, outlets = refused.json["content"].split("Indexed outlets:")
            assert "No indexed outlet matches 'TechCrunch'" in known and not leaks(outlets)
            sources_b = final_text(discord_server, await command(discord_server, bot, "sources", **b))
            assert f"Indexed articles ({SHARED_ARTICLES})" in sources_b and not leaks(sources_b)
            status_b = final_text(discord_server, await command(discord_server, bot, "status", **b))
            assert f"Articles {SHARED_ARTICLES}" in status_b and "Feeds 0" in status_b
            feeds_b = final_text(discord_server, await command(discord_server, bot, "feeds list", **b))
            assert "Feeds of this server (0)" in feeds_b and "Server A Desk" not in feeds_b and feed not in feeds_b
            removing = await command(discord_server, bot, "feeds remove", {"url": feed}, **b)
            assert "does not follow" in refused_privately(discord_server, removing)

            # Nor by a mention, or a follow-up in the thread it starts.
            channel_b = discord_server.channel_id("b-general")
            assert bot.user is not None
            mention = f"<@{bot.user.id}>"
            question = await discord_server.send_message_create(channel_b, "reader-b", f"{mention} {beeper_question}")
            thread = await discord_server.wait_for_request(
                "POST", rf"/channels/{channel_b}/messages/{question['id']}/threads"
            )
            thread_id = thread.response["id"]
            reply = await discord_server.wait_for_request("POST", rf"/channels/{thread_id}/messages", timeout=60)
            assert not leaks(text_of(reply.json))
            mark = discord_server.mark()
            await discord_server.send_message_create(
                int(thread_id), "reader-b", f"{mention} and what about the new hydrogel for drinking water?"
            )
            reply = await discord_server.wait_for_request(
                "POST", rf"/channels/{thread_id}/messages", timeout=60, after=mark
            )
            assert not leaks(text_of(reply.json))

            # Server B adding the same page gets its own copy: nothing says server A has it.
            added_b = await command(discord_server, bot, "add", {"url": site.url(f"/news/{BEEPER}")}, **b)
            report = final_text(discord_server, added_b)
            assert "**added**" in report and "known" not in report and "also in" not in report
        tenants = sorted(stored.article.tenant for stored in desk.library.articles())
        assert tenants == sorted([str(GUILD_ID), str(GUILD_ID), str(SECOND_GUILD_ID)])
        discord_server.assert_clean()

    run(scenario(), timeout=300)


def test_links_to_private_addresses_are_refused_unless_allowed(
    encoder: Encoder, site: NewsSite, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    ingest = make_ingest(encoder, tmp_path, allow_private=False)
    page = publish(site, APPLE)
    feed = publish_feed(site, "/feed.xml", [APPLE], "Local Desk")

    async def scenario() -> None:
        async with running_bot(make_bot(ingest, discord_server, tmp_path), discord_server) as bot:
            added = await command(discord_server, bot, "add", {"url": f"{page} http://169.254.169.254/latest/"})
            lines = [line for line in final_text(discord_server, added).splitlines() if line.startswith("**")]
            assert len(lines) == 2 and all(line.startswith("**failed**") for line in lines), lines
            assert "loopback" in lines[0] and "metadata" in lines[1]
            followed = await command(discord_server, bot, "feeds add", {"url": feed})
            assert final_text(discord_server, followed).startswith("Failed: refused to fetch")
        assert site.page_requests() == [] and ingest.feeds(None) == [], "no request left the bot"
        discord_server.assert_clean()

    try:
        run(scenario(), timeout=120)
    finally:
        ingest.close()
