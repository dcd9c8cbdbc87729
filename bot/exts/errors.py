"""One place that turns exceptions from commands and buttons into short messages for the user."""

from __future__ import annotations

import logging

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from corpus.errors import BylineError, Remedy

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong while handling that. The error has been logged."
# What sending a reply can fail with: Discord refusing it, or the network failing on the way.
REPLY_FAILURES = (discord.HTTPException, aiohttp.ClientError, OSError)


REMEDIES = {
    Remedy.REINDEX: "An admin can run /reindex to rebuild it.",
    Remedy.RETRY_LATER: "Try again when it has finished.",
}


def user_message(error: BaseException) -> str | None:
    """What to tell the user about an expected error, in Discord's words; None for a bug."""
    if not isinstance(error, BylineError):
        return None
    remedy = REMEDIES.get(error.remedy)
    return f"{error} {remedy}" if remedy else str(error)


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
    except REPLY_FAILURES as failure:
        log.warning("Could not tell the user about an error in %s (%s)", _describe(interaction), failure)


def _describe(interaction: discord.Interaction) -> str:
    command = interaction.command.qualified_name if interaction.command else "a component"
    return f"/{command}" if interaction.command else command


class ErrorHandler(commands.Cog):
    """Installs itself as the command tree's error handler."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self._previous_handler = bot.tree.on_error
        bot.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]

    async def cog_unload(self) -> None:
        self.bot.tree.on_error = self._previous_handler  # type: ignore[method-assign]

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await report(interaction, getattr(error, "original", error))


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(ErrorHandler(bot))
