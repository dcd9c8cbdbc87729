"""A small Discord-protocol server on 127.0.0.1 for testing a *real* discord.py bot offline.

The real ``discord.py`` client talks to this server over real sockets (aiohttp on an
ephemeral port).  It is pointed here only through discord.py's own two seams, see
:func:`discord_py_pointed_at`:

* ``discord.http.Route.BASE`` -- every REST call (the bot's ``HTTPClient`` *and* the
  interaction/follow-up webhook adapter) is built from it;
* ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (a ``yarl.URL``) -- a plain
  ``Client``/``Bot`` connects straight to it; only ``AutoShardedClient`` asks
  ``GET /gateway/bot`` first (answered too).

What is modelled (everything else is answered 404 and recorded in ``unknown_routes``):

Gateway (``ws://127.0.0.1:PORT/``, API v10, JSON encoding, no compression)
    discord.py always asks for ``compress=zlib-stream`` (``zstd-stream`` when zstandard is
    installed) in the query string; the server
    records the query and simply sends uncompressed TEXT frames, which discord.py
    accepts.  HELLO (configurable ``heartbeat_interval``); IDENTIFY (token checked,
    close 4004 otherwise) -> READY (user, application id/flags, session_id,
    ``resume_gateway_url`` = ``ws://127.0.0.1:PORT/resume``) then GUILD_CREATE for each
    configured guild (the main one, then ``other_guilds``: channels, roles, members incl. the bot member, owner_id,
    active threads; READY echoes IDENTIFY's ``shard`` for AutoShardedClient). Shards: each IDENTIFY's
    ``shard`` [id, count] gets its own session, whose READY and GUILD_CREATEs carry only the guilds that
    shard owns (Discord's rule: ``(guild_id >> 22) % count``); every later event of a guild goes to the
    session of the shard owning it (:func:`shard_of`);
    HEARTBEAT -> HEARTBEAT_ACK (every heartbeat's arrival time is
    recorded); RESUME -> replay of every event the client missed, then RESUMED (an
    unknown session gets INVALID_SESSION ``false``); REQUEST_GUILD_MEMBERS ->
    GUILD_MEMBERS_CHUNK.  Intents: MESSAGE_CREATE/UPDATE/DELETE are only sent with
    GUILD_MESSAGES, and without MESSAGE_CONTENT a message's content, embeds,
    attachments and components are blanked unless the bot wrote it or is mentioned.
    :meth:`DiscordTestServer.drop_connection` closes the socket (code 4000, or an
    abrupt abort) so the client resumes.  Dispatch helpers: MESSAGE_CREATE,
    application-command and message-component INTERACTION_CREATE, or any raw event.

REST (under ``http://127.0.0.1:PORT/api/v10``)
    ``GET /users/@me``, ``GET /oauth2/applications/@me``, ``GET /gateway``,
    ``GET /gateway/bot`` (recommending ``recommended_shards``); ``GET``/``PUT /applications/{app}/commands`` and
    ``/applications/{app}/guilds/{guild}/commands`` (bulk overwrite; ids kept per name);
    ``POST /interactions/{id}/{token}/callback`` (types 4, 5, 6, 7, 8, 9; ``?with_response``
    returns the interaction-callback object discord.py >= 2.5 expects); follow-ups
    ``POST /webhooks/{app}/{token}`` (the first one after a type-5 deferral resolves the
    loading message, as Discord does), ``GET``/``PATCH``/``DELETE
    /webhooks/{app}/{token}/messages/@original|{id}``; ``POST /channels/{id}/messages``,
    ``GET``/``PATCH``/``DELETE /channels/{id}/messages/{mid}``, ``POST
    /channels/{id}/messages/{mid}/threads`` (thread id == message id, THREAD_CREATE
    dispatched), ``POST /channels/{id}/threads``, ``PUT /channels/{id}/thread-members/@me``,
    ``POST /channels/{id}/typing``, ``GET /channels/{id}``.  REST calls other than
    webhooks/interaction callbacks must carry ``Authorization: Bot <token>`` (else 401).

Discord-side validation (HTTP 400 ``{"code": 50035, "message": "Invalid Form Body",
"errors": {...}}`` in Discord's nested error format unless noted)
    content <= 2000; <= 10 embeds; embed title 256, description 4096, <= 25 fields,
    field name 256 / value 1024 (both required), footer text 2048, author name 256,
    6000 characters in total across a message's embeds; <= 5 action rows, 1-5 buttons
    or a single select per row, button label <= 80, custom_id <= 100 and unique per
    message, link buttons need a url; empty messages (code 50006); thread names 1-100;
    command names/descriptions/option counts on sync; interactions answered twice
    (40060) or later than ``interaction_ack_deadline_s`` (404, 10062 Unknown
    interaction); follow-ups before any acknowledgement (404, 10015 Unknown Webhook).
    Every such rejection is appended to ``violations``.

Application commands: subcommands and groups (``send_interaction("feeds add", ...)``); attachment
options carry the attachment in ``resolved`` (:meth:`DiscordTestServer.attachment`), and its bytes are
served over HTTP at ``/ephemeral-attachments/{app}/{id}/{filename}`` as Discord's CDN serves uploads.

Permissions are reported (roles, the bot's channel overwrites, ``app_permissions``) and checked in
one place: starting a public thread needs Create Public Threads (403, 50013 Missing Permissions).
``DiscordServerConfig.bot_denied_permissions`` denies the bot permissions in every text channel,
as a member overwrite would.

Failures on demand: :meth:`DiscordTestServer.fail_requests` makes matching REST requests fail
with any status and body (e.g. a 503 at login, a Cloudflare 429, a 403 on thread creation) or
drops their connection without an answer (recorded with status 0). Injected failures are not
violations; they are listed in ``injected``.

Not modelled: rate limits, voice, DMs (everything happens in the configured guilds), presences, members beyond the
configured ones, ``resolved`` users/roles/channels, reactions, message history, permission checks
other than the one above.

Everything the server receives is recorded: REST requests (method, path, query, JSON
body, time, status, response) and gateway payloads, with matching/waiting helpers;
:func:`capture_discord_errors` adds discord.py's own ERROR logs (exceptions in commands,
views and events, which discord.py logs instead of raising).  ``assert_clean()`` fails on
any violation, unknown route, server error or captured discord.py error.
Snowflakes are generated increasingly and carry the current time, like Discord's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import IntEnum
from typing import Any, TypeVar

import discord
import yarl
from aiohttp import WSMsgType, web
from discord.gateway import DiscordWebSocket
from discord.http import Route

__all__ = [
    "DiscordServerConfig",
    "DiscordTestServer",
    "FakeUser",
    "GatewayFrame",
    "GuildSpec",
    "InteractionRecord",
    "RecordedRequest",
    "Violation",
    "capture_discord_errors",
    "discord_py_pointed_at",
    "running_bot",
    "second_guild",
    "shard_of",
    "validate_message",
]
ClientT = TypeVar("ClientT", bound=discord.Client)

API_VERSION = 10
DISCORD_EPOCH_MS = 1_420_070_400_000
JSON_HEADERS = {"Content-Type": "application/json"}  # exactly this: discord.py compares it verbatim

T = TypeVar("T")
Json = dict[str, Any]


class Op(IntEnum):
    """Gateway opcodes."""

    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class Intent:
    GUILDS = 1 << 0
    GUILD_MESSAGES = 1 << 9
    MESSAGE_CONTENT = 1 << 15


class Perm:
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    SEND_MESSAGES_IN_THREADS = 1 << 38
    ALL = (1 << 51) - 1


EVERYONE_PERMISSIONS = (
    Perm.ADD_REACTIONS
    | Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.CREATE_PUBLIC_THREADS
    | Perm.SEND_MESSAGES_IN_THREADS
)
MODERATOR_PERMISSIONS = Perm.MANAGE_MESSAGES | Perm.MANAGE_THREADS
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | MODERATOR_PERMISSIONS


ATTACHMENT_OPTION = 11  # application command option type


class InteractionType(IntEnum):
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class Callback(IntEnum):
    """Interaction callback (response) types."""

    CHANNEL_MESSAGE = 4
    DEFERRED_CHANNEL_MESSAGE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    AUTOCOMPLETE_RESULT = 8
    MODAL = 9


ALLOWED_CALLBACKS: dict[int, set[int]] = {
    InteractionType.APPLICATION_COMMAND: {4, 5, 9},
    InteractionType.MESSAGE_COMPONENT: {4, 5, 6, 7, 9},
    InteractionType.AUTOCOMPLETE: {8},
    InteractionType.MODAL_SUBMIT: {4, 5, 6, 7},
}

EPHEMERAL = 1 << 6
LOADING = 1 << 7
IS_COMPONENTS_V2 = 1 << 15


# --------------------------------------------------------------------------- ids & time


def _fixed_id(n: int) -> int:
    """A stable snowflake dated 2025-01-01, for configured users/channels/roles."""
    return ((1_735_689_600_000 - DISCORD_EPOCH_MS) << 22) + n


class SnowflakeFactory:
    """Strictly increasing snowflakes that embed the current time."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(candidate, self._last + 1)
        return self._last


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard that receives a guild's events, by Discord's rule."""
    return (guild_id >> 22) % shard_count


def _iso_now() -> str:
    return datetime.now(timezone.utc).isoformat()


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class FakeUser:
    """A user of the fake guild (a human, or the bot itself)."""

    id: int
    username: str
    bot: bool = False
    role_ids: tuple[int, ...] = ()

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> Json:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": None if self.bot else self.username.title(),
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


APPLICATION_ID = _fixed_id(1)
GUILD_ID = _fixed_id(2)
BOT_ROLE_ID = _fixed_id(3)
MODERATOR_ROLE_ID = _fixed_id(4)
SECOND_GUILD_ID = _fixed_id(5)


@dataclass(frozen=True)
class GuildSpec:
    """One guild the bot is in: its owner (who has every permission), other humans, channels and roles."""

    id: int
    name: str
    owner: FakeUser
    humans: tuple[FakeUser, ...] = ()
    text_channels: dict[str, int] = field(default_factory=dict)
    moderator_role_id: int = MODERATOR_ROLE_ID
    bot_role_id: int = BOT_ROLE_ID

    def users(self, bot_user: FakeUser) -> tuple[FakeUser, ...]:
        return (self.owner, *self.humans, bot_user)


def second_guild() -> GuildSpec:
    """Another server with its own people and channels (names unique across guilds), for tenancy tests."""
    return GuildSpec(
        id=SECOND_GUILD_ID,
        name="Other Test Guild",
        owner=FakeUser(_fixed_id(30), "owner-b"),
        humans=(FakeUser(_fixed_id(31), "reader-b"), FakeUser(_fixed_id(32), "moderator-b", role_ids=(_fixed_id(6),))),
        text_channels={"b-general": _fixed_id(40), "b-news": _fixed_id(41)},
        moderator_role_id=_fixed_id(6),
        bot_role_id=_fixed_id(7),
    )


@dataclass
class DiscordServerConfig:
    """Everything the server pretends exists.  All fields have test-friendly defaults."""

    token: str = "test-bot-token"
    heartbeat_interval_ms: int = 500
    interaction_ack_deadline_s: float = 3.0
    application_id: int = APPLICATION_ID
    bot_user: FakeUser = FakeUser(APPLICATION_ID, "byline", bot=True, role_ids=(BOT_ROLE_ID,))
    guild_id: int = GUILD_ID
    guild_name: str = "Byline Test Guild"
    owner: FakeUser = FakeUser(_fixed_id(10), "owner")
    humans: tuple[FakeUser, ...] = (
        FakeUser(_fixed_id(11), "reader"),
        FakeUser(_fixed_id(12), "moderator", role_ids=(MODERATOR_ROLE_ID,)),
    )
    text_channels: dict[str, int] = field(default_factory=lambda: {"general": _fixed_id(20), "news": _fixed_id(21)})
    attachment_size_limit: int = 10 * 1024 * 1024
    other_guilds: tuple[GuildSpec, ...] = ()  # more guilds the bot is in, e.g. (second_guild(),)
    recommended_shards: int = 1  # the "shards" GET /gateway/bot recommends (AutoShardedClient's default count)

    @property
    def guilds(self) -> tuple[GuildSpec, ...]:
        """The main guild (the fields above) first, then the others."""
        main = GuildSpec(self.guild_id, self.guild_name, self.owner, self.humans, self.text_channels)
        return (main, *self.other_guilds)

    bot_denied_permissions: int = 0  # denied to the bot in every text channel (a member overwrite)

    @property
    def users(self) -> tuple[FakeUser, ...]:
        """Everyone in any guild, the bot last."""
        humans = [user for guild in self.guilds for user in (guild.owner, *guild.humans)]
        return (*humans, self.bot_user)

    def guild(self, guild_id: int) -> GuildSpec:
        for guild in self.guilds:
            if guild.id == guild_id:
                return guild
        raise KeyError(f"no guild {guild_id}")


# --------------------------------------------------------------------------- records


@dataclass
class RecordedRequest:
    """One REST request as received, plus what the server answered."""

    method: str
    path: str  # relative to /api/v10, e.g. "/channels/123/messages"
    query: dict[str, str]
    json: Any
    files: list[str]
    time: float
    status: int | None = None  # 0: the connection was dropped without an answer (see fail_requests)
    response: Any = None
    injected: bool = False  # failed on purpose by fail_requests()


@dataclass
class InjectedFailure:
    """REST requests to fail on purpose: ``method`` and a path fully matching ``path_regex``."""

    method: str
    path_regex: str
    status: int | None  # the status to answer with; None drops the connection instead
    body: Any  # a JSON body, or a str sent as text/html (as Cloudflare does)
    times: int | None  # how many matching requests fail; None: all of them

    def matches(self, record: RecordedRequest) -> bool:
        return (
            (self.times is None or self.times > 0)
            and record.method == self.method
            and re.fullmatch(self.path_regex, record.path) is not None
        )


@dataclass
class GatewayFrame:
    """One gateway payload, received from the client or sent to it."""

    connection: int
    direction: str  # "received" | "sent"
    op: int
    event: str | None
    data: Any
    time: float


@dataclass
class Violation:
    """A request the server rejected the way Discord would."""

    method: str
    path: str
    status: int
    code: int
    message: str
    errors: Json | None
    body: Any
    note: str = ""  # server-side explanation, not sent to the client

    def __str__(self) -> str:
        detail = f" {self.errors}" if self.errors else ""
        note = f" ({self.note})" if self.note else ""
        return f"{self.method} {self.path} -> {self.status} {self.code} {self.message}{detail}{note}"


@dataclass
class InteractionRecord:
    """An interaction the server sent, and how the bot answered it."""

    payload: Json
    created_at: float
    callback_type: int | None = None
    acked_at: float | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    loading: bool = False  # a type-5 deferral not yet resolved by an edit or follow-up

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def token(self) -> str:
        return self.payload["token"]

    @property
    def ack_latency(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.created_at


@dataclass
class GatewayConnection:
    index: int
    path: str
    query: dict[str, str]
    ws: web.WebSocketResponse
    request: web.Request
    opened_at: float
    closed_at: float | None = None
    close_code: int | None = None
    session: GatewaySession | None = None


@dataclass
class GatewaySession:
    id: str
    intents: int
    shard: list[int]
    seq: int = 0
    events: list[Json] = field(default_factory=list)  # every dispatch, kept for RESUME replay
    connection: GatewayConnection | None = None


class ApiError(Exception):
    """Raised by handlers; becomes a Discord-style JSON error response."""

    def __init__(self, status: int, code: int, message: str, errors: Json | None = None, note: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors, self.note = status, code, message, errors, note

    def body(self) -> Json:
        body: Json = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


NO_CONTENT = object()


# --------------------------------------------------------------------------- validation


class FormErrors:
    """Collects field errors into Discord's nested ``{"a": {"0": {"_errors": [...]}}}`` shape."""

    def __init__(self) -> None:
        self.tree: Json = {}

    def add(self, path: Iterable[str | int], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: tuple[Any, ...], value: Any, limit: int) -> int:
        """Check ``len(value) <= limit``; returns the length counted (0 for None)."""
        length = len(value) if value is not None else 0
        if length > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
        return length

    def required(self, path: tuple[Any, ...], value: Any) -> None:
        if value is None or value == "":
            self.add(path, "BASE_TYPE_REQUIRED", "This field is required")

    def raise_if_any(self) -> None:
        if self.tree:
            raise ApiError(400, 50035, "Invalid Form Body", self.tree)


def _check_embeds(embeds: list[Json], errs: FormErrors) -> None:
    errs.max_length(("embeds",), embeds, 10)
    total = 0
    for i, embed in enumerate(embeds):
        at = ("embeds", i)
        total += errs.max_length((*at, "title"), embed.get("title"), 256)
        total += errs.max_length((*at, "description"), embed.get("description"), 4096)
        total += errs.max_length((*at, "footer", "text"), (embed.get("footer") or {}).get("text"), 2048)
        total += errs.max_length((*at, "author", "name"), (embed.get("author") or {}).get("name"), 256)
        fields = embed.get("fields") or []
        errs.max_length((*at, "fields"), fields, 25)
        for j, fld in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                errs.required((*at, "fields", j, key), fld.get(key))
                total += errs.max_length((*at, "fields", j, key), fld.get(key), limit)
    if total > 6000:
        errs.add(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _check_component(comp: Json, at: tuple[Any, ...], errs: FormErrors, seen_ids: set[str]) -> None:
    kind = comp.get("type")
    custom_id = comp.get("custom_id")
    if custom_id is not None:
        errs.max_length((*at, "custom_id"), custom_id, 100)
        if custom_id in seen_ids:
            errs.add((*at, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
        seen_ids.add(custom_id)
    if kind == 1:  # action row
        children = comp.get("components") or []
        if not children:
            errs.add((*at, "components"), "BASE_TYPE_MIN_LENGTH", "Must be 1 or more in length.")
        errs.max_length((*at, "components"), children, 5)
        if len(children) > 1 and any(c.get("type") != 2 for c in children):
            errs.add(
                (*at, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
    elif kind == 2:  # button
        errs.max_length((*at, "label"), comp.get("label"), 80)
        if comp.get("style") == 5:
            errs.required((*at, "url"), comp.get("url"))
        elif comp.get("style") != 6:
            errs.required((*at, "custom_id"), custom_id)
    elif kind in (3, 5, 6, 7, 8):  # selects
        errs.required((*at, "custom_id"), custom_id)
        errs.max_length((*at, "placeholder"), comp.get("placeholder"), 150)
        errs.max_length((*at, "options"), comp.get("options"), 25)
    for key in ("components", "accessory", "component"):  # recurse (rows, v2 containers)
        child = comp.get(key)
        children = child if isinstance(child, list) else [child] if isinstance(child, dict) else []
        for j, sub in enumerate(children):
            _check_component(sub, (*at, key, j) if isinstance(child, list) else (*at, key), errs, seen_ids)


def validate_message(body: Json, *, creating: bool) -> None:
    """Validate a message create/edit body like Discord does; raises :class:`ApiError`."""
    errs = FormErrors()
    errs.max_length(("content",), body.get("content"), 2000)
    _check_embeds(body.get("embeds") or [], errs)
    rows = body.get("components") or []
    if not (body.get("flags") or 0) & IS_COMPONENTS_V2:
        errs.max_length(("components",), rows, 5)
    seen: set[str] = set()
    for i, row in enumerate(rows):
        _check_component(row, ("components", i), errs, seen)
    errs.raise_if_any()
    has_body = any(body.get(k) for k in ("content", "embeds", "components", "attachments", "sticker_ids", "poll"))
    if creating and not has_body and not body.get("_files"):
        raise ApiError(400, 50006, "Cannot send an empty message")


_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


def validate_commands(commands: list[Json]) -> None:
    """The parts of application-command validation a sync can trip over."""
    errs = FormErrors()
    errs.max_length((), commands, 100)

    def check(item: Json, at: tuple[Any, ...], chat_input: bool) -> None:
        name = item.get("name") or ""
        if not _COMMAND_NAME.match(name) or (chat_input and name != name.lower()):
            errs.add((*at, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if chat_input:
            description = item.get("description") or ""
            if not 1 <= len(description) <= 100:
                errs.add((*at, "description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        options = item.get("options") or []
        errs.max_length((*at, "options"), options, 25)
        for j, option in enumerate(options):
            check(option, (*at, "options", j), True)

    for i, command in enumerate(commands):
        check(command, (i,), command.get("type", 1) == 1)
    errs.raise_if_any()


# --------------------------------------------------------------------------- the server

Handler = Callable[..., Awaitable[Any]]


class DiscordTestServer:
    """The fake Discord.  Use as ``async with DiscordTestServer(config) as server:``."""

    def __init__(self, config: DiscordServerConfig | None = None) -> None:
        self.config = config or DiscordServerConfig()
        self.new_id = SnowflakeFactory()
        # what was received
        self.requests: list[RecordedRequest] = []
        self.gateway_log: list[GatewayFrame] = []
        self.heartbeats: list[tuple[int, float]] = []  # (connection index, monotonic time)
        self.connections: list[GatewayConnection] = []
        self.violations: list[Violation] = []
        self.unknown_routes: list[RecordedRequest] = []
        self.errors: list[str] = []  # server-side exceptions (bugs in this file or absurd input)
        self.injected: list[RecordedRequest] = []  # requests failed on purpose, see fail_requests()
        self._failures: list[InjectedFailure] = []
        self.client_errors: list[str] = []  # ERROR logs of discord.py, see capture_discord_errors()
        # Discord's state
        self.channels: dict[int, Json] = {}
        self.messages: dict[int, Json] = {}
        self.commands: dict[int | None, list[Json]] = {}  # guild id (None = global) -> commands
        self.interactions: dict[int, InteractionRecord] = {}
        self.attachment_files: dict[int, tuple[str, bytes, str]] = {}  # id -> (filename, data, content type)
        self.attachment_downloads: list[str] = []  # paths of attachment downloads, in order
        self._session: GatewaySession | None = None  # the last identified or resumed
        self._sessions: dict[str, GatewaySession] = {}
        self._shard_sessions: dict[int, GatewaySession] = {}  # shard id -> its live session
        self._tick = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._routes = self._route_table()
        self._create_guild_channels()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._gateway)
        app.router.add_get("/resume", self._gateway)
        app.router.add_get(r"/ephemeral-attachments/{app}/{id:\d+}/{filename}", self._serve_attachment)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        for conn in self.connections:
            if not conn.ws.closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.ws.close(code=1001), 1.0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordTestServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/resume"

    # ------------------------------------------------------------------ people & places

    def user(self, name: str) -> FakeUser:
        """A configured user by username, e.g. ``server.user("reader")``."""
        for user in self.config.users:
            if user.username == name:
                return user
        raise KeyError(f"no user {name!r}; have {[u.username for u in self.config.users]}")

    def channel_id(self, name: str) -> int:
        """A configured text channel's id, e.g. ``server.channel_id("general")``."""
        for guild in self.config.guilds:
            if name in guild.text_channels:
                return guild.text_channels[name]
        raise KeyError(f"no channel {name!r}")

    def messages_in(self, channel_id: int) -> list[Json]:
        return [m for m in self.messages.values() if int(m["channel_id"]) == channel_id]

    def threads(self) -> list[Json]:
        return [c for c in self.channels.values() if c["type"] in (10, 11, 12)]

    # ------------------------------------------------------------------ recorded traffic

    def requests_matching(self, method: str, path_regex: str, *, after: int = 0) -> list[RecordedRequest]:
        """Requests with this method whose API-relative path *fully* matches ``path_regex``."""
        pattern = re.compile(path_regex)
        return [
            r
            for r in self.requests[after:]
            if r.method == method.upper() and pattern.fullmatch(r.path) and r.status is not None
        ]

    def mark(self) -> int:
        """The current request-log position, for ``wait_for_request(..., after=mark)``."""
        return len(self.requests)

    async def wait_for_request(
        self, method: str, path_regex: str, timeout: float = 10.0, *, after: int = 0
    ) -> RecordedRequest:
        """The first answered request matching (already received, or the next one to arrive)."""

        def first() -> RecordedRequest | None:
            found = self.requests_matching(method, path_regex, after=after)
            return found[0] if found else None

        return await self.wait_until(first, timeout, f"{method} {path_regex}")

    def gateway_received(self, op: int | None = None) -> list[GatewayFrame]:
        return [f for f in self.gateway_log if f.direction == "received" and (op is None or f.op == op)]

    def gateway_sent(self, event: str | None = None) -> list[GatewayFrame]:
        return [f for f in self.gateway_log if f.direction == "sent" and (event is None or f.event == event)]

    async def wait_for_gateway(self, op: int, timeout: float = 10.0, *, count: int = 1) -> GatewayFrame:
        """Wait until ``count`` payloads with opcode ``op`` were received; return the last."""

        def nth() -> GatewayFrame | None:
            frames = self.gateway_received(op)
            return frames[count - 1] if len(frames) >= count else None

        return await self.wait_until(nth, timeout, f"gateway op {op} x{count}")

    def heartbeat_gaps(self, since: float, until: float) -> list[float]:
        """Times without a heartbeat between ``since`` and ``until`` (monotonic seconds), edges included.

        A blocked event loop shows as a gap well above the heartbeat interval, however short the
        window is; a window shorter than one interval gives one gap no longer than itself.
        """
        beats = [at for _, at in self.heartbeats if since < at < until]
        points = [since, *beats, until]
        return [b - a for a, b in zip(points, points[1:])]

    def largest_heartbeat_gap(self) -> float:
        """Largest time between consecutive heartbeats on the same connection (seconds)."""
        gaps = [b[1] - a[1] for a, b in zip(self.heartbeats, self.heartbeats[1:]) if a[0] == b[0]]
        return max(gaps, default=0.0)

    async def wait_until(self, predicate: Callable[[], T | None], timeout: float = 10.0, what: str = "") -> T:
        """Re-check ``predicate`` whenever something is recorded until it returns a truthy value."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    tick = self._tick  # captured before checking: no lost wake-ups
                    result = predicate()
                    if result:
                        return result
                    await tick.wait()
        except TimeoutError:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what or predicate!r}\n{self.summary()}"
            ) from None

    def summary(self) -> str:
        """Recent traffic and every problem seen, for failure messages."""
        lines = ["last requests:"] + [f"  {r.method} {r.path} -> {r.status}" for r in self.requests[-15:]]
        lines += [f"violation: {v}" for v in self.violations]
        lines += [f"unknown route: {r.method} {r.path}" for r in self.unknown_routes]
        lines += [f"server error: {e}" for e in self.errors]
        lines += [f"discord.py logged: {e}" for e in self.client_errors]
        return "\n".join(lines)

    def _notify(self) -> None:
        self._tick.set()
        self._tick = asyncio.Event()

    def assert_clean(self) -> None:
        """No rejected payloads, unknown routes, server errors or (captured) discord.py errors."""
        problems = self.violations or self.unknown_routes or self.errors or self.client_errors
        assert not problems, self.summary()

    # ------------------------------------------------------------------ gateway: connection

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = GatewayConnection(
            index=len(self.connections),
            path=request.path,
            query=dict(request.query),
            ws=ws,
            request=request,
            opened_at=time.monotonic(),
        )
        self.connections.append(conn)
        if conn.query.get("v") != str(API_VERSION) or conn.query.get("encoding") != "json":
            await ws.close(code=4012, message=b"Invalid API version")
            return ws
        await self._send(conn, {"op": Op.HELLO, "d": {"heartbeat_interval": self.config.heartbeat_interval_ms}})
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_payload(conn, json.loads(msg.data))
        except Exception:  # noqa: BLE001 - surfaced through assert_clean()
            self.errors.append(traceback.format_exc())
        finally:
            conn.closed_at = time.monotonic()
            conn.close_code = conn.close_code or ws.close_code
            if conn.session is not None and conn.session.connection is conn:
                conn.session.connection = None
            self._notify()
        return ws

    async def _send(self, conn: GatewayConnection, frame: Json) -> None:
        self.gateway_log.append(
            GatewayFrame(conn.index, "sent", frame["op"], frame.get("t"), frame.get("d"), time.monotonic())
        )
        with contextlib.suppress(ConnectionError, RuntimeError):  # closing socket: kept for replay
            await conn.ws.send_str(json.dumps(frame))

    async def _on_payload(self, conn: GatewayConnection, frame: Json) -> None:
        op: int = frame.get("op", -1)
        data: Any = frame.get("d")  # a JSON object for the ops handled below
        now = time.monotonic()
        self.gateway_log.append(GatewayFrame(conn.index, "received", op, frame.get("t"), data, now))
        if op == Op.HEARTBEAT:
            self.heartbeats.append((conn.index, now))
            await self._send(conn, {"op": Op.HEARTBEAT_ACK})
        elif op == Op.IDENTIFY:
            await self._identify(conn, data)
        elif op == Op.RESUME:
            await self._resume(conn, data)
        elif op == Op.REQUEST_GUILD_MEMBERS:
            await self._members_chunk(data)
        self._notify()

    async def _identify(self, conn: GatewayConnection, data: Json) -> None:
        if data.get("token") != self.config.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        session = GatewaySession(
            id=secrets.token_hex(16), intents=int(data.get("intents") or 0), shard=data.get("shard") or [0, 1]
        )
        self._sessions[session.id] = session
        self._session, conn.session, session.connection = session, session, conn
        self._shard_sessions[session.shard[0]] = session
        await self._dispatch_to(session, "READY", self._ready_payload(session))
        for guild in self._guilds_of(session):
            await self._dispatch_to(session, "GUILD_CREATE", self._guild_payload(guild))

    def _guilds_of(self, session: GatewaySession) -> list[GuildSpec]:
        shard_id, count = session.shard
        return [guild for guild in self.config.guilds if shard_of(guild.id, count) == shard_id]

    async def _resume(self, conn: GatewayConnection, data: Json) -> None:
        session = self._sessions.get(data.get("session_id") or "")
        if session is None or data.get("token") != self.config.token:
            await self._send(conn, {"op": Op.INVALID_SESSION, "d": False})
            return
        if session.connection is not None and session.connection is not conn:
            with contextlib.suppress(Exception):
                await session.connection.ws.close(code=4000)
        self._session, conn.session = session, session
        self._shard_sessions[session.shard[0]] = session
        last_seen = data.get("seq") or 0
        index = next((i for i, e in enumerate(session.events) if e["s"] > last_seen), len(session.events))
        while index < len(session.events):  # events dispatched meanwhile are appended and replayed too
            await self._send(conn, session.events[index])
            index += 1
        session.connection = conn  # no await since the loop's last check: nothing can slip through
        await self.dispatch("RESUMED", {})

    async def _members_chunk(self, data: Json) -> None:
        guild = self.config.guild(int(data.get("guild_id") or self.config.guild_id))
        members = [self._member_payload(u, with_user=True, guild=guild) for u in guild.users(self.config.bot_user)]
        chunk = {"guild_id": str(guild.id), "members": members, "chunk_index": 0, "chunk_count": 1}
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    # ------------------------------------------------------------------ gateway: control

    async def dispatch(self, event: str, data: Any) -> int:
        """Send a DISPATCH to the identified client (or keep it for RESUME); returns its seq.

        A guild's event goes to the session of the shard owning the guild; others to the last session."""
        session = self._session
        if session is None:
            raise RuntimeError("no client has identified yet; start the bot first")
        guild_id = data.get("guild_id") if isinstance(data, dict) else None
        if guild_id is not None:
            session = self._shard_sessions.get(shard_of(int(guild_id), session.shard[1]), session)
        return await self._dispatch_to(session, event, data)

    async def _dispatch_to(self, session: GatewaySession, event: str, data: Any) -> int:
        session.seq += 1
        frame = {"op": Op.DISPATCH, "t": event, "s": session.seq, "d": data}
        session.events.append(frame)
        if session.connection is not None:
            await self._send(session.connection, frame)
        self._notify()
        return session.seq

    def fail_requests(
        self,
        method: str,
        path_regex: str,
        *,
        status: int | None = None,
        body: Any = None,
        times: int | None = 1,
    ) -> InjectedFailure:
        """Fail the next ``times`` REST requests matching (all of them if None): answer ``status`` with
        ``body`` (default: Discord's JSON error shape), or, with ``status=None``, drop the connection."""
        if body is None and status is not None:
            body = {"code": 0, "message": f"{status}: injected failure"}
        failure = InjectedFailure(method.upper(), path_regex, status, body, times)
        self._failures.append(failure)
        return failure

    def _injected_failure(self, record: RecordedRequest) -> InjectedFailure | None:
        failure = next((f for f in self._failures if f.matches(record)), None)
        if failure is not None and failure.times is not None:
            failure.times -= 1
        return failure

    async def drop_connection(self, code: int | None = 4000) -> None:
        """Drop the live gateway socket: close with a resumable ``code``, or abort if None."""
        session = self._session
        conn = session.connection if session else None
        if session is None or conn is None:
            raise RuntimeError("no live gateway connection to drop")
        session.connection = None  # from now on events are kept for the RESUME replay
        conn.close_code = code
        if code is None:
            if conn.request.transport is not None:
                conn.request.transport.abort()
        else:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(conn.ws.close(code=code), 2.0)

    def _intents(self) -> int:
        return self._session.intents if self._session else 0

    async def _dispatch_message_event(self, event: str, message: Json) -> None:
        """MESSAGE_CREATE/UPDATE as the bot would see them given its intents."""
        if message["flags"] & EPHEMERAL or not self._intents() & Intent.GUILD_MESSAGES or self._session is None:
            return
        await self.dispatch(event, self._as_seen_by_bot(message))

    def _as_seen_by_bot(self, message: Json) -> Json:
        bot_id = str(self.config.bot_user.id)
        visible = (
            self._intents() & Intent.MESSAGE_CONTENT
            or message["author"]["id"] == bot_id
            or any(m["id"] == bot_id for m in message["mentions"])
        )
        if visible:
            return message
        return {**message, "content": "", "embeds": [], "attachments": [], "components": []}

    # ------------------------------------------------------------------ gateway payloads

    def _ready_payload(self, session: GatewaySession) -> Json:
        return {
            "v": API_VERSION,
            "user": {**self.config.bot_user.payload(), "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(guild.id), "unavailable": True} for guild in self._guilds_of(session)],
            "session_id": session.id,
            "session_type": "normal",
            "shard": session.shard,
            "resume_gateway_url": self.resume_gateway_url,
            "application": {"id": str(self.config.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "user_settings": {},
            "geo_ordered_rtc_regions": [],
        }

    def _permissions(self, user: FakeUser, guild: GuildSpec | None = None) -> int:
        guild = guild or self.config.guilds[0]
        if user.id == guild.owner.id:
            return Perm.ALL
        if user.bot:
            return BOT_PERMISSIONS
        return EVERYONE_PERMISSIONS | (MODERATOR_PERMISSIONS if guild.moderator_role_id in user.role_ids else 0)

    def _bot_channel_permissions(self) -> int:
        return BOT_PERMISSIONS & ~self.config.bot_denied_permissions

    def _bot_overwrites(self) -> list[Json]:
        denied = self.config.bot_denied_permissions
        if not denied:
            return []
        return [{"id": str(self.config.bot_user.id), "type": 1, "allow": "0", "deny": str(denied)}]

    def _roles(self, guild: GuildSpec) -> list[Json]:
        def role(role_id: int, name: str, perms: int, position: int, **extra: Any) -> Json:
            return {
                "id": str(role_id),
                "name": name,
                "color": 0,
                "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
                "hoist": False,
                "position": position,
                "permissions": str(perms),
                "managed": False,
                "mentionable": False,
                "flags": 0,
                **extra,
            }

        return [
            role(guild.id, "@everyone", EVERYONE_PERMISSIONS, 0),
            role(guild.moderator_role_id, "Moderator", MODERATOR_PERMISSIONS, 1),
            role(
                guild.bot_role_id,
                self.config.bot_user.username,
                BOT_PERMISSIONS,
                2,
                managed=True,
                tags={"bot_id": str(self.config.bot_user.id)},
            ),
        ]

    def _member_payload(
        self, user: FakeUser, *, with_user: bool, permissions: int | None = None, guild: GuildSpec | None = None
    ) -> Json:
        role_ids = (guild.bot_role_id,) if user.bot and guild is not None else user.role_ids
        member: Json = {
            "roles": [str(r) for r in role_ids],
            "joined_at": "2025-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "communication_disabled_until": None,
        }
        if with_user:
            member["user"] = user.payload()
        if permissions is not None:
            member["permissions"] = str(permissions)
        return member

    def _create_guild_channels(self) -> None:
        for guild in self.config.guilds:
            for position, (name, channel_id) in enumerate(guild.text_channels.items()):
                self.channels[channel_id] = {
                    "id": str(channel_id),
                    "type": 0,
                    "guild_id": str(guild.id),
                    "name": name,
                    "position": position,
                    "permission_overwrites": self._bot_overwrites(),
                    "nsfw": False,
                    "parent_id": None,
                    "topic": None,
                    "last_message_id": None,
                    "rate_limit_per_user": 0,
                    "flags": 0,
                    "default_auto_archive_duration": 1440,
                }

    def _guild_of_channel(self, channel_id: int) -> GuildSpec:
        return self.config.guild(int(self.channels[channel_id]["guild_id"]))

    def _guild_payload(self, guild: GuildSpec) -> Json:
        users = guild.users(self.config.bot_user)
        in_guild = [c for c in self.channels.values() if c["guild_id"] == str(guild.id)]
        threads = [t for t in in_guild if t["type"] in (10, 11, 12) and not t["thread_metadata"]["archived"]]
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "description": None,
            "features": [],
            "emojis": [],
            "stickers": [],
            "owner_id": str(guild.owner.id),
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": self._roles(guild),
            "mfa_level": 0,
            "nsfw_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "banner": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "incidents_data": None,
            "joined_at": "2025-01-01T00:00:00+00:00",
            "large": False,
            "unavailable": False,
            "member_count": len(users),
            "members": [self._member_payload(u, with_user=True, guild=guild) for u in users],
            "channels": [c for c in in_guild if c["type"] not in (10, 11, 12)],
            "threads": threads,
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    # ------------------------------------------------------------------ test-side events

    async def send_message_create(
        self,
        channel_id: int,
        author: FakeUser | str,
        content: str,
        mentions: Iterable[FakeUser] | None = None,
    ) -> Json:
        """A human posts ``content`` in ``channel_id``; dispatches MESSAGE_CREATE.

        ``mentions`` defaults to the ``<@id>`` mentions found in ``content``.
        """
        user = self.user(author) if isinstance(author, str) else author
        message = self._store_message(
            channel_id, user, {"content": content}, mentioned=None if mentions is None else list(mentions)
        )
        await self._dispatch_message_event("MESSAGE_CREATE", message)
        return message

    async def send_interaction(
        self,
        command_name: str,
        options: dict[str, Any] | list[Json] | None = None,
        *,
        user: FakeUser | str = "reader",
        permissions: int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """A user runs slash command ``/command_name``; dispatches INTERACTION_CREATE.

        The command must have been synced by the bot (guild commands first, then global).
        ``command_name`` may name a subcommand: ``"feeds add"``. ``options`` is ``{name: value}``
        (types come from the synced definition; an attachment option takes what :meth:`attachment`
        returned) or a raw list. ``guild_id`` defaults to the channel's guild, else the main one.
        """
        if guild_id is None and channel_id is not None:
            guild_id = self._guild_of_channel(channel_id).id
        guild_id = guild_id or self.config.guild_id
        channel_id = channel_id or next(iter(self.config.guild(guild_id).text_channels.values()))
        name, *subcommands = command_name.split()
        command = self._find_command(name, guild_id)
        data: Json = {"id": command["id"], "name": name, "type": command.get("type", 1)}
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        resolved: Json = {}
        built = self._build_options(command, options, subcommands, resolved)
        if built:
            data["options"] = built
        if resolved:
            data["resolved"] = resolved
        payload = self._interaction_payload(
            InteractionType.APPLICATION_COMMAND, user, permissions, guild_id, channel_id, locale
        )
        payload["data"] = data
        return await self._dispatch_interaction(payload)

    async def send_component_interaction(
        self,
        message_id: int,
        custom_id: str,
        *,
        user: FakeUser | str = "reader",
        component_type: int = 2,
        values: list[str] | None = None,
        permissions: int | None = None,
        locale: str = "en-US",
        channel_id: int | None = None,
    ) -> InteractionRecord:
        """A user uses a component (default: a button) on message ``message_id``.

        ``channel_id`` makes the interaction come from another channel (and its guild) than the message's,
        as a component id replayed elsewhere would: for testing that a bot checks where a click comes from."""
        message = self.messages[message_id]
        channel = self.channels[channel_id or int(message["channel_id"])]
        payload = self._interaction_payload(
            InteractionType.MESSAGE_COMPONENT, user, permissions, int(channel["guild_id"]), int(channel["id"]), locale
        )
        payload["message"] = message
        payload["data"] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            payload["data"]["values"] = values
        return await self._dispatch_interaction(payload)

    async def click_button(
        self,
        message_id: int,
        *,
        label: str | None = None,
        custom_id: str | None = None,
        user: FakeUser | str = "reader",
    ) -> InteractionRecord:
        """Click the (enabled, non-link) button with this label or custom_id on a stored message."""
        for button in _walk_components(self.messages[message_id].get("components") or []):
            wanted = (label is not None and button.get("label") == label) or (
                custom_id is not None and button.get("custom_id") == custom_id
            )
            if button.get("type") == 2 and wanted:
                if button.get("disabled"):
                    raise AssertionError(f"button {label or custom_id!r} is disabled; users cannot click it")
                if not button.get("custom_id"):
                    raise AssertionError(f"button {label or custom_id!r} is a link button; it sends no interaction")
                return await self.send_component_interaction(message_id, button["custom_id"], user=user)
        raise LookupError(f"no button {label or custom_id!r} on message {message_id}")

    def attachment(self, filename: str, data: bytes, content_type: str = "text/plain; charset=utf-8") -> Json:
        """A file a user uploads into a command's attachment option, as Discord describes it.

        Like Discord's ephemeral uploads, it is served over HTTP (here from 127.0.0.1) at its ``url``,
        with signed query parameters; each download is recorded in ``attachment_downloads``."""
        attachment_id = self.new_id()
        self.attachment_files[attachment_id] = (filename, data, content_type)
        signature = secrets.token_hex(16)
        path = f"/ephemeral-attachments/{self.config.application_id}/{attachment_id}/{filename}"
        url = f"http://127.0.0.1:{self.port}{path}?ex=0&is=0&hm={signature}"
        return {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
            "ephemeral": True,
        }

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        self.attachment_downloads.append(request.path)
        stored = self.attachment_files.get(int(request.match_info["id"]))
        self._notify()
        if stored is None or stored[0] != request.match_info["filename"]:
            return web.Response(status=404, text="404: Not Found")
        filename, data, content_type = stored
        return web.Response(status=200, body=data, headers={"Content-Type": content_type})

    def _find_command(self, name: str, guild_id: int | None) -> Json:
        for scope in (guild_id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name:
                    return command
        synced = {scope: [c["name"] for c in cmds] for scope, cmds in self.commands.items()}
        raise LookupError(f"/{name} was never synced by the bot (synced: {synced})")

    @staticmethod
    def _build_options(
        command: Json, options: dict[str, Any] | list[Json] | None, subcommands: list[str], resolved: Json
    ) -> list[Json]:
        """Options as Discord sends them: nested under the named subcommand (group), attachments by id
        with the attachment itself in ``resolved``."""
        if subcommands:
            name = subcommands[0]
            declared_subs = {o["name"]: o for o in command.get("options") or [] if o.get("type") in (1, 2)}
            if name not in declared_subs:
                raise LookupError(f"/{command['name']} has no subcommand {name!r} (has {sorted(declared_subs)})")
            sub = declared_subs[name]
            inner = DiscordTestServer._build_options(sub, options, subcommands[1:], resolved)
            return [{"name": name, "type": sub["type"], "options": inner}]
        if options is None or isinstance(options, list):
            return options or []
        declared = {o["name"]: o for o in command.get("options") or []}
        unknown = set(options) - set(declared)
        missing = {n for n, o in declared.items() if o.get("required") and n not in options}
        if unknown or missing:
            raise LookupError(
                f"/{command['name']}: unknown options {unknown or '{}'}, missing required {missing or '{}'}"
            )
        built = []
        for name, value in options.items():
            kind = declared[name]["type"]
            if kind == ATTACHMENT_OPTION:
                if not (isinstance(value, dict) and "url" in value):
                    raise TypeError(f"/{command['name']} {name}: pass an attachment made by server.attachment(...)")
                resolved.setdefault("attachments", {})[value["id"]] = value
                value = value["id"]
            built.append({"name": name, "type": kind, "value": value})
        return built

    def _interaction_payload(
        self, kind: int, user: FakeUser | str, permissions: int | None, guild_id: int, channel_id: int, locale: str
    ) -> Json:
        user = self.user(user) if isinstance(user, str) else user
        guild = self.config.guild(guild_id)
        perms = self._permissions(user, guild) if permissions is None else permissions
        interaction_id = self.new_id()
        channel = self.channels[channel_id]
        return {
            "id": str(interaction_id),
            "application_id": str(self.config.application_id),
            "type": kind,
            "token": f"interaction-{interaction_id}-{secrets.token_urlsafe(16)}",
            "version": 1,
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "guild_locale": "en-US",
            "channel_id": str(channel_id),
            "channel": {**channel, "permissions": str(perms)},
            "member": self._member_payload(user, with_user=True, permissions=perms, guild=guild),
            "locale": locale,
            "app_permissions": str(self._bot_channel_permissions()),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": self.config.attachment_size_limit,
        }

    async def _dispatch_interaction(self, payload: Json) -> InteractionRecord:
        record = InteractionRecord(payload=payload, created_at=time.monotonic())
        self.interactions[record.id] = record
        await self.dispatch("INTERACTION_CREATE", payload)
        return record

    # ------------------------------------------------------------------ messages (state)

    def _store_message(
        self,
        channel_id: int,
        author: FakeUser,
        body: Json,
        *,
        mentioned: list[FakeUser] | None = None,
        message_type: int = 0,
        interaction: InteractionRecord | None = None,
        extra_flags: int = 0,
    ) -> Json:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        guild = self.config.guild(int(channel["guild_id"]))
        message_id = self.new_id()
        if mentioned is None:
            mentioned = self._pinged_users(body.get("content") or "", body.get("allowed_mentions"), author)
        message: Json = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "guild_id": channel["guild_id"],
            "author": author.payload(),
            "member": self._member_payload(author, with_user=False, guild=guild),
            "content": body.get("content") or "",
            "timestamp": _iso_now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts")),
            "mention_everyone": False,
            "mentions": [
                {**u.payload(), "member": self._member_payload(u, with_user=False, guild=guild)} for u in mentioned
            ],
            "mention_roles": [],
            "attachments": body.get("_attachments", []),
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": message_type,
            "flags": ((body.get("flags") or 0) & (EPHEMERAL | IS_COMPONENTS_V2 | (1 << 2) | (1 << 12))) | extra_flags,
        }
        if interaction is not None:
            message.update(self._interaction_message_fields(interaction))
        self.messages[message_id] = message
        channel["last_message_id"] = str(message_id)
        if channel["type"] in (10, 11, 12):
            channel["message_count"] += 1
            channel["total_message_sent"] += 1
        return message

    def _interaction_message_fields(self, interaction: InteractionRecord) -> Json:
        payload = interaction.payload
        metadata: Json = {
            "id": payload["id"],
            "type": payload["type"],
            "user": payload["member"]["user"],
            "authorizing_integration_owners": payload["authorizing_integration_owners"],
        }
        if payload["type"] == InteractionType.MESSAGE_COMPONENT:
            metadata["interacted_message_id"] = payload["message"]["id"]
        return {
            "webhook_id": str(self.config.application_id),
            "application_id": str(self.config.application_id),
            "interaction_metadata": metadata,
        }

    def _pinged_users(self, content: str, allowed: Json | None, author: FakeUser) -> list[FakeUser]:
        """Users mentioned in ``content`` who would be pinged under ``allowed_mentions``."""
        ids = {int(m) for m in re.findall(r"<@!?(\d+)>", content)}
        if allowed is not None and "users" not in (allowed.get("parse") or []):
            ids &= {int(u) for u in allowed.get("users") or []}
        return [u for u in self.config.users if u.id in ids and u.id != author.id]

    def _edit_message(self, message: Json, body: Json) -> Json:
        for key in ("content", "embeds", "components"):
            if key in body:
                message[key] = body[key] if body[key] is not None else ("" if key == "content" else [])
        if "_attachments" in body:
            message["attachments"] = body["_attachments"]
        message["flags"] &= ~LOADING
        message["edited_timestamp"] = _iso_now()
        return message

    # ------------------------------------------------------------------ REST plumbing

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        S = r"(\d+)"  # a snowflake path segment
        TOKEN = r"([^/]+)"
        table: list[tuple[str, str, Handler]] = [
            ("GET", r"/users/@me", self._get_me),
            ("GET", r"/oauth2/applications/@me", self._get_application),
            ("GET", r"/gateway", self._get_gateway),
            ("GET", r"/gateway/bot", self._get_gateway_bot),
            ("GET", rf"/applications/{S}/commands", self._get_commands),
            ("PUT", rf"/applications/{S}/commands", self._put_commands),
            ("GET", rf"/applications/{S}/guilds/{S}/commands", self._get_commands),
            ("PUT", rf"/applications/{S}/guilds/{S}/commands", self._put_commands),
            ("POST", rf"/interactions/{S}/{TOKEN}/callback", self._interaction_callback),
            ("POST", rf"/webhooks/{S}/{TOKEN}", self._execute_webhook),
            ("GET", rf"/webhooks/{S}/{TOKEN}/messages/(@original|\d+)", self._get_webhook_message),
            ("PATCH", rf"/webhooks/{S}/{TOKEN}/messages/(@original|\d+)", self._edit_webhook_message),
            ("DELETE", rf"/webhooks/{S}/{TOKEN}/messages/(@original|\d+)", self._delete_webhook_message),
            ("GET", rf"/channels/{S}", self._get_channel),
            ("POST", rf"/channels/{S}/messages", self._create_message),
            ("GET", rf"/channels/{S}/messages/{S}", self._get_message),
            ("PATCH", rf"/channels/{S}/messages/{S}", self._edit_channel_message),
            ("DELETE", rf"/channels/{S}/messages/{S}", self._delete_channel_message),
            ("POST", rf"/channels/{S}/messages/{S}/threads", self._start_thread_from_message),
            ("POST", rf"/channels/{S}/threads", self._start_thread),
            ("PUT", rf"/channels/{S}/thread-members/@me", self._join_thread),
            ("POST", rf"/channels/{S}/typing", self._typing),
        ]
        return [(method, re.compile(pattern), handler) for method, pattern, handler in table]

    async def _rest(self, request: web.Request) -> web.Response:
        prefix = f"/api/v{API_VERSION}"
        path = request.path[len(prefix) :] if request.path.startswith(prefix + "/") else request.path
        body, files = await _read_body(request)
        record = RecordedRequest(request.method, path, dict(request.query), body, files, time.monotonic())
        self.requests.append(record)
        failure = self._injected_failure(record)
        if failure is not None:
            return self._fail(request, record, failure)
        try:
            status, response = await self._route(request, record)
        except ApiError as error:
            status, response = error.status, error.body()
            self.violations.append(
                Violation(record.method, path, error.status, error.code, error.message, error.errors, body, error.note)
            )
        except Exception:  # noqa: BLE001 - surfaced through assert_clean()
            self.errors.append(traceback.format_exc())
            status, response = 500, {"code": 0, "message": "500: Internal Server Error"}
        record.status, record.response = status, response
        self._notify()
        if response is NO_CONTENT:
            return web.Response(status=204)
        return web.Response(status=status, body=json.dumps(response).encode(), headers=JSON_HEADERS)

    def _fail(self, request: web.Request, record: RecordedRequest, failure: InjectedFailure) -> web.Response:
        record.injected = True
        record.status, record.response = failure.status or 0, failure.body
        self.injected.append(record)
        self._notify()
        if failure.status is None:
            if request.transport is not None:
                request.transport.abort()  # the client sees the connection reset, with no answer
            raise asyncio.CancelledError  # aiohttp's way out of a handler whose connection is gone
        if isinstance(failure.body, str):
            return web.Response(status=failure.status, text=failure.body, content_type="text/html")
        return web.Response(status=failure.status, body=json.dumps(failure.body).encode(), headers=JSON_HEADERS)

    async def _route(self, request: web.Request, record: RecordedRequest) -> tuple[int, Any]:
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(record.path)
            if match and method == record.method and request.path.startswith(f"/api/v{API_VERSION}/"):
                if not record.path.startswith(("/webhooks/", "/interactions/")):
                    self._check_auth(request)
                result = await handler(record, *match.groups())
                return (204, NO_CONTENT) if result is NO_CONTENT else (200, result)
        self.unknown_routes.append(record)
        return 404, {"code": 0, "message": "404: Not Found"}

    def _check_auth(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bot {self.config.token}":
            raise ApiError(401, 0, "401: Unauthorized")

    # ------------------------------------------------------------------ REST: identity

    async def _get_me(self, req: RecordedRequest) -> Json:
        return {**self.config.bot_user.payload(), "verified": True, "mfa_enabled": False, "flags": 0, "locale": "en-US"}

    async def _get_application(self, req: RecordedRequest) -> Json:
        return {
            "id": str(self.config.application_id),
            "name": self.config.bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "verify_key": "0" * 64,
            "flags": 0,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.config.owner.payload(),
            "bot": self.config.bot_user.payload(),
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "tags": [],
        }

    async def _get_gateway(self, req: RecordedRequest) -> Json:
        return {"url": self.gateway_url.rstrip("/")}

    async def _get_gateway_bot(self, req: RecordedRequest) -> Json:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return {
            "url": self.gateway_url.rstrip("/"),
            "shards": self.config.recommended_shards,
            "session_start_limit": limit,
        }

    # ------------------------------------------------------------------ REST: commands

    def _check_application(self, app_id: str) -> None:
        if int(app_id) != self.config.application_id:
            raise ApiError(403, 50001, "Missing Access")

    async def _get_commands(self, req: RecordedRequest, app_id: str, guild_id: str | None = None) -> list[Json]:
        self._check_application(app_id)
        return self.commands.get(int(guild_id) if guild_id else None, [])

    async def _put_commands(self, req: RecordedRequest, app_id: str, guild_id: str | None = None) -> list[Json]:
        self._check_application(app_id)
        if guild_id and int(guild_id) not in {guild.id for guild in self.config.guilds}:
            raise ApiError(403, 50001, "Missing Access")
        validate_commands(req.json or [])
        scope = int(guild_id) if guild_id else None
        previous = {(c["name"], c.get("type", 1)): c["id"] for c in self.commands.get(scope, [])}
        stored = []
        for command in req.json or []:
            key = (command["name"], command.get("type", 1))
            stored.append(
                {
                    "type": 1,
                    "description": "",
                    "options": [],
                    "default_member_permissions": None,
                    "nsfw": False,
                    **command,
                    "id": previous.get(key) or str(self.new_id()),
                    "application_id": str(self.config.application_id),
                    "version": str(self.new_id()),
                    **({"guild_id": guild_id} if guild_id else {}),
                }
            )
        self.commands[scope] = stored
        return stored

    # ------------------------------------------------------------------ REST: interactions

    def _interaction_by_token(self, app_id: str, token: str) -> InteractionRecord:
        record = next((r for r in self.interactions.values() if r.token == token), None)
        if record is None or int(app_id) != self.config.application_id or record.callback_type is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        return record

    async def _interaction_callback(self, req: RecordedRequest, interaction_id: str, token: str) -> Any:
        record = self.interactions.get(int(interaction_id))
        if record is None or record.token != token:
            raise ApiError(404, 10062, "Unknown interaction")
        if record.callback_type is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        late = time.monotonic() - record.created_at
        if late > self.config.interaction_ack_deadline_s:  # Discord forgets unanswered interactions
            raise ApiError(404, 10062, "Unknown interaction", note=f"first response after {late:.2f}s")
        body = req.json or {}
        kind, data = body.get("type"), body.get("data") or {}
        if kind not in ALLOWED_CALLBACKS[record.payload["type"]]:
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "type": {
                        "_errors": [
                            {
                                "code": "INTERACTION_RESPONSE_TYPE_INVALID",
                                "message": "Invalid interaction response type",
                            }
                        ]
                    }
                },
            )
        message = await self._apply_callback(record, kind, data)
        record.callback_type, record.acked_at = kind, time.monotonic()
        if message is not None:
            record.original_message_id = int(message["id"])
        if req.query.get("with_response", "").lower() not in ("1", "true"):
            return NO_CONTENT
        return self._callback_response(record, kind, message)

    async def _apply_callback(self, record: InteractionRecord, kind: int, data: Json) -> Json | None:
        """Perform a callback's effect; returns the message it created/targets, if any."""
        channel_id = int(record.payload["channel_id"])
        bot = self.config.bot_user
        is_command = record.payload["type"] == InteractionType.APPLICATION_COMMAND
        if kind == Callback.CHANNEL_MESSAGE:
            validate_message(data, creating=True)
            message = self._store_message(
                channel_id, bot, data, message_type=20 if is_command else 19, interaction=record
            )
            await self._dispatch_message_event("MESSAGE_CREATE", message)
            return message
        if kind == Callback.DEFERRED_CHANNEL_MESSAGE:
            flags = (data.get("flags") or 0) & EPHEMERAL
            message = self._store_message(
                channel_id,
                bot,
                {"flags": flags},
                message_type=20 if is_command else 19,
                interaction=record,
                extra_flags=LOADING,
            )
            record.loading = True
            await self._dispatch_message_event("MESSAGE_CREATE", message)
            return message
        if kind in (Callback.DEFERRED_UPDATE_MESSAGE, Callback.UPDATE_MESSAGE) and "message" in record.payload:
            message = self.messages[int(record.payload["message"]["id"])]
            if kind == Callback.UPDATE_MESSAGE:
                validate_message(data, creating=False)
                self._edit_message(message, data)
                await self._dispatch_message_event("MESSAGE_UPDATE", message)
            return message
        return None  # autocomplete results and modals change no message

    def _callback_response(self, record: InteractionRecord, kind: int, message: Json | None) -> Json:
        interaction: Json = {"id": str(record.id), "type": record.payload["type"]}
        resource: Json = {"type": kind}
        if message is not None and kind in (4, 5, 7):
            interaction.update(
                response_message_id=message["id"],
                response_message_loading=bool(message["flags"] & LOADING),
                response_message_ephemeral=bool(message["flags"] & EPHEMERAL),
            )
            resource["message"] = message
        return {"interaction": interaction, "resource": resource}

    async def _execute_webhook(self, req: RecordedRequest, app_id: str, token: str) -> Any:
        record = self._interaction_by_token(app_id, token)
        body = req.json or {}
        validate_message(body, creating=True)
        if record.loading and record.original_message_id is not None:
            # Discord: a follow-up sent while the deferral still shows "thinking..." resolves
            # that loading message (keeping its ephemeral flag) instead of posting a new one.
            message = self._edit_message(self.messages[record.original_message_id], body)
            record.loading = False
            await self._dispatch_message_event("MESSAGE_UPDATE", message)
        else:
            channel_id = int(record.payload["channel_id"])
            message = self._store_message(channel_id, self.config.bot_user, body, message_type=0, interaction=record)
            await self._dispatch_message_event("MESSAGE_CREATE", message)
        record.followup_ids.append(int(message["id"]))
        return message if req.query.get("wait", "").lower() in ("1", "true") else NO_CONTENT

    def _webhook_message(self, app_id: str, token: str, which: str) -> tuple[InteractionRecord, Json]:
        record = self._interaction_by_token(app_id, token)
        message_id = record.original_message_id if which == "@original" else int(which)
        message = self.messages.get(message_id or 0)
        if message is None:
            raise ApiError(404, 10008, "Unknown Message")
        return record, message

    async def _get_webhook_message(self, req: RecordedRequest, app_id: str, token: str, which: str) -> Json:
        return self._webhook_message(app_id, token, which)[1]

    async def _edit_webhook_message(self, req: RecordedRequest, app_id: str, token: str, which: str) -> Json:
        record, message = self._webhook_message(app_id, token, which)
        validate_message(req.json or {}, creating=False)
        if which == "@original":
            record.loading = False
        self._edit_message(message, req.json or {})
        await self._dispatch_message_event("MESSAGE_UPDATE", message)
        return message

    async def _delete_webhook_message(self, req: RecordedRequest, app_id: str, token: str, which: str) -> Any:
        _, message = self._webhook_message(app_id, token, which)
        await self._delete(message)
        return NO_CONTENT

    # ------------------------------------------------------------------ REST: channels & messages

    def _channel(self, channel_id: str) -> Json:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _message(self, channel_id: str, message_id: str) -> Json:
        self._channel(channel_id)
        message = self.messages.get(int(message_id))
        if message is None or message["channel_id"] != channel_id:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    async def _get_channel(self, req: RecordedRequest, channel_id: str) -> Json:
        return self._channel(channel_id)

    async def _create_message(self, req: RecordedRequest, channel_id: str) -> Json:
        self._channel(channel_id)
        body = req.json or {}
        validate_message(body, creating=True)
        message = self._store_message(int(channel_id), self.config.bot_user, body)
        reference = body.get("message_reference")
        if reference and reference.get("message_id"):
            referenced = self.messages.get(int(reference["message_id"]))
            message.update(
                type=19, message_reference={**reference, "channel_id": channel_id}, referenced_message=referenced
            )
        await self._dispatch_message_event("MESSAGE_CREATE", message)
        return message

    async def _get_message(self, req: RecordedRequest, channel_id: str, message_id: str) -> Json:
        return self._message(channel_id, message_id)

    async def _edit_channel_message(self, req: RecordedRequest, channel_id: str, message_id: str) -> Json:
        message = self._message(channel_id, message_id)
        if message["author"]["id"] != str(self.config.bot_user.id):
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        validate_message(req.json or {}, creating=False)
        self._edit_message(message, req.json or {})
        await self._dispatch_message_event("MESSAGE_UPDATE", message)
        return message

    async def _delete_channel_message(self, req: RecordedRequest, channel_id: str, message_id: str) -> Any:
        await self._delete(self._message(channel_id, message_id))
        return NO_CONTENT

    async def _delete(self, message: Json) -> None:
        del self.messages[int(message["id"])]
        if self._session is not None and self._intents() & Intent.GUILD_MESSAGES and not message["flags"] & EPHEMERAL:
            await self.dispatch("MESSAGE_DELETE", {k: message[k] for k in ("id", "channel_id", "guild_id")})

    async def _typing(self, req: RecordedRequest, channel_id: str) -> Any:
        self._channel(channel_id)
        return NO_CONTENT

    # ------------------------------------------------------------------ REST: threads

    def _check_can_start_public_threads(self) -> None:
        if not self._bot_channel_permissions() & Perm.CREATE_PUBLIC_THREADS:
            raise ApiError(403, 50013, "Missing Permissions", note="the bot lacks Create Public Threads")

    async def _start_thread_from_message(self, req: RecordedRequest, channel_id: str, message_id: str) -> Json:
        message = self._message(channel_id, message_id)
        self._check_can_start_public_threads()
        if int(message_id) in self.channels:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        # Discord gives a thread started from a message the message's id.
        thread = await self._open_thread(int(channel_id), req.json or {}, thread_id=int(message_id), kind=11)
        message["thread"] = thread
        return thread

    async def _start_thread(self, req: RecordedRequest, channel_id: str) -> Json:
        self._channel(channel_id)
        body = req.json or {}
        if (body.get("type") or 11) == 11:
            self._check_can_start_public_threads()
        return await self._open_thread(int(channel_id), body, thread_id=self.new_id(), kind=body.get("type") or 11)

    async def _open_thread(self, parent_id: int, body: Json, *, thread_id: int, kind: int) -> Json:
        errs = FormErrors()
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            errs.add(("name",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        errs.raise_if_any()
        now = _iso_now()
        thread: Json = {
            "id": str(thread_id),
            "type": kind,
            "guild_id": self.channels[parent_id]["guild_id"],
            "parent_id": str(parent_id),
            "owner_id": str(self.config.bot_user.id),
            "name": name,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": body.get("rate_limit_per_user") or 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration") or 1440,
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
                **({"invitable": body.get("invitable", True)} if kind == 12 else {}),
            },
            "member": {
                "id": str(thread_id),
                "user_id": str(self.config.bot_user.id),
                "join_timestamp": now,
                "flags": 1,
            },
        }
        self.channels[thread_id] = thread
        if self._session is not None:
            await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return thread

    async def _join_thread(self, req: RecordedRequest, channel_id: str) -> Any:
        if self._channel(channel_id)["type"] not in (10, 11, 12):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        return NO_CONTENT


# --------------------------------------------------------------------------- helpers


async def _read_body(request: web.Request) -> tuple[Any, list[str]]:
    """JSON body (or multipart ``payload_json`` + file names); None when empty/unparseable."""
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        payload = form.get("payload_json")
        body = json.loads(payload) if isinstance(payload, str | bytes | bytearray) else {}
        files = [f.filename for f in form.values() if isinstance(f, web.FileField)]
        body["_files"] = files
        body["_attachments"] = [
            {
                "id": str(i),
                "filename": name,
                "size": 0,
                "url": f"https://cdn.invalid/{name}",
                "proxy_url": f"https://cdn.invalid/{name}",
            }
            for i, name in enumerate(files)
        ]
        return body, files
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        return raw.decode("utf-8", "replace"), []


def _walk_components(components: list[Json]) -> Iterator[Json]:
    for comp in components:
        yield comp
        for key in ("components", "accessory", "component"):
            child = comp.get(key)
            if isinstance(child, list):
                yield from _walk_components(child)
            elif isinstance(child, dict):
                yield from _walk_components([child])


@contextlib.contextmanager
def discord_py_pointed_at(server: DiscordTestServer) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at ``server``; restore on exit."""
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = server.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


class _ErrorCollector(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(self.format(record))


@contextlib.contextmanager
def capture_discord_errors(server: DiscordTestServer) -> Iterator[None]:
    """Collect ERROR logs of the ``discord`` logger into ``server.client_errors``.

    discord.py logs -- rather than raises -- exceptions in commands, views and event
    handlers ("Ignoring exception in command ..."); this makes them fail ``assert_clean()``.
    """
    handler = _ErrorCollector(server.client_errors)
    logger = logging.getLogger("discord")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@contextlib.asynccontextmanager
async def running_bot(
    bot: ClientT, server: DiscordTestServer, *, ready_timeout: float = 10.0
) -> AsyncIterator[ClientT]:
    """Run ``bot`` against ``server`` (already pointed at) until it is ready; close it on exit.

    Construct the bot with a small ``guild_ready_timeout`` (e.g. 0.05): discord.py waits
    that long after the last GUILD_CREATE before firing ``on_ready`` (default 2 s).
    """
    async with bot:  # runs discord.py's async setup so wait_until_ready() is usable
        task = asyncio.create_task(bot.start(server.config.token), name="discord-bot")
        crash: BaseException | None = None
        try:
            await _wait_until_ready(bot, task, ready_timeout)
            yield bot
        finally:
            await bot.close()
            await asyncio.wait({task}, timeout=5.0)
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                crash = task.exception()
        if crash is not None:  # only reached when the test body itself succeeded
            raise crash


async def _wait_until_ready(bot: discord.Client, task: asyncio.Task[None], timeout: float) -> None:
    ready = asyncio.create_task(bot.wait_until_ready())
    done, _ = await asyncio.wait({task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if ready in done:
        return
    ready.cancel()
    if task in done:
        raise AssertionError("bot stopped before becoming ready") from task.exception()
    raise AssertionError(f"bot not ready within {timeout}s")
