"""Buttons under answers and lists; their errors go to the shared error handler.

An answer's buttons (More sources, 👍, 👎) are persistent: discord.ui.DynamicItem classes whose custom ids
carry the answer's id (`byline:more:<id>:<page>`, `byline:vote:up|down:<id>`). Any run of the bot
recognises them (they are registered in setup_hook), and what they need is read from the answer store
(bot/answer_store.py), never from memory: they keep working across restarts and for as long as the answer
is kept. The store is read off the event loop but not behind questions being answered (a click must be
answered within three seconds, and a store read takes milliseconds). A click on an answer that is no longer kept says so privately and disables that message's
buttons; an answer is only ever read in the server it was given in.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.answer_model import Answer
from bot.answer_store import AnswerGoneError, StoredAnswer, Vote, VoteOutcome
from bot.exts.errors import report
from bot.render_discord import more_sources_embed, more_sources_pages

if TYPE_CHECKING:
    from bot.discord_bot import BylineBot

VIEW_TIMEOUT = 15 * 60
_ANSWER_ID = r"(?P<answer>[0-9a-f]{16})"
VOTE_WORDS = {Vote.UP: "helpful", Vote.DOWN: "not helpful"}
VOTE_EMOJI = {Vote.UP: "👍", Vote.DOWN: "👎"}


class ReportingView(discord.ui.View):
    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]) -> None:
        await report(interaction, error)


def answer_view(answer: Answer) -> discord.ui.View:
    """The buttons under an answer: More sources (when passages beyond the cited ones were found), 👍 and 👎."""
    view = discord.ui.View(timeout=None)
    if more_sources_pages(answer):
        view.add_item(MoreSourcesButton(answer.answer_id))
    view.add_item(VoteButton(answer.answer_id, Vote.UP))
    view.add_item(VoteButton(answer.answer_id, Vote.DOWN))
    return view


def _bot(interaction: discord.Interaction) -> BylineBot:
    return cast("BylineBot", interaction.client)


def _tenant(interaction: discord.Interaction) -> str:
    """Who may read an answer: the server it was given in ("" outside servers), as /ask asks."""
    return str(interaction.guild_id or "")


async def _stored_answer(interaction: discord.Interaction, answer_id: str) -> StoredAnswer | None:
    """The kept answer for this click, or None once the user was told it is gone (and its buttons disabled)."""
    answers = _bot(interaction).service.answers
    try:
        return await asyncio.to_thread(answers.answer_for, answer_id, _tenant(interaction))
    except AnswerGoneError as gone:
        await _retire_buttons(interaction, str(gone))
        return None


async def _retire_buttons(interaction: discord.Interaction, message: str) -> None:
    """Disable every button of the clicked message, then tell the user why, privately."""
    if interaction.message is None:
        await interaction.response.send_message(message, ephemeral=True)
        return
    view = discord.ui.View.from_message(interaction.message, timeout=None)
    for item in view.children:
        if isinstance(item, discord.ui.Button) and item.url is None:
            item.disabled = True
    view.stop()  # nothing to listen for: its buttons are disabled
    await interaction.response.edit_message(view=view)
    await interaction.followup.send(message, ephemeral=True)


class MoreSourcesButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"byline:more:{_ANSWER_ID}:(?P<page>\d{{1,3}})"
):
    """Page `page` of the passages retrieved beyond the cited ones, privately: the answer's button opens
    page 1 in a private message, whose Previous / Next buttons turn its pages."""

    def __init__(self, answer_id: str, page: int = 0, label: str = "More sources") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.secondary, custom_id=f"byline:more:{answer_id}:{page}"
            )
        )
        self.answer_id = answer_id
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> MoreSourcesButton:
        return cls(match["answer"], int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self._show(interaction)
        except Exception as error:  # noqa: BLE001 - every failure is told to the user; bugs are logged
            await report(interaction, error)

    async def _show(self, interaction: discord.Interaction) -> None:
        stored = await _stored_answer(interaction, self.answer_id)
        if stored is None:
            return
        embed = more_sources_embed(stored.answer, self.page)
        if embed is None:
            await interaction.response.send_message("No more sources for this question.", ephemeral=True)
            return
        view = _page_buttons(stored.answer, self.page)
        on_private_page = interaction.message is not None and interaction.message.flags.ephemeral
        if on_private_page:
            await interaction.response.edit_message(embed=embed, view=view)
        else:
            await interaction.response.send_message(embed=embed, view=view, ephemeral=True)


def _page_buttons(answer: Answer, page: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if page > 0:
        view.add_item(MoreSourcesButton(answer.answer_id, page - 1, label="Previous"))
    if page + 1 < more_sources_pages(answer):
        view.add_item(MoreSourcesButton(answer.answer_id, page + 1, label="Next"))
    return view


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"byline:vote:(?P<vote>up|down):{_ANSWER_ID}"
):
    """👍 or 👎 on an answer: one vote per user per answer, changed by clicking the other button."""

    def __init__(self, answer_id: str, vote: Vote) -> None:
        super().__init__(
            discord.ui.Button(
                emoji=VOTE_EMOJI[vote],
                style=discord.ButtonStyle.secondary,
                custom_id=f"byline:vote:{vote.value}:{answer_id}",
            )
        )
        self.answer_id = answer_id
        self.vote = vote

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> VoteButton:
        return cls(match["answer"], Vote(match["vote"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self._record(interaction)
        except Exception as error:  # noqa: BLE001 - every failure is told to the user; bugs are logged
            await report(interaction, error)

    async def _record(self, interaction: discord.Interaction) -> None:
        answers = _bot(interaction).service.answers
        try:
            outcome = await asyncio.to_thread(
                answers.vote, self.answer_id, _tenant(interaction), interaction.user.id, self.vote
            )
        except AnswerGoneError as gone:
            await _retire_buttons(interaction, str(gone))
            return
        await interaction.response.send_message(vote_reply(outcome), ephemeral=True)


def vote_reply(outcome: VoteOutcome) -> str:
    """What the voter is told, privately."""
    words = VOTE_WORDS[outcome.vote]
    if outcome.previous is None:
        other = VOTE_EMOJI[Vote.DOWN if outcome.vote is Vote.UP else Vote.UP]
        return f"Thanks: you marked this answer {words}. Click {other} to change your vote."
    if outcome.previous is outcome.vote:
        return f"You marked this answer {words} already; your vote stays."
    return f"Changed your vote: this answer is {words}."


PERSISTENT_BUTTONS = (MoreSourcesButton, VoteButton)


class PagedView(ReportingView):
    """Previous / Next buttons over pages rendered by `render(page)`."""

    def __init__(self, render: Callable[[int], discord.Embed], pages: int, owner_id: int) -> None:
        super().__init__(timeout=VIEW_TIMEOUT)
        self.render = render
        self.pages = pages
        self.page = 0
        self.owner_id = owner_id
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1

    async def _show(self, interaction: discord.Interaction, page: int) -> None:
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(
                "Run the command yourself to page through the list.", ephemeral=True
            )
            return
        self.page = max(0, min(page, self.pages - 1))
        self._update_buttons()
        await interaction.response.edit_message(embed=self.render(self.page), view=self)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._show(interaction, self.page + 1)
