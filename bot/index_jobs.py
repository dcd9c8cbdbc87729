"""One index-changing job at a time in the bot: a reindex, a feed check, added links, feeds or files.

Questions keep being answered from the served index meanwhile (they never wait here). A job that finds
another one running either waits its turn (adding, removing, feed checks) or is refused (a reindex), and
the user is told what it waits for; a job started in another server is named without its starter, so one
server learns nothing about another's people. At shutdown `cancel()` makes the running job stop at its
next progress report (a build stops before its next batch and the last good index keeps serving).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass


class JobCancelled(Exception):
    """The bot is shutting down; the job stops at its next progress report."""


@dataclass(frozen=True)
class Job:
    """What runs: `what` reads as a noun phrase ("a reindex"); guild_id None for the bot's own jobs."""

    what: str
    guild_id: int | None = None
    started_by: str = ""

    def described_to(self, guild_id: int | None) -> str:
        """The job in words for someone in `guild_id`: who started it only when that is their own server."""
        if self.started_by and guild_id is not None and guild_id == self.guild_id:
            return f"{self.what} started by {self.started_by}"
        return self.what


class IndexJobs:
    """Runs index-changing jobs one at a time, in the order they asked."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._cancelled = threading.Event()
        self.current: Job | None = None

    @property
    def busy(self) -> bool:
        """A job runs, or waits to run."""
        return self.current is not None or self._waiting > 0 or self._lock.locked()

    def running(self, guild_id: int | None) -> str | None:
        """The running job as `guild_id` may be told about it, or None."""
        job = self.current
        if job is not None:
            return job.described_to(guild_id)
        return "another job" if self.busy else None

    @asynccontextmanager
    async def turn(self, job: Job) -> AsyncIterator[None]:
        """Wait until no other job runs, then run `job` inside the block."""
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        self.current = job
        try:
            yield
        finally:
            self.current = None
            self._lock.release()

    def check_cancelled(self) -> None:
        """Called by jobs from their worker threads at each progress report."""
        if self._cancelled.is_set():
            raise JobCancelled("the bot is shutting down")

    def cancel(self) -> None:
        self._cancelled.set()
