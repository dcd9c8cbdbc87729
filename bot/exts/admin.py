"""Admin: /reindex (admins only, checked here on the server side), /status and /sources.

A reindex is one of the bot's index jobs (`bot.index_jobs`): it is refused while another job (a feed
check, added links) runs, and those wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import math

import discord
from discord import app_commands
from discord.ext import commands

from bot.answer_model import source_name
from bot.discord_bot import BylineBot, WarmUp
from bot.exts.errors import tell, user_message
from bot.exts.views import PagedView
from bot.index_jobs import Job
from bot.render_discord import ACCENT, DESCRIPTION_LIMIT, safe, shorten
from bot.render_discord_ingest import status_feed_fields
from bot.service import IndexStatus, ReindexOutcome
from bot.wording import counted, progress
from corpus.errors import BylineError
from corpus.models import Article
from embeddings.indexer import BuildProgress

log = logging.getLogger(__name__)

PROGRESS_EDIT_SECONDS = 1.5
SOURCES_PAGE_SIZE = 10
NOT_ADMIN = "Only admins can reindex: you need the Manage Server permission or one of the admin roles."


def is_admin(interaction: discord.Interaction, admin_role_ids: list[int]) -> bool:
    """Manage Server (as Discord resolved it for this interaction) or one of the admin roles.

    Decided on every call of every admin command: `default_permissions` only hides a command, and
    server owners can change who sees it.
    """
    user = interaction.user
    if not isinstance(user, discord.Member):
        return False
    if interaction.permissions.manage_guild:
        return True
    return any(role.id in admin_role_ids for role in user.roles)


class Admin(commands.Cog):
    def __init__(self, bot: BylineBot) -> None:
        self.bot = bot
        self._progress: BuildProgress | None = None

    def is_admin(self, interaction: discord.Interaction) -> bool:
        return is_admin(interaction, self.bot.settings.admin_role_ids)

    @app_commands.command(name="reindex", description="Rebuild the index from the corpus (admins only).")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def reindex(self, interaction: discord.Interaction) -> None:
        if not self.is_admin(interaction):
            await tell(interaction, NOT_ADMIN)
            return
        jobs = self.bot.index_jobs
        running = jobs.running(interaction.guild_id)
        if running is not None:
            await tell(interaction, f"{running[0].upper()}{running[1:]} is still running; wait for it to finish.")
            return
        self._progress = None
        async with jobs.turn(Job("a reindex", interaction.guild_id, interaction.user.display_name)):
            await interaction.response.defer(thinking=True)
            message = await interaction.followup.send("Reindexing: reading the corpus…", wait=True)
            outcome = await self._run_with_progress(message)
            await message.edit(content=None, embed=_report_embed(outcome))

    async def _run_with_progress(self, message: discord.WebhookMessage) -> ReindexOutcome:
        build = asyncio.ensure_future(self.bot.in_index_thread(self.bot.service.reindex, self._record_progress))
        shown: BuildProgress | None = None
        while not build.done():
            await asyncio.wait({build}, timeout=PROGRESS_EDIT_SECONDS)
            progress = self._progress
            if progress is not None and progress != shown and not build.done():
                shown = progress
                await message.edit(content=_progress_line(progress))
        return build.result()

    def _record_progress(self, progress: BuildProgress) -> None:
        """Called from the index thread; the event loop reads the latest value."""
        self.bot.index_jobs.check_cancelled()
        self._progress = progress

    @app_commands.command(
        name="status", description="Whether Byline is ready, what is indexed, the feeds, feedback and reindexing."
    )
    async def status(self, interaction: discord.Interaction) -> None:
        tenant = str(interaction.guild_id or "")
        embed = discord.Embed(title="Byline status", colour=ACCENT)
        status: IndexStatus | None = None
        try:
            status = await self.bot.in_question_thread(self.bot.service.status, tenant=tenant)
        except BylineError as error:  # the bot still answers /status (and /reindex) without an index
            embed.add_field(name="Ready", value=_readiness(self.bot.warm_up, error), inline=False)
        else:
            embed.add_field(name="Ready", value=_readiness(self.bot.warm_up, None), inline=False)
            embed.add_field(name="Articles", value=f"{status.articles:,}")
            embed.add_field(name="Chunks", value=f"{status.chunks:,}")
            embed.add_field(name="Outlets", value=f"{status.outlets:,}")
            embed.add_field(name="Model", value=shorten(safe(status.model), 1024), inline=False)
            embed.add_field(name="Index built", value=status.built_at, inline=False)
        ingest = self.bot.ingest
        overview = await self.bot.in_question_thread(ingest.overview, tenant) if ingest is not None else None
        scheduled = ingest is not None and ingest.feeds_settings.interval_minutes > 0
        newest = status.newest_article if status else None
        for name, value in status_feed_fields(overview, newest, self.bot.next_feed_check, scheduled):
            embed.add_field(name=name, value=value)
        embed.add_field(name="Feedback", value=await self._feedback_counts(tenant))
        running = self.bot.index_jobs.running(interaction.guild_id)
        embed.add_field(name="Reindex running", value=f"Yes: {safe(running)}" if running else "No", inline=False)
        await interaction.response.send_message(embed=embed)

    async def _feedback_counts(self, tenant: str) -> str:
        """This server's 👍 and 👎 votes on answers."""
        try:
            counts = await self.bot.in_question_thread(self.bot.service.answers.counts, tenant)
        except BylineError as error:
            return shorten(safe(f"unavailable: {error}"), 1024)
        return f"👍 {counts.up:,} · 👎 {counts.down:,}"

    @app_commands.command(name="sources", description="The indexed articles, newest first.")
    async def sources(self, interaction: discord.Interaction) -> None:
        articles = await self.bot.in_question_thread(self.bot.service.sources, tenant=str(interaction.guild_id or ""))
        pages = max(1, math.ceil(len(articles) / SOURCES_PAGE_SIZE))

        def render(page: int) -> discord.Embed:
            shown = articles[page * SOURCES_PAGE_SIZE : (page + 1) * SOURCES_PAGE_SIZE]
            lines = [_source_line(a) for a in shown]
            embed = discord.Embed(
                title=f"Indexed articles ({len(articles):,})",
                colour=ACCENT,
                description=shorten("\n".join(lines) or "No articles.", DESCRIPTION_LIMIT),
            )
            embed.set_footer(text=f"Page {page + 1} of {pages}")
            return embed

        view = PagedView(render, pages, interaction.user.id) if pages > 1 else discord.utils.MISSING
        await interaction.response.send_message(embed=render(0), view=view)


def _readiness(warm_up: WarmUp | None, error: BylineError | None) -> str:
    """Loading (the model and index load before the bot connects, so seldom seen), ready, or why not."""
    if warm_up is None:
        return "Not yet: loading the model and the index…"
    if error is not None:
        return shorten(f"No: the index is unavailable. {safe(user_message(error) or str(error))}", 1024)
    return f"Yes: the model and the index were loaded at start ({warm_up.seconds:.1f} s)"


def _source_line(article: Article) -> str:
    title = shorten(safe(article.title or article.id), 150)
    headline = f"[{title}](<{article.url}>)" if article.url.startswith(("https://", "http://")) else title
    details = " · ".join(safe(part) for part in dict.fromkeys((source_name(article), article.author.strip())) if part)
    return f"`{article.date_label or 'undated'}` {headline}" + (f" — {details}" if details else "")


def _progress_line(build: BuildProgress) -> str:
    return (
        f"Reindexing: {progress(build.articles_done, build.articles_total, 'article')}, "
        f"{progress(build.chunks_done, build.chunks_total, 'chunk')} "
        f"({build.chunks_per_second:.1f} chunks/s, {build.articles_per_second:.1f} articles/s)"
    )


def _report_embed(outcome: ReindexOutcome) -> discord.Embed:
    report = outcome.report
    embed = discord.Embed(
        title="Reindex finished",
        colour=ACCENT,
        description=f"{counted(report.articles, 'article')}, {counted(report.chunks, 'chunk')}, in {report.seconds:.1f} s.",
    )
    for label, ids in (("Added", report.added), ("Changed", report.changed), ("Removed", report.removed)):
        embed.add_field(name=f"{label} ({len(ids)})", value=_id_list(ids), inline=False)
    embed.add_field(name="Unchanged", value=f"{report.unchanged:,}", inline=True)
    embed.add_field(name="Chunks embedded", value=f"{report.chunks_embedded:,}", inline=True)
    if outcome.skipped:
        embed.add_field(
            name=f"Skipped files ({len(outcome.skipped)})",
            value=_id_list([str(s) for s in outcome.skipped]),
            inline=False,
        )
    if outcome.notes:
        embed.add_field(
            name=f"Kept with notes ({len(outcome.notes)})",
            value=_id_list([str(n) for n in outcome.notes]),
            inline=False,
        )
    return embed


def _id_list(items: list[str]) -> str:
    if not items:
        return "none"
    text = ", ".join(safe(i) for i in items[:20]) + (f" and {len(items) - 20} more" if len(items) > 20 else "")
    return shorten(text, 1024)


async def setup(bot: BylineBot) -> None:
    await bot.add_cog(Admin(bot))
