"""Questions: the /ask command, and mentions answered in a thread with follow-ups in context."""

from __future__ import annotations

import logging
import re

import discord
from discord import app_commands
from discord.ext import commands

from bot.answer_model import Answer
from bot.discord_bot import BylineBot
from bot.exts.errors import APOLOGY, tell, user_message
from bot.exts.views import AnswerView
from bot.render_discord import answer_embed, plain, shorten
from bot.settings import parse_day

log = logging.getLogger(__name__)

THREAD_NAME_LIMIT = 100
HOW_TO_ASK = "Ask me a question after the mention, e.g. “@Byline what did Baqeri propose?”"


class Questions(commands.Cog):
    def __init__(self, bot: BylineBot) -> None:
        self.bot = bot
        settings = bot.settings
        self.cooldowns: commands.CooldownMapping[discord.abc.User] = commands.CooldownMapping(
            commands.Cooldown(settings.cooldown_questions, settings.cooldown_seconds), lambda user: user.id
        )

    def retry_after(self, user: discord.abc.User) -> float | None:
        """Seconds until `user` may ask again, or None when the question may go ahead (and is counted)."""
        bucket = self.cooldowns.get_bucket(user)
        return bucket.update_rate_limit() if bucket is not None else None

    def channel_allowed(self, channel: discord.abc.Snowflake | None) -> bool:
        allowed = self.bot.settings.channel_ids
        if not allowed or channel is None:
            return not allowed
        parent_id = getattr(channel, "parent_id", None)
        return channel.id in allowed or parent_id in allowed

    @app_commands.command(name="ask", description="Ask about the news coverage; the answer cites its sources.")
    @app_commands.describe(
        question="Your question, e.g. What did Baqeri propose?",
        outlet="Only use articles from this outlet",
        since="Only articles published on or after this date (YYYY-MM-DD)",
        until="Only articles published on or before this date (YYYY-MM-DD)",
    )
    async def ask(
        self,
        interaction: discord.Interaction,
        question: str,
        outlet: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> None:
        if not self.channel_allowed(interaction.channel):
            await tell(interaction, "I don't answer questions in this channel.")
            return
        # Cheap checks first, while an ephemeral reply is still possible.
        question = self.bot.service.clean_question(question)
        since_day, until_day = parse_day(since, "since"), parse_day(until, "until")
        wait = self.retry_after(interaction.user)
        if wait:
            await tell(interaction, f"You're asking quickly: try again in {wait:.0f} s.")
            return
        await interaction.response.defer(thinking=True)
        answer = await self.bot.in_question_thread(
            self.bot.service.ask,
            question,
            outlet=outlet,
            since=since_day,
            until=until_day,
            tenant=str(interaction.guild_id or ""),  # this server's articles and the shared ones only
        )
        await interaction.followup.send(embed=answer_embed(answer), view=AnswerView(answer), wait=True)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.guild is None or self.bot.user is None:
            return
        in_own_thread = isinstance(message.channel, discord.Thread) and message.channel.owner_id == self.bot.user.id
        mentioned = self.bot.user in message.mentions
        if not (mentioned or (in_own_thread and self.bot.intents.message_content)):
            return
        if not self.channel_allowed(message.channel):
            return
        try:
            await self._answer_message(message, in_own_thread, self.bot.user.id)
        except Exception as error:  # noqa: BLE001 - every failure gets a reply, bugs a traceback too
            text = user_message(error)
            if text is None:
                log.error("Unexpected error answering message %s", message.id, exc_info=error)
            await message.reply(plain(text or APOLOGY), mention_author=False)

    async def _answer_message(self, message: discord.Message, in_own_thread: bool, bot_id: int) -> None:
        question = _without_bot_mention(message.content, bot_id)
        if not question.strip():
            await message.reply(HOW_TO_ASK, mention_author=False)
            return
        question = self.bot.service.clean_question(question)
        wait = self.retry_after(message.author)
        if wait:
            await message.reply(f"You're asking quickly: try again in {wait:.0f} s.", mention_author=False)
            return
        thread: discord.abc.Messageable
        context: str | None
        if in_own_thread and isinstance(message.channel, discord.Thread):
            thread, context = message.channel, message.channel.name
        elif isinstance(message.channel, discord.TextChannel):
            thread, context = await message.create_thread(name=_thread_name(question)), None
        else:
            thread, context = message.channel, None
        async with thread.typing():
            answer: Answer = await self.bot.in_question_thread(
                self.bot.service.ask, question, context=context, tenant=str(message.guild.id)
            )
        await thread.send(embed=answer_embed(answer), view=AnswerView(answer))


def _without_bot_mention(content: str, bot_id: int) -> str:
    return re.sub(rf"<@!?{bot_id}>", " ", content).strip()


def _thread_name(question: str) -> str:
    """The thread is named after the question: follow-ups read it back as their context."""
    return shorten(question, THREAD_NAME_LIMIT) or "Byline answer"


async def setup(bot: BylineBot) -> None:
    await bot.add_cog(Questions(bot))
