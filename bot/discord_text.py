"""What people type in Discord, as the plain text the core expects.

Discord's own syntax becomes what a reader sees: user, role and channel mentions their names (the
bot's own mention nothing), custom emoji their :name:, timestamps their date, command mentions
/name; spoilers, emphasis, inline code, masked links, quotes and headings lose their markup and keep
their words. Everything else (invisible characters, length, words) is the core's cleaning.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timezone

import discord

_TOKEN = re.compile(
    r"<@!?(?P<user>\d{1,20})>"
    r"|<@&(?P<role>\d{1,20})>"
    r"|<#(?P<channel>\d{1,20})>"
    r"|<a?:(?P<emoji>\w{1,32}):\d{1,20}>"
    r"|<t:(?P<time>-?\d{1,20})(?::[tTdDfFRsS])?>"
    r"|</(?P<command>[-_\w ]{1,100}):\d{1,20}>"
)
_MASKED_LINK = re.compile(r"\[([^\[\]\n]+)\]\(<?(?:https?://|mailto:)[^()\s>]+>?\)")
# The text inside markup never contains its own marker: each match ends at the next marker, so
# the cost stays linear in the length of the text whatever it holds.
_PAIRED = re.compile(r"(\|\||\*\*|__|~~)(?=\S)((?:(?!\1).)+?)(?<=\S)\1", re.S)
_EMPHASIS = re.compile(r"(?<![\w*_])([*_])(?=[^\s*_])((?:(?!\1)[^\n])+?)(?<=[^\s*_])\1(?![\w*_])")
_CODE = re.compile(r"```(?:[\w+-]{1,20}\n)?|`")
_LINE_MARKUP = re.compile(r"^[ \t]*(?:>>>|>|#{1,3}|-#|[-*])[ \t]+", re.M)
_ESCAPED = re.compile(r"\\([*_~|`>#\[\]()\\-])")
# An escaped markup character stands in as a private-use character until the markup is gone.
_ESCAPABLE = "*_~|`>#[]()\\-"
_HIDE = {ord(ch): chr(0xF0000 + i) for i, ch in enumerate(_ESCAPABLE)}
_SHOW = {ord(hidden): ch for ch, hidden in zip(_ESCAPABLE, _HIDE.values())}


def plain_question(
    text: str, guild: discord.Guild | None, bot_id: int | None, mentioned: Iterable[discord.abc.User] = ()
) -> str:
    """`text` without Discord syntax; `mentioned` resolves user mentions the guild's cache does not know."""
    users = {user.id: user for user in mentioned}
    text = _ESCAPED.sub(lambda match: match.group(1).translate(_HIDE), text)
    text = _TOKEN.sub(lambda match: _token_text(match, guild, bot_id, users), text)
    text = _MASKED_LINK.sub(r"\1", text)
    text = _CODE.sub(" ", text)
    for _ in range(3):  # nested markup, e.g. **__word__**
        text = _EMPHASIS.sub(r"\2", _PAIRED.sub(r"\2", text))
    text = _LINE_MARKUP.sub("", text)
    return text.translate(_SHOW).strip()


def _token_text(
    match: re.Match[str], guild: discord.Guild | None, bot_id: int | None, users: dict[int, discord.abc.User]
) -> str:
    kind = match.lastgroup
    value = match.group(kind or 0)
    if kind == "user":
        if int(value) == bot_id:
            return " "
        user = users.get(int(value)) or (guild.get_member(int(value)) if guild else None)
        return f"@{user.display_name}" if user else " "
    if kind == "role":
        role = guild.get_role(int(value)) if guild else None
        return f"@{role.name}" if role else " "
    if kind == "channel":
        channel = guild.get_channel_or_thread(int(value)) if guild else None
        return f"#{channel.name}" if channel else " "
    if kind == "emoji":
        return f":{value}:"
    if kind == "time":
        return _own_word(_day(int(value)), match)
    return f"/{value}"  # a command mention


def _own_word(text: str, match: re.Match[str]) -> str:
    """`text` in place of `match`, with a space on a side where a word touches it."""
    before = match.string[match.start() - 1 : match.start()]
    after = match.string[match.end() : match.end() + 1]
    return f"{' ' if _in_word(before) else ''}{text}{' ' if _in_word(after) else ''}"


def _in_word(ch: str) -> bool:
    return bool(ch) and unicodedata.category(ch)[0] in "LNM"  # letters, digits and combining marks


def _day(timestamp: int) -> str:
    try:
        return datetime.fromtimestamp(timestamp, tz=timezone.utc).date().isoformat()
    except (OverflowError, OSError, ValueError):
        return " "
