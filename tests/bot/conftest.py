"""Fixtures for bot tests: a fake Discord on 127.0.0.1 with discord.py pointed at it.

No pytest-asyncio: each test gets its own event loop (``discord_loop``); the server is
started on it, and the test runs its async body with ``run(coro)`` on that same loop::

    def test_something(discord_server, run):
        async def scenario():
            async with running_bot(make_bot(), discord_server):
                record = await discord_server.send_interaction("ping")
                await discord_server.wait_for_request("POST", rf"/interactions/{record.id}/.+/callback")
        run(scenario())

Override ``discord_config`` in a test module (or parametrize it) to change the fake world.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

# tests/ has no __init__.py; make ``tests.discord_server`` importable however pytest is launched.
_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from tests.discord_server import (  # noqa: E402
    DiscordServerConfig,
    DiscordTestServer,
    capture_discord_errors,
    discord_py_pointed_at,
)

T = TypeVar("T")


async def _cancel_leftover_tasks() -> None:
    """E.g. discord.ui.View timeout tasks outlive ``bot.close()``; end them quietly."""
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


@pytest.fixture
def discord_config() -> DiscordServerConfig:
    """The fake guild, users, token and heartbeat interval; override to customise."""
    return DiscordServerConfig()


@pytest.fixture
def discord_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh event loop per test, shared by the server and the test body."""
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.run_until_complete(_cancel_leftover_tasks())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@pytest.fixture
def run(discord_loop: asyncio.AbstractEventLoop) -> Callable[..., Any]:
    """``run(coro, timeout=30)`` runs a coroutine to completion on the test's loop."""

    def runner(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return discord_loop.run_until_complete(asyncio.wait_for(coro, timeout))

    return runner


@pytest.fixture
def discord_server(
    discord_config: DiscordServerConfig, discord_loop: asyncio.AbstractEventLoop
) -> Iterator[DiscordTestServer]:
    """A started :class:`DiscordTestServer`, with discord.py pointed at it for the test.

    discord.py's ERROR logs are collected into ``server.client_errors`` (checked by
    ``server.assert_clean()``).
    """

    async def create() -> DiscordTestServer:  # built inside the loop: asyncio objects bind to it
        server = DiscordTestServer(discord_config)
        await server.start()
        return server

    server = discord_loop.run_until_complete(create())
    try:
        with discord_py_pointed_at(server), capture_discord_errors(server):
            yield server
    finally:
        discord_loop.run_until_complete(server.stop())
