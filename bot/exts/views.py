"""Buttons under answers and lists; their errors go to the shared error handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import discord

from bot.answer_model import Answer
from bot.exts.errors import report
from bot.render_discord import more_sources_embed

VIEW_TIMEOUT = 15 * 60


class ReportingView(discord.ui.View):
    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]) -> None:
        await report(interaction, error)


class AnswerView(ReportingView):
    """A "More sources" button that shows each user the next retrieved passages, privately."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(timeout=VIEW_TIMEOUT)
        self.answer = answer
        self._pages: dict[int, int] = {}
        if more_sources_embed(answer, 0) is None:
            self.remove_item(self.more_sources)

    @discord.ui.button(label="More sources", style=discord.ButtonStyle.secondary)
    async def more_sources(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        page = self._pages.get(interaction.user.id, 0)
        embed = more_sources_embed(self.answer, page)
        if embed is None:
            await interaction.response.send_message("No more sources for this question.", ephemeral=True)
            return
        self._pages[interaction.user.id] = page + 1
        await interaction.response.send_message(embed=embed, ephemeral=True)


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
