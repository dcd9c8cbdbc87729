"""One place that turns exceptions from commands and buttons into short messages for the user."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.service import QuestionError
from bot.settings import SettingsError
from corpus.readers import EmptyCorpusError
from embeddings.indexer import IndexBusyError
from embeddings.store import IndexUnavailableError

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong while handling that. The error has been logged."


def user_message(error: BaseException) -> str | None:
    """What to tell the user about an expected error; None for a bug."""
    if isinstance(error, QuestionError | SettingsError | IndexBusyError):
        return str(error)
    if isinstance(error, IndexUnavailableError):
        return f"The index isn't available right now. {error}".replace(
            "Run `byline index` (or /reindex in Discord)", "An admin can run /reindex"
        )
    if isinstance(error, EmptyCorpusError):
        return f"The corpus has no articles to index: {error}"
    return None


async def tell(interaction: discord.Interaction, message: str) -> None:
    """An ephemeral reply, whether or not the interaction was answered already."""
    if interaction.response.is_done():
        await interaction.followup.send(message, ephemeral=True)
    else:
        await interaction.response.send_message(message, ephemeral=True)


async def report(interaction: discord.Interaction, error: BaseException) -> None:
    """Tell the user what went wrong; log bugs with their traceback."""
    message = user_message(error)
    if message is None:
        log.error("Unexpected error in %s", _describe(interaction), exc_info=error)
        message = APOLOGY
    try:
        await tell(interaction, message[:2000])
    except discord.HTTPException:
        log.warning("Could not tell the user about an error in %s", _describe(interaction))


def _describe(interaction: discord.Interaction) -> str:
    command = interaction.command.qualified_name if interaction.command else "a component"
    return f"/{command}" if interaction.command else command


class ErrorHandler(commands.Cog):
    """Installs itself as the command tree's error handler."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        bot.tree.on_error = self.on_app_command_error

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await report(interaction, getattr(error, "original", error))


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(ErrorHandler(bot))
