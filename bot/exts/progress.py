"""A progress message for a slow job: fetching, then indexing, edited every few seconds as /reindex does.

The job runs in a worker thread and reports through `fetching` and `indexing`; the event loop reads
the latest line and edits the message only when it changed. A failed edit (Discord or the network
hiccups) is logged and never stops the job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

import aiohttp
import discord

from bot.index_jobs import IndexJobs
from bot.render_discord import plain
from bot.render_discord_ingest import fetch_progress_line
from bot.wording import build_progress_line
from corpus.ingest import FetchProgress
from embeddings.indexer import BuildProgress

log = logging.getLogger(__name__)
T = TypeVar("T")

PROGRESS_EDIT_SECONDS = 1.5


class JobProgress:
    """The latest progress line of a job; its callbacks also stop the job when the bot shuts down."""

    def __init__(self, jobs: IndexJobs) -> None:
        self._jobs = jobs
        self.line: str | None = None

    def fetching(self, progress: FetchProgress) -> None:
        self._jobs.check_cancelled()
        self.line = fetch_progress_line(progress)

    def indexing(self, progress: BuildProgress) -> None:
        self._jobs.check_cancelled()
        self.line = f"Indexing: {build_progress_line(progress)}"


async def edit_quietly(message: discord.WebhookMessage, **changes: object) -> bool:
    """Edit `message`; False (logged) when Discord or the network refuses."""
    try:
        await message.edit(**changes)  # type: ignore[arg-type]
    except (discord.HTTPException, aiohttp.ClientError, OSError) as error:
        log.warning("Could not edit the progress message %s (%s)", message.id, error)
        return False
    return True


async def show_progress(message: discord.WebhookMessage, work: Awaitable[T], progress: JobProgress) -> T:
    """Await `work`, editing `message` with the latest progress line meanwhile."""
    task = asyncio.ensure_future(work)
    shown: str | None = None
    while not task.done():
        await asyncio.wait({task}, timeout=PROGRESS_EDIT_SECONDS)
        line = progress.line
        if line is not None and line != shown and not task.done():
            shown = line
            await edit_quietly(message, content=plain(line))
    return task.result()
