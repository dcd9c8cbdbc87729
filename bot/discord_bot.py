"""The Discord bot: a small commands.Bot whose setup_hook loads the cogs, registers the answers' persistent
buttons, syncs slash commands and warms up (model and index) before the gateway connects.

Warming up before connecting: discord.py runs setup_hook after logging in over HTTP and before opening
the gateway, so no heartbeat is due while the model loads (in a worker thread, the loop stays free), and
Discord shows the bot online only once its first answer is as fast as the next. The alternative,
connecting first, would show an online bot whose first answers wait for the model anyway.

With BYLINE_DISCORD_SHARDS set to a number above 1 or to auto, the bot is a commands.AutoShardedBot
(`create_bot` chooses); everything else is the same.

Slow work (encoding, searching, fetching, indexing) never runs on the event loop: questions go to a
small thread pool; reindexing, feed checks and added links to a pool of their own, one job at a time
(`index_jobs`), so they neither block answers nor heartbeats, and two index builds never overlap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import discord
from discord.ext import commands, tasks

from bot.answer_store import Retention
from bot.exts.views import PERSISTENT_BUTTONS
from bot.index_jobs import IndexJobs
from bot.ingest import IngestService
from bot.service import Byline
from bot.settings import DiscordSettings, FeedsSettings, FetchSettings, load_section
from corpus.errors import BylineError

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")


EXTENSIONS = ("bot.exts.errors", "bot.exts.questions", "bot.exts.admin", "bot.exts.feeds", "bot.exts.scheduler")
HEARTBEAT_FILE_SECONDS = 20


@dataclass(frozen=True)
class WarmUp:
    """How the start-up warm-up went: None while it runs; else its seconds and the expected error that
    kept the index from opening, if one did (the model is loaded either way)."""

    seconds: float
    error: BylineError | None = None


class BylineBot(commands.Bot):
    def __init__(
        self, service: Byline, settings: DiscordSettings, ingest: IngestService | None = None, **options: Any
    ) -> None:
        intents = discord.Intents.default()
        intents.message_content = settings.message_content
        options.setdefault("guild_ready_timeout", 1.0)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **options,
        )
        self.service = service
        self.settings = settings
        # Feeds, links and uploads (None when the Byline keeps no library); made from the environment if not given.
        self._owns_ingest = ingest is None and service.library is not None
        self.ingest = _ingest_from_environment(service) if self._owns_ingest else ingest
        self.index_jobs = IndexJobs()
        self.next_feed_check: datetime | None = None  # set by the feed scheduler
        self._question_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="byline-ask")
        self._index_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="byline-index")
        self.warm_up: WarmUp | None = None  # None while the model and index load at start

    @property
    def answer_retention(self) -> Retention:
        return Retention(days=self.settings.answers_kept_days, answers=self.settings.answers_kept)

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        # Buttons under answers of any earlier run: their custom ids carry the answer's id.
        self.add_dynamic_items(*PERSISTENT_BUTTONS)
        await asyncio.gather(self.sync_commands(), self.warm_up_service())
        self.touch_heartbeat_file.start()

    async def warm_up_service(self) -> None:
        """Load the model and open the index off the loop, before the gateway connects."""
        started = time.monotonic()
        error: BylineError | None = None
        try:
            await self.in_question_thread(self._warm_up)
        except BylineError as expected:  # e.g. no index yet: the bot serves /status and /reindex meanwhile
            error = expected
            log.warning("The index is not available: %s", expected)
        except Exception:  # noqa: BLE001 - a bug, but the bot still starts (and says so in /status)
            log.exception("Unexpected error while loading the model and the index")
        self.warm_up = WarmUp(time.monotonic() - started, error)
        log.info("Model and index loaded in %.1f s", self.warm_up.seconds)

    def _warm_up(self) -> None:
        """The model, the index and what duplicate checks compare, loaded at once (in one call: a start that
        fails meanwhile closes the pools)."""
        self.service.warm_up()
        if self.ingest is not None:
            self.ingest.warm_up()

    async def sync_commands(self) -> None:
        """Sync to the development guild when one is set (instant), otherwise globally (up to an hour)."""
        if self.settings.guild_id:
            guild = discord.Object(id=self.settings.guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("Synced %d commands to guild %s", len(synced), self.settings.guild_id)
        else:
            synced = await self.tree.sync()
            log.info("Synced %d commands globally", len(synced))

    async def in_question_thread(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a search or answer off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._question_pool, lambda: function(*args, **kwargs))

    async def in_index_thread(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run an index build off the event loop, beside (not in front of) questions."""
        return await asyncio.get_running_loop().run_in_executor(self._index_pool, lambda: function(*args, **kwargs))

    @tasks.loop(seconds=HEARTBEAT_FILE_SECONDS)
    async def touch_heartbeat_file(self) -> None:
        """Refresh the file `byline healthcheck` reads, while connected."""
        if self.is_ready() and not self.is_closed():
            path = self.settings.heartbeat_file
            await asyncio.to_thread(_write_heartbeat, path)

    @touch_heartbeat_file.before_loop
    async def _wait_until_connected(self) -> None:
        await self.wait_until_ready()

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: messages are handled by the Questions cog's listener only."""

    async def close(self) -> None:
        self.touch_heartbeat_file.cancel()
        self.index_jobs.cancel()
        await super().close()
        # Waited for (off the loop): no question or index thread may outlive the bot and keep using the service.
        for pool in (self._question_pool, self._index_pool):
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
        if self._owns_ingest and self.ingest is not None:
            self._owns_ingest = False
            self.ingest.close()

    async def on_ready(self) -> None:
        log.info("Connected as %s to %d servers", self.user, len(self.guilds))


class ShardedBylineBot(BylineBot, commands.AutoShardedBot):
    """The same bot over several gateway shards (discord.py's AutoShardedBot)."""


def create_bot(service: Byline, settings: DiscordSettings, **options: Any) -> BylineBot:
    """The bot the settings ask for: one connection, or shards (a number, or auto: as many as Discord says)."""
    if settings.shards == 1:
        return BylineBot(service, settings, **options)
    shard_count = None if settings.shards == "auto" else settings.shards
    return ShardedBylineBot(service, settings, shard_count=shard_count, **options)


def _ingest_from_environment(service: Byline) -> IngestService:
    return IngestService(service, load_section(FetchSettings), load_section(FeedsSettings))


def _write_heartbeat(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{time.time():.0f}\n", encoding="utf-8")
