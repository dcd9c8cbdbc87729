"""The bot checks every followed feed by itself, every BYLINE_FEEDS_INTERVAL_MINUTES (0: never).

A round is one of the bot's index jobs (it waits for a running reindex or /add, and they for it) and
runs in the index worker: conditional GETs, the new entries' pages (one request per host at a time, by
the fetcher), then an incremental build, all off the event loop. The wait between rounds varies by up
to 10% so many bots (and restarts) do not hit the same sites in step; after a restart, feeds whose
last check is older than the interval are checked soon. A failing feed is its own result (logged,
shown in /feeds list and /status) and never stops the others; a failing round is logged and the next
one runs as planned. Newly indexed headlines go to BYLINE_DISCORD_ANNOUNCE_CHANNEL_ID when set, only
those that channel's server may see. Each round ends with the `feeds_checked` event (its FeedsUpdated).
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta

import aiohttp
import discord
from discord.ext import commands

from bot.discord_bot import BylineBot
from bot.index_jobs import Job, JobCancelled
from bot.ingest import INDEX_WAIT_SECONDS, FeedsUpdated, IngestService
from bot.render_discord_ingest import digest_embed
from embeddings.indexer import IndexBusyError

log = logging.getLogger(__name__)

JITTER = 0.1  # each wait is the interval ± 10%
FIRST_CHECK_SPREAD_SECONDS = 60.0  # an overdue first check starts within this (or 10% of the interval)


class FeedScheduler(commands.Cog):
    def __init__(self, bot: BylineBot) -> None:
        self.bot = bot
        ingest = bot.ingest
        self.interval_seconds = ingest.feeds_settings.interval_minutes * 60.0 if ingest is not None else 0.0
        self._task: asyncio.Task[None] | None = None
        self._index_owed = False  # a round stored articles while another process held the index
        self._warned_channel = False

    async def cog_load(self) -> None:
        if self.interval_seconds > 0 and self.bot.ingest is not None:
            self._task = asyncio.create_task(self._run(self.bot.ingest), name="byline-feed-scheduler")

    async def cog_unload(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.bot.next_feed_check = None

    async def _run(self, ingest: IngestService) -> None:
        await self.bot.wait_until_ready()
        delay = await self._first_delay(ingest)
        while True:
            self.bot.next_feed_check = datetime.now(UTC) + timedelta(seconds=delay)
            await asyncio.sleep(delay)
            try:
                await self.check_feeds(ingest)
            except JobCancelled:
                return
            except Exception:  # noqa: BLE001 - a bug in one round must not end the schedule
                log.exception("The scheduled feed check failed; the next one runs as planned")
            delay = self.interval_seconds * random.uniform(1 - JITTER, 1 + JITTER)

    async def _first_delay(self, ingest: IngestService) -> float:
        """Seconds until the first round: when the least recently checked feed is due, spread a little."""
        feeds = await self.bot.in_question_thread(ingest.feeds)
        now = datetime.now(UTC)
        due = now
        if feeds and all(feed.last_checked_at is not None for feed in feeds):
            due = min(feed.last_checked_at for feed in feeds if feed.last_checked_at) + timedelta(
                seconds=self.interval_seconds
            )
        spread = random.uniform(0, min(FIRST_CHECK_SPREAD_SECONDS, self.interval_seconds * JITTER))
        return max(0.0, (due - now).total_seconds()) + spread

    async def check_feeds(self, ingest: IngestService) -> FeedsUpdated | None:
        """One round: check every feed (every server's and the shared ones), index, announce."""
        feeds = await self.bot.in_question_thread(ingest.feeds)
        if not feeds and not self._index_owed:
            return None
        async with self.bot.index_jobs.turn(Job("a scheduled feed check")):
            result = await self.bot.in_index_thread(self._update, ingest)
        _log_round(result)
        await self._announce(result)
        self.bot.dispatch("feeds_checked", result)
        return result

    def _update(self, ingest: IngestService) -> FeedsUpdated:
        """In the index worker: the checks, and the build a previous round could not do."""

        def stop_if_closing(_progress: object) -> None:
            self.bot.index_jobs.check_cancelled()

        result = ingest.update(None, fetch_progress=stop_if_closing, index_progress=stop_if_closing)
        if result.index is None and not result.index_pending and self._index_owed:
            try:
                result.index = ingest.byline.reindex(stop_if_closing, lock_timeout=INDEX_WAIT_SECONDS, allow_empty=True)
            except IndexBusyError:
                result.index_pending = True
        self._index_owed = result.index_pending
        return result

    async def _announce(self, result: FeedsUpdated) -> None:
        channel_id = self.bot.settings.announce_channel_id
        if channel_id is None or result.index is None:
            return
        channel = self.bot.get_channel(channel_id)
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            if not self._warned_channel:
                log.warning("BYLINE_DISCORD_ANNOUNCE_CHANNEL_ID %s is not a text channel the bot can see", channel_id)
                self._warned_channel = True
            return
        indexed = set(result.index.report.added)
        tenant = str(channel.guild.id)  # only the shared headlines and that server's own
        headlines = [article for article in result.added if article.id in indexed and article.visible_to(tenant)]
        if not headlines:
            return
        try:
            await channel.send(embed=digest_embed(headlines))
        except (discord.HTTPException, aiohttp.ClientError, OSError) as error:
            log.warning("Could not post the new headlines to channel %s (%s)", channel_id, error)


def _log_round(result: FeedsUpdated) -> None:
    for check in result.checks:
        if check.status == "failed":
            owner = f"server {check.feed.tenant}" if check.feed.tenant else "shared"
            log.warning("Feed %s (%s) failed: %s", check.feed.url, owner, check.error)
    failed = sum(1 for check in result.checks if check.status == "failed")
    pending = "; indexing waits for another build" if result.index_pending else ""
    log.info("Checked %d feeds: %d new articles, %d failed%s", len(result.checks), len(result.added), failed, pending)


async def setup(bot: BylineBot) -> None:
    await bot.add_cog(FeedScheduler(bot))
