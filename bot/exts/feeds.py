"""Taking in news from Discord: /feeds add|list|remove, and /add (links, or an uploaded article file).

Admins only, decided here on every call as for /reindex (Manage Server as Discord resolved it, or an
admin role); others get a private refusal and nothing happens. What a server adds gets that server as
its tenant, so it is answered only there; its feed list shows its own feeds and names the shared ones.
Fetching and indexing run in the bot's index worker, one job at a time (`bot.index_jobs`): a command
that finds another job running waits its turn, and its progress message says so.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TypeVar

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_bot import BylineBot
from bot.exts.admin import is_admin
from bot.exts.errors import APOLOGY, tell, user_message
from bot.exts.progress import JobProgress, edit_quietly, show_progress
from bot.exts.views import PagedView
from bot.index_jobs import Job
from bot.ingest import IngestService, LibraryDisabledError
from bot.render_discord import plain, safe, shorten
from bot.render_discord_ingest import (
    FEEDS_PER_PAGE,
    feed_added_embed,
    feed_removed_embed,
    feeds_list_embed,
    links_added_embed,
)
from corpus.errors import BylineError
from corpus.urls import url_key, web_url

log = logging.getLogger(__name__)
R = TypeVar("R")

NOT_ADMIN = (
    "Only admins can follow feeds and add articles: you need the Manage Server permission or one of the admin roles."
)
MAX_LINKS = 10


class AttachmentUnavailableError(BylineError):
    """Discord would not hand over an uploaded file."""


class Feeds(commands.Cog):
    feeds = app_commands.Group(
        name="feeds",
        description="Follow RSS/Atom feeds for this server (admins only).",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: BylineBot) -> None:
        self.bot = bot

    @property
    def ingest(self) -> IngestService:
        if self.bot.ingest is None:
            raise LibraryDisabledError("This bot keeps no library of fetched news.")
        return self.bot.ingest

    async def admin_tenant(self, interaction: discord.Interaction) -> str | None:
        """This server's tenant when the user is an admin here; otherwise a private refusal and None."""
        if interaction.guild_id is None or not is_admin(interaction, self.bot.settings.admin_role_ids):
            await tell(interaction, NOT_ADMIN)
            return None
        return str(interaction.guild_id)

    # --- /feeds

    @feeds.command(name="add", description="Follow an RSS/Atom feed (or a page advertising one) and index it now.")
    @app_commands.describe(
        url="The feed's address, or a web page that advertises a feed",
        name="A name for the feed (default: the feed's own title)",
    )
    async def feeds_add(self, interaction: discord.Interaction, url: str, name: str | None = None) -> None:
        tenant = await self.admin_tenant(interaction)
        if tenant is None:
            return
        url = web_url(url)  # a malformed address is refused at once, privately
        ingest = self.ingest
        outcome = await self._run_job(
            interaction,
            "adding a feed",
            "Fetching the feed…",
            lambda progress: ingest.add_feed(url, name or "", tenant, progress.fetching, progress.indexing),
        )
        if outcome is not None:
            message, result = outcome
            await edit_quietly(message, content=None, embed=feed_added_embed(result))

    @feeds.command(name="list", description="The feeds this server follows, with their last check and errors.")
    async def feeds_list(self, interaction: discord.Interaction) -> None:
        tenant = await self.admin_tenant(interaction)
        if tenant is None:
            return
        ingest = self.ingest
        own = await self.bot.in_question_thread(ingest.feeds, tenant)
        shared = await self.bot.in_question_thread(ingest.feeds, "")
        pages = max(1, math.ceil(len(own) / FEEDS_PER_PAGE))

        def render(page: int) -> discord.Embed:
            return feeds_list_embed(own, shared, page, pages)

        view = PagedView(render, pages, interaction.user.id) if pages > 1 else discord.utils.MISSING
        await interaction.response.send_message(embed=render(0), view=view)

    @feeds.command(name="remove", description="Stop following a feed of this server.")
    @app_commands.describe(
        url="The feed's address, as /feeds list shows it",
        purge="Also remove the articles it brought in (default: they stay)",
    )
    async def feeds_remove(self, interaction: discord.Interaction, url: str, purge: bool = False) -> None:
        tenant = await self.admin_tenant(interaction)
        if tenant is None:
            return
        ingest = self.ingest
        key = url_key(web_url(url))
        own = await self.bot.in_question_thread(ingest.feeds, tenant)
        if not any(feed.url_key == key for feed in own):
            shared = await self.bot.in_question_thread(ingest.feeds, "")
            await tell(interaction, _not_followed(url, any(feed.url_key == key for feed in shared)))
            return
        outcome = await self._run_job(
            interaction,
            "removing a feed",
            "Removing the feed…",
            lambda progress: ingest.remove_feed(url, tenant, purge, progress.indexing),
        )
        if outcome is not None:
            message, result = outcome
            await edit_quietly(message, content=None, embed=feed_removed_embed(result, purge))

    # --- /add

    @app_commands.command(name="add", description="Add articles: links to article pages, or an article file.")
    @app_commands.describe(
        url="One or more article addresses, separated by spaces (a feed's address is followed)",
        file="An article file: .html, .txt, .md, .json, .jsonl or .xml (RSS/Atom)",
    )
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def add(
        self, interaction: discord.Interaction, url: str | None = None, file: discord.Attachment | None = None
    ) -> None:
        tenant = await self.admin_tenant(interaction)
        if tenant is None:
            return
        urls = (url or "").split()
        if bool(urls) == (file is not None):
            await tell(interaction, "Give either links (url) or one article file (file).")
            return
        if len(urls) > MAX_LINKS:
            await tell(interaction, f"That is {len(urls)} links; add at most {MAX_LINKS} at a time.")
            return
        ingest = self.ingest
        if file is not None:
            await self._add_file(interaction, ingest, file, tenant)
            return
        outcome = await self._run_job(
            interaction,
            "adding articles",
            "Fetching the links…",
            lambda progress: ingest.add_links(urls, tenant, progress.fetching, progress.indexing),
        )
        if outcome is not None:
            message, result = outcome
            await edit_quietly(message, content=None, embed=links_added_embed(result, "Links added"))

    async def _add_file(
        self, interaction: discord.Interaction, ingest: IngestService, file: discord.Attachment, tenant: str
    ) -> None:
        # Type and size are checked before anything is downloaded; the bytes come through discord.py from
        # Discord's CDN (not through the web fetcher, whose address rules are for links users give).
        name = ingest.check_upload(file.filename, file.size)
        await interaction.response.defer(thinking=True)
        data = await _read_attachment(file)
        outcome = await self._run_job(
            interaction,
            "adding a file",
            f"Reading {name}…",
            lambda progress: ingest.add_upload(name, data, tenant, progress.indexing),
        )
        if outcome is not None:
            message, result = outcome
            await edit_quietly(message, content=None, embed=links_added_embed(result, f"File added: {name}"))

    # --- running a job with its progress message

    async def _run_job(
        self,
        interaction: discord.Interaction,
        what: str,
        first_line: str,
        work: Callable[[JobProgress], R],
    ) -> tuple[discord.WebhookMessage, R] | None:
        """Run `work` in the index worker when no other job runs, editing one progress message.

        An expected error ends up in that message, in one line; None is returned then."""
        if not interaction.response.is_done():
            await interaction.response.defer(thinking=True)
        jobs = self.bot.index_jobs
        waiting_for = jobs.running(interaction.guild_id)
        line = f"Waiting for {waiting_for} to finish…" if waiting_for else first_line
        message = await interaction.followup.send(plain(line), wait=True)
        async with jobs.turn(Job(what, interaction.guild_id, interaction.user.display_name)):
            if waiting_for:
                await edit_quietly(message, content=plain(first_line))
            progress = JobProgress(jobs)
            try:
                result = await show_progress(message, self.bot.in_index_thread(work, progress), progress)
            except BylineError as error:
                await edit_quietly(message, content=plain(f"Failed: {user_message(error)}"))
                return None
            except Exception:
                await edit_quietly(message, content=APOLOGY)
                raise
        return message, result


async def _read_attachment(file: discord.Attachment) -> bytes:
    try:
        return await file.read()
    except (discord.HTTPException, aiohttp.ClientError, OSError) as error:
        raise AttachmentUnavailableError(
            f"{file.filename}: Discord did not hand over the file ({error}); upload it again."
        ) from None


def _not_followed(url: str, shared: bool) -> str:
    address = safe(shorten(url, 200))
    if shared:
        return f"{address} is a shared feed, followed from the command line for every server; it is removed there."
    return f"This server does not follow {address}; /feeds list shows the feeds it follows."


async def setup(bot: BylineBot) -> None:
    await bot.add_cog(Feeds(bot))
