"""Run the bot until Discord closes it, SIGTERM or Ctrl-C; always close the connection cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal

import aiohttp
import discord

from bot.discord_bot import create_bot
from bot.service import Byline
from bot.settings import DiscordSettings

log = logging.getLogger("bot")


def serve(service: Byline, settings: DiscordSettings) -> int:
    """Connect and serve; returns the process exit code."""
    discord.utils.setup_logging(level=logging.INFO)
    return asyncio.run(serve_until_stopped(service, settings))


async def serve_until_stopped(service: Byline, settings: DiscordSettings) -> int:
    bot = create_bot(service, settings)
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
    except discord.HTTPException as error:
        log.error("%s", refusal_line(error, logged_in=bot.user is not None))
        return 1
    except (aiohttp.ClientError, OSError) as error:
        log.error("Could not reach Discord (%s). Check the network connection and try again.", error)
        return 1
    except discord.PrivilegedIntentsRequired:
        log.error(
            "BYLINE_DISCORD_MESSAGE_CONTENT is true but the Message Content intent is off in the developer portal."
        )
        return 2
    except discord.ConnectionClosed as error:
        log.error("Discord closed the connection (code %s: %s).", error.code, error.reason or "no reason given")
        return 1
    return 0


def refusal_line(error: discord.HTTPException, logged_in: bool) -> str:
    """An HTTP error answered while starting, as one line with what to do about it."""
    detail = " ".join((error.text or getattr(error.response, "reason", "") or "no details").split())[:200]
    stage = "Discord refused a request while the bot started" if logged_in else "Could not log in to Discord"
    what = f"{stage}: HTTP {error.status} ({detail})"
    if error.status == 429:
        return f"{what}. Discord is rate-limiting this bot or its network; wait a while before starting again."
    if error.status >= 500:
        return f"{what}. Discord is having trouble; try again later."
    if logged_in and error.status in (403, 404):
        return f"{what}. Check that BYLINE_DISCORD_GUILD_ID is a server the bot was invited to (see the README)."
    return f"{what}. Check the bot's application in the developer portal (see the README)."
