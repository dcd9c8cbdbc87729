"""Run the bot until Discord closes it, SIGTERM or Ctrl-C; always close the connection cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal

import aiohttp
import discord

from bot.discord_bot import BylineBot
from bot.service import Byline
from bot.settings import DiscordSettings

log = logging.getLogger("bot")


def serve(service: Byline, settings: DiscordSettings) -> int:
    """Connect and serve; returns the process exit code."""
    discord.utils.setup_logging(level=logging.INFO)
    return asyncio.run(serve_until_stopped(service, settings))


async def serve_until_stopped(service: Byline, settings: DiscordSettings) -> int:
    bot = BylineBot(service, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with bot:
        token = settings.token.get_secret_value() if settings.token is not None else ""
        connection = asyncio.create_task(bot.start(token))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({connection, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stopping.done():
            log.info("Shutting down: closing the Discord connection")
        await bot.close()
        stopping.cancel()
    try:
        connection.result() if connection.done() else await connection
    except discord.LoginFailure:
        log.error("Discord rejected the bot token (BYLINE_DISCORD_TOKEN): reset it in the developer portal.")
        return 2
    except (aiohttp.ClientError, OSError) as error:
        log.error("Could not reach Discord (%s). Check the network connection and try again.", error)
        return 1
    except discord.PrivilegedIntentsRequired:
        log.error(
            "BYLINE_DISCORD_MESSAGE_CONTENT is true but the Message Content intent is off in the developer portal."
        )
        return 2
    return 0
