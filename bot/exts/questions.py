"""Questions: the /ask command, and mentions answered in a thread with follow-ups in context."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.answer_model import Answer
from bot.answer_store import AnswerStoreError
from bot.discord_bot import BylineBot
from bot.discord_text import plain_question
from bot.exts.errors import APOLOGY, REPLY_FAILURES, tell, user_message
from bot.exts.views import answer_view
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
        author="Only use articles by this author (part of the name will do)",
        since="Only articles published on or after this date (YYYY-MM-DD)",
        until="Only articles published on or before this date (YYYY-MM-DD)",
    )
    async def ask(
        self,
        interaction: discord.Interaction,
        question: str,
        outlet: str | None = None,
        author: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> None:
        if not self.channel_allowed(interaction.channel):
            await tell(interaction, "I don't answer questions in this channel.")
            return
        # Cheap checks first, while an ephemeral reply is still possible.
        bot_id = self.bot.user.id if self.bot.user else None
        question = self.bot.service.clean_question(plain_question(question, interaction.guild, bot_id))
        since_day, until_day = parse_day(since, "since"), parse_day(until, "until")
        wait = self.retry_after(interaction.user)
        if wait:
            await tell(interaction, f"You're asking quickly: try again in {wait:.0f} s.")
            return
        await interaction.response.defer(thinking=True)
        tenant = str(interaction.guild_id or "")  # this server's articles and the shared ones only
        answer = await self.bot.in_question_thread(
            self.bot.service.ask,
            question,
            outlet=outlet,
            since=since_day,
            until=until_day,
            tenant=tenant,
            author=author,
        )
        options = {"outlet": outlet, "author": author, "since": since, "until": until}
        view = await self._kept_answer_view(answer, tenant, options)
        await interaction.followup.send(embed=answer_embed(answer), view=view, wait=True)

    async def _kept_answer_view(self, answer: Answer, tenant: str, options: dict[str, str | None]) -> discord.ui.View:
        """The answer's buttons, once the answer is kept for them; none when it cannot be kept (a read-only
        index folder, say): buttons that could only fail are worse than none (MISSING: no view)."""
        given = {name: value for name, value in options.items() if value}
        try:
            await self.bot.in_question_thread(
                self.bot.service.answers.save, answer, tenant, given, self.bot.answer_retention
            )
        except AnswerStoreError as error:
            log.warning("Answer %s sent without buttons: %s", answer.answer_id, error)
            return discord.utils.MISSING
        return answer_view(answer)

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
            try:
                await message.reply(plain(text or APOLOGY), mention_author=False)
            except REPLY_FAILURES as failure:
                log.warning("Could not tell the author of message %s about an error (%s)", message.id, failure)

    async def _answer_message(self, message: discord.Message, in_own_thread: bool, bot_id: int) -> None:
        question = plain_question(message.content, message.guild, bot_id, message.mentions)
        if not question:
            await message.reply(HOW_TO_ASK, mention_author=False)
            return
        question = self.bot.service.clean_question(question)
        wait = self.retry_after(message.author)
        if wait:
            await message.reply(f"You're asking quickly: try again in {wait:.0f} s.", mention_author=False)
            return
        assert message.guild is not None  # on_message answers in servers only
        context = message.channel.name if in_own_thread and isinstance(message.channel, discord.Thread) else None
        thread = None if in_own_thread else await self._start_thread(message, question)
        where: discord.abc.Messageable = thread or message.channel
        async with where.typing():
            answer: Answer = await self.bot.in_question_thread(
                self.bot.service.ask, question, context=context, tenant=str(message.guild.id)
            )
        view = await self._kept_answer_view(answer, str(message.guild.id), {"context": context})
        if thread is None and not in_own_thread:
            await message.reply(embed=answer_embed(answer), view=view, mention_author=False)
        else:
            await where.send(embed=answer_embed(answer), view=view)

    async def _start_thread(self, message: discord.Message, question: str) -> discord.Thread | None:
        """A thread started from the question, or None where there can be none: the answer then replies in
        the channel (a channel without threads, or no Create Public Threads permission)."""
        channel = message.channel
        if not isinstance(channel, discord.TextChannel):
            return None
        me: discord.Member | None = channel.guild.me  # discord.py says Member; get_member() may give None
        if me is not None and not channel.permissions_for(me).create_public_threads:
            log.info("No permission to start threads in #%s: answering in the channel", channel.name)
            return None
        try:
            return await message.create_thread(name=_thread_name(question))
        except discord.HTTPException as error:
            log.warning("Could not start a thread in #%s (%s): answering in the channel", channel.name, error)
            return None


def _thread_name(question: str) -> str:
    """The thread is named after the question: follow-ups read it back as their context."""
    return shorten(question, THREAD_NAME_LIMIT) or "Byline answer"


async def setup(bot: BylineBot) -> None:
    await bot.add_cog(Questions(bot))
